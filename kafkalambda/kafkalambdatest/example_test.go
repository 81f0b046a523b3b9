package kafkalambdatest_test

import (
	"context"
	"fmt"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

type order struct {
	ID  string `json:"id"`
	Qty int    `json:"qty"`
}

// Build the event a handler is invoked with: keys as strings, values as
// plain JSON, one header, a tombstone, and a record with a null key.
func ExampleNewEvent() {
	ctx := context.Background()
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.JSON[order]()).
		Add("orders", 0,
			kafkalambdatest.Record[string, order]{
				Key: "o-1", Value: order{ID: "o-1", Qty: 3},
				Headers: []kafkalambda.Header{{Key: "trace", Value: []byte{0xff, 'a'}}},
			},
			kafkalambdatest.Record[string, order]{Key: "o-1", Tombstone: true},
		).
		Add("orders", 1, kafkalambdatest.Record[string, order]{NullKey: true, Value: order{ID: "o-2"}}).
		Payload(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(payload))

	// The payload parses back with the SDK's own parser.
	ev, err := kafkalambda.ParseEvent(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := ev.Partitions[0].Records[0]
	fmt.Printf("%s@%d key=%q value=%s header=%v tombstone=%v\n", ev.Partitions[0].Key, r.Offset, r.Key, r.Value,
		r.Headers[0].Value, ev.Partitions[0].Records[1].IsTombstone())
	// Output:
	// {"eventSource":"SelfManagedKafka","bootstrapServers":"localhost:9092","records":{"orders-0":[{"topic":"orders","partition":0,"offset":0,"timestamp":1700000000000,"timestampType":"CREATE_TIME","key":"by0x","value":"eyJpZCI6Im8tMSIsInF0eSI6M30=","headers":[{"trace":[-1,97]}]},{"topic":"orders","partition":0,"offset":1,"timestamp":1700000000001,"timestampType":"CREATE_TIME","key":"by0x","headers":[]}],"orders-1":[{"topic":"orders","partition":1,"offset":0,"timestamp":1700000000002,"timestampType":"CREATE_TIME","value":"eyJpZCI6Im8tMiIsInF0eSI6MH0=","headers":[]}]}}
	// orders-0@0 key="o-1" value={"id":"o-1","qty":3} header=[255 97] tombstone=true
}
