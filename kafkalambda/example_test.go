package kafkalambda_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

func ExampleParseEvent() {
	payload := []byte(`{
	  "eventSource": "aws:kafka",
	  "bootstrapServers": "b-1:9098,b-2:9098",
	  "records": {
	    "orders-1": [{"topic": "orders", "partition": 1, "offset": 8, "timestamp": 1700000000000,
	                  "timestampType": "CREATE_TIME", "key": "b3JkZXItOA==", "headers": [{"trace": [104, 105]}]}],
	    "orders-0": [{"topic": "orders", "partition": 0, "offset": 5, "timestamp": 1700000000000,
	                  "timestampType": "CREATE_TIME", "key": "b3JkZXItNQ==", "value": "eyJxdHkiOjJ9", "headers": []}]
	  }
	}`)
	ev, err := kafkalambda.ParseEvent(payload)
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.Source, ev.BootstrapServers)
	for _, p := range ev.Partitions {
		for _, r := range p.Records {
			fmt.Printf("%s %s@%d key=%s value=%s tombstone=%v headers=%d\n",
				p.Key, r.Topic, r.Offset, r.Key, r.Value, r.IsTombstone(), len(r.Headers))
		}
	}
	// Output:
	// aws:kafka [b-1:9098 b-2:9098]
	// orders-0 orders@5 key=order-5 value={"qty":2} tombstone=false headers=0
	// orders-1 orders@8 key=order-8 value= tombstone=true headers=1
}

func ExampleParseEvent_error() {
	_, err := kafkalambda.ParseEvent([]byte(`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":1,"key":"not base64!"}]}}`))
	var pe *kafkalambda.ParseError
	fmt.Println(errors.Is(err, kafkalambda.ErrMalformedEvent), errors.As(err, &pe), pe.Path)
	// Output:
	// true true records["t-0"][0].key
}

type order struct {
	Qty int `json:"qty"`
}

func ExampleNewHandler() {
	h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[order](),
		func(ctx context.Context, r *kafkalambda.Record[string, order]) error {
			if r.IsTombstone() {
				fmt.Printf("%s deleted\n", r.Key)
				return nil
			}
			fmt.Printf("%s: %d\n", r.Key, r.Value.Qty)
			return nil
		})
	if err != nil {
		panic(err)
	}
	ev := &kafkalambda.Event{Source: kafkalambda.SourceSelfManaged, Partitions: []kafkalambda.Partition{{
		Key: "orders-0", Topic: "orders",
		Records: []kafkalambda.RawRecord{
			{Topic: "orders", Offset: 1, Key: []byte("order-1"), Value: []byte(`{"qty":3}`)},
			{Topic: "orders", Offset: 2, Key: []byte("order-1")},
		},
	}}}
	out, err := h.Invoke(context.Background(), ev.AppendJSON(nil))
	fmt.Println(string(out), err)
	// Output:
	// order-1: 3
	// order-1 deleted
	// null <nil>
}

func ExampleReportItemFailures() {
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			if r.Value == "bad" {
				return errors.New("cannot settle")
			}
			return nil
		}, kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	if err != nil {
		panic(err)
	}
	ev := &kafkalambda.Event{Source: kafkalambda.SourceMSK, Partitions: []kafkalambda.Partition{
		{Key: "t-0", Topic: "t", Records: []kafkalambda.RawRecord{
			{Topic: "t", Offset: 10, Value: []byte("ok")},
			{Topic: "t", Offset: 11, Value: []byte("bad")},
			{Topic: "t", Offset: 12, Value: []byte("ok")},
		}},
		{Key: "t-1", Topic: "t", Partition: 1, Records: []kafkalambda.RawRecord{
			{Topic: "t", Partition: 1, Offset: 3, Value: []byte("ok")},
		}},
	}}
	out, _ := h.Invoke(context.Background(), ev.AppendJSON(nil))
	fmt.Println(string(out))
	// Output:
	// {"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":11}},{"itemIdentifier":{"partition":"t-0","offset":12}}]}
}
