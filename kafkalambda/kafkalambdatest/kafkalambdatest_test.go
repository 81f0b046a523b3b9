package kafkalambdatest_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

type trade struct {
	Symbol string `avro:"symbol"`
	Qty    int32  `avro:"qty"`
}

const tradeSchema = `{"type":"record","name":"Trade","namespace":"test","fields":[
  {"name":"symbol","type":"string"},{"name":"qty","type":"int"}]}`

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The event round-trips through kafkalambda.ParseEvent: offsets, timestamps,
// null versus empty, headers, sources.
func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	ts := time.UnixMilli(1_600_000_000_123).UTC()
	ev, err := kafkalambdatest.NewEvent(serde.Bytes(), serde.Bytes(),
		kafkalambdatest.MSK("arn:aws:kafka:us-east-1:123456789012:cluster/c/1"),
		kafkalambdatest.BootstrapServers("b-1:9098", "b-2:9098")).
		AddAt("b", 3, 40,
			kafkalambdatest.Record[[]byte, []byte]{Key: []byte{}, Value: []byte{}, Timestamp: ts},
			kafkalambdatest.Record[[]byte, []byte]{NullKey: true, Tombstone: true,
				Headers: []kafkalambda.Header{{Key: "n", Value: nil}, {Key: "n", Value: []byte{1}}}}).
		Add("a", 0, kafkalambdatest.Record[[]byte, []byte]{Key: []byte("k"), Value: []byte("v")}).
		Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := kafkalambda.ParseEvent(payload)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != kafkalambda.SourceMSK || got.SourceARN == "" || !reflect.DeepEqual(got.BootstrapServers, []string{"b-1:9098", "b-2:9098"}) {
		t.Fatalf("envelope: %+v", got)
	}
	if len(got.Partitions) != 2 || got.Partitions[0].Key != "a-0" || got.Partitions[1].Key != "b-3" {
		t.Fatalf("partitions not sorted: %+v", got.Partitions)
	}
	b := got.Partitions[1].Records
	if b[0].Offset != 40 || b[1].Offset != 41 || !b[0].Timestamp.Equal(ts) {
		t.Fatalf("offsets/timestamp: %+v", b)
	}
	if b[0].Key == nil || len(b[0].Key) != 0 || b[0].Value == nil || b[1].Key != nil || !b[1].IsTombstone() {
		t.Fatalf("null vs empty lost: %+v", b)
	}
	if len(b[1].Headers) != 2 || b[1].Headers[0].Value != nil || !bytes.Equal(b[1].Headers[1].Value, []byte{1}) {
		t.Fatalf("headers: %+v", b[1].Headers)
	}
	if a := got.Partitions[0].Records[0]; a.Offset != 0 || !a.Timestamp.Equal(time.UnixMilli(kafkalambdatest.DefaultBaseTime+1)) {
		t.Fatalf("defaults: %+v", a)
	}
}

// SchemaMetadata strips the Confluent prefix a registry serializer wrote and
// moves the id into the metadata; serde reads it back in SOURCE mode.
func TestEventSchemaMetadata(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t)
	codec, err := serde.Avro[trade](c.RegistryClient(), serde.WithSchema(tradeSchema))
	if err != nil {
		t.Fatal(err)
	}
	want := trade{Symbol: "ACME", Qty: 7}
	full, err := codec.Serialize(ctx, serde.Target{Topic: "trades"}, want)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := kafkalambdatest.NewEvent(serde.String(), codec, kafkalambdatest.SchemaMetadata("", "AVRO")).
		Add("trades", 0, kafkalambdatest.Record[string, trade]{Key: "u1", Value: want}).
		Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Partitions[0].Records[0]
	if r.KeySchema != nil || r.ValueSchema == nil || r.ValueSchema.DataFormat != "AVRO" || r.ValueSchema.SchemaID == "" {
		t.Fatalf("metadata: key %+v value %+v", r.KeySchema, r.ValueSchema)
	}
	if !bytes.Equal(r.Value, full[5:]) {
		t.Fatalf("value not stripped: % x", r.Value)
	}
	got, err := codec.Deserialize(ctx, serde.Message{Topic: "trades", Data: r.Value, Schema: r.ValueSchema})
	if err != nil || got != want {
		t.Fatalf("SOURCE-mode read: %+v, %v", got, err)
	}

	// Plain bytes are not in the wire format: asking for metadata fails.
	_, err = kafkalambdatest.NewEvent(serde.String(), serde.String(), kafkalambdatest.SchemaMetadata("", "AVRO")).
		Add("trades", 0, kafkalambdatest.Record[string, string]{Value: "plain"}).
		Payload(ctx)
	if !errors.Is(err, kafkalambdatest.ErrInvalidOption) || !errors.Is(err, serde.ErrMagicByte) {
		t.Fatalf("want ErrInvalidOption and serde.ErrMagicByte (serde.ParseHeader's), got %v", err)
	}
}

