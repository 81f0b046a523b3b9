package kafkalambdatest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

type purchase struct {
	ID    string `json:"id"`
	Cents int64  `json:"cents"`
}

// Dial reaches a broker that kafkalambdatest did not start, by its address
// alone (here a bare kfake cluster with SASL/PLAIN); Produce and the typed
// ReadTopic work through it as through a Cluster.
func TestDialAnyBroker(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "ops", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	cl, err := kafkalambdatest.Dial(strings.Join(kf.ListenAddrs(), ","), kgo.SASL(plain.Auth{User: "ops", Pass: "pw"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)

	orders := serde.JSON[purchase]()
	in := []kafkalambdatest.Record[string, purchase]{
		{Key: "o1", Value: purchase{"o1", 1250}, Headers: []kafkalambda.Header{{Key: "trace", Value: []byte("t1")}}},
		{Key: "o1", Value: purchase{"o1", 99}},
		{Key: "o2", Tombstone: true},
		{NullKey: true, Value: purchase{"o3", 7}},
	}
	if err := kafkalambdatest.ProduceTo(ctx, cl, "orders", 1, serde.String(), orders, in...); err != nil {
		t.Fatal(err)
	}
	got, err := kafkalambdatest.ReadTopic(ctx, cl, "orders", serde.String(), orders)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("read %d records, want 4", len(got))
	}
	for i, r := range got {
		if r.Topic != "orders" || r.Partition != 1 || r.Offset != int64(i) || r.TimestampType != kafkalambda.TimestampCreateTime {
			t.Errorf("record %d: %s-%d@%d %s", i, r.Topic, r.Partition, r.Offset, r.TimestampType)
		}
	}
	if got[0].Key != "o1" || got[0].Value != (purchase{"o1", 1250}) || string(must(got[0].Header("trace"))) != "t1" {
		t.Errorf("first record: %+v", got[0])
	}
	if got[1].Value.Cents != 99 {
		t.Errorf("second record: %+v", got[1])
	}
	if !got[2].IsTombstone() || got[2].Key != "o2" || got[2].Value != (purchase{}) {
		t.Errorf("tombstone: %+v", got[2])
	}
	if got[3].HasKey() || got[3].Value.ID != "o3" {
		t.Errorf("null key: %+v", got[3])
	}

	if _, err := kafkalambdatest.Dial(" , "); !errors.Is(err, kafkalambdatest.ErrInvalidOption) {
		t.Errorf("Dial with no servers = %v, want ErrInvalidOption", err)
	}
}

func must(b []byte, ok bool) []byte {
	if !ok {
		return nil
	}
	return b
}

// A record with raw bytes goes into a typed topic as it is; the typed
// ReadTopic names it when it does not decode.
func TestReadTopicPoison(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 1))
	orders := serde.JSON[purchase]()
	if err := kafkalambdatest.Produce(ctx, c, "orders", serde.String(), orders,
		kafkalambdatest.Record[string, purchase]{Key: "ok", Value: purchase{"ok", 1}},
		kafkalambdatest.Record[string, purchase]{Key: "bad", RawValue: []byte("{not json")},
	); err != nil {
		t.Fatal(err)
	}
	raw, err := c.ReadTopic(ctx, "orders")
	if err != nil || len(raw) != 2 || string(raw[1].Value) != "{not json" {
		t.Fatalf("raw read: %v, %v", raw, err)
	}
	_, err = kafkalambdatest.ReadTopic(ctx, c, "orders", serde.String(), orders)
	var re *kafkalambda.RecordError
	if !errors.As(err, &re) || !errors.Is(err, kafkalambda.ErrDeserialize) || re.Topic != "orders" || re.Offset != 1 || re.Stage != kafkalambda.StageValue {
		t.Fatalf("ReadTopic of a poison record = %v, want a RecordError at orders-0@1, value", err)
	}
	if _, err := kafkalambdatest.ReadTopic(ctx, c, "orders", serde.JSON[int](), orders); !errors.As(err, &re) || re.Offset != 0 || re.Stage != kafkalambda.StageKey {
		t.Fatalf("ReadTopic with the wrong key deserializer = %v, want a RecordError at offset 0, key", err)
	}

	both := kafkalambdatest.Record[string, purchase]{Key: "x", RawValue: []byte{1}, Tombstone: true}
	if err := kafkalambdatest.Produce(ctx, c, "orders", serde.String(), orders, both); !errors.Is(err, kafkalambdatest.ErrInvalidOption) {
		t.Errorf("RawValue with Tombstone = %v, want ErrInvalidOption", err)
	}
}

// A typed event carries a poison record with raw bytes: the handler meets
// exactly those bytes, and SchemaMetadata leaves them alone while it strips
// the prefix of the records around them.
func TestEventRawPoison(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t)
	values, err := serde.Avro[trade](c.RegistryClient(), serde.WithSchema(tradeSchema))
	if err != nil {
		t.Fatal(err)
	}
	poison := []byte{0x00, 0x00, 0x00} // too short for the Confluent header
	ev, err := kafkalambdatest.NewEvent(serde.String(), values, kafkalambdatest.SchemaMetadata("", "AVRO")).
		Add("trades", 0,
			kafkalambdatest.Record[string, trade]{Key: "a", Value: trade{"ACME", 1}},
			kafkalambdatest.Record[string, trade]{Key: "b", RawValue: poison},
			kafkalambdatest.Record[string, trade]{RawKey: []byte{0xff}, Value: trade{"ACME", 2}},
		).Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs := ev.Partitions[0].Records
	if recs[0].ValueSchema == nil || recs[1].ValueSchema != nil || string(recs[1].Value) != string(poison) || string(recs[2].Key) != "\xff" {
		t.Fatalf("records: %+v", recs)
	}

	h, err := kafkalambda.NewHandler(serde.String(), values, func(context.Context, *kafkalambda.Record[string, trade]) error { return nil },
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `{"partition":"trades-0","offset":1}`) {
		t.Errorf("answer %s, want the poison record trades-0 offset 1 reported", out)
	}
}