func TestEventOffsetsMustIncrease(t *testing.T) {
	t.Parallel()
	_, err := kafkalambdatest.NewEvent(serde.String(), serde.String()).
		AddAt("t", 0, 5, kafkalambdatest.Record[string, string]{}).
		AddAt("t", 0, 5, kafkalambdatest.Record[string, string]{}).
		Payload(context.Background())
	if !errors.Is(err, kafkalambdatest.ErrInvalidOption) {
		t.Fatalf("want ErrInvalidOption, got %v", err)
	}
}

// Produce, ProduceTo and ReadTopic against the embedded broker: partitions by
// key or by hand, headers, null keys, tombstones.
func TestClusterProduceRead(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 3))
	if len(c.Brokers()) != 1 || c.BootstrapServers() == "" || c.RegistryURL() == "" {
		t.Fatalf("addresses: %v %q %q", c.Brokers(), c.BootstrapServers(), c.RegistryURL())
	}
	if err := c.CreateTopic(ctx, "in", 3); err != nil {
		t.Fatalf("re-creating an identical topic: %v", err)
	}
	recs := []kafkalambdatest.Record[string, string]{
		{Key: "a", Value: "1", Headers: []kafkalambda.Header{{Key: "h", Value: []byte("x")}}},
		{Key: "a", Value: "2"},
		{Key: "b", Tombstone: true},
	}
	if err := kafkalambdatest.Produce(ctx, c, "in", serde.String(), serde.String(), recs...); err != nil {
		t.Fatal(err)
	}
	if err := kafkalambdatest.ProduceTo(ctx, c, "in", 2, serde.String(), serde.String(),
		kafkalambdatest.Record[string, string]{NullKey: true, Value: "manual"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadTopic(ctx, "in")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("read %d records, want 4", len(got))
	}
	var aPart int32 = -1
	var manual *kgo.Record
	for _, r := range got {
		switch {
		case string(r.Key) == "a" && aPart == -1:
			aPart = r.Partition
			if string(r.Value) != "1" || len(r.Headers) != 1 || r.Headers[0].Key != "h" {
				t.Fatalf("first a: %+v", r)
			}
		case string(r.Key) == "a":
			if r.Partition != aPart || string(r.Value) != "2" {
				t.Fatalf("same key, other partition or order: %+v", r)
			}
		case string(r.Key) == "b":
			if r.Value != nil {
				t.Fatalf("tombstone has a value: %q", r.Value)
			}
		default:
			manual = r
		}
	}
	if manual == nil || manual.Key != nil || manual.Partition != 2 || string(manual.Value) != "manual" {
		t.Fatalf("manual record: %+v", manual)
	}
	if empty, err := c.ReadTopic(ctx, "never-written"); err != nil || len(empty) != 0 {
		t.Fatalf("empty topic: %v, %v", empty, err)
	}
}

// With SASL/PLAIN the helpers and ClientOptions authenticate; a client with
// a wrong password does not get in.
func TestClusterSASL(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithSASLPlain("app", "s3cret"))
	if err := kafkalambdatest.Produce(ctx, c, "secured", serde.String(), serde.String(),
		kafkalambdatest.Record[string, string]{Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadTopic(ctx, "secured")
	if err != nil || len(got) != 1 {
		t.Fatalf("read: %v, %v", got, err)
	}
	anon, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := anon.Ping(pctx); err == nil {
		t.Fatal("a client without SASL got in")
	}
}

// With TLS the helpers connect through the cluster's CA; a plaintext client
// does not get in.
func TestClusterTLS(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTLS(), kafkalambdatest.WithTopic("tls", 1))
	if err := kafkalambdatest.Produce(ctx, c, "tls", serde.String(), serde.String(),
		kafkalambdatest.Record[string, string]{Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadTopic(ctx, "tls"); err != nil || len(got) != 1 {
		t.Fatalf("read: %v, %v", got, err)
	}
	if !bytes.Contains(c.CACertPEM(), []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("CA PEM: %q", c.CACertPEM())
	}
	plain, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := plain.Ping(pctx); err == nil {
		t.Fatal("a plaintext client got in")
	}
}

func TestStartClusterOptions(t *testing.T) {
	t.Parallel()
	if _, err := kafkalambdatest.StartCluster(context.Background(), kafkalambdatest.WithBrokers(0)); !errors.Is(err, kafkalambdatest.ErrInvalidOption) {
		t.Fatalf("want ErrInvalidOption, got %v", err)
	}
	c, err := kafkalambdatest.StartCluster(context.Background(), kafkalambdatest.WithBrokers(2), kafkalambdatest.WithDefaultPartitions(4),
		kafkalambdatest.WithRegistryAuth("u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer c.Close() // twice is fine
	if len(c.Brokers()) != 2 {
		t.Fatalf("brokers: %v", c.Brokers())
	}
	ctx := testCtx(t)
	if err := kafkalambdatest.Produce(ctx, c, "auto", serde.String(), serde.String(), kafkalambdatest.Record[string, string]{Key: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegistryClient().Register(ctx, "s-value", serde.Schema{Type: "AVRO", Text: tradeSchema}); err != nil {
		t.Fatalf("registry with auth: %v", err)
	}
}
