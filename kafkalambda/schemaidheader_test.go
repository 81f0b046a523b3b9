package kafkalambda_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

type hdrOrder struct {
	ID   int64  `avro:"id"`
	Item string `avro:"item"`
}

const hdrOrderSchema = `{"type":"record","name":"HdrOrder","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"}]}`

// TestSchemaIDHeaderThroughHandler: a record whose value's schema id is in
// the __value_schema_id header (Confluent's header mode) is decoded by the
// handler, which sends it on through an Output whose serializer writes the
// id into a header too; the sent record is read back by a second handler.
func TestSchemaIDHeaderThroughHandler(t *testing.T) {
	ctx := context.Background()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	reg := serde.Confluent(srclient.NewSchemaRegistryClient(fake.URL()))
	plain, err := serde.Avro[hdrOrder](reg, serde.WithSchema(hdrOrderSchema))
	if err != nil {
		t.Fatal(err)
	}
	headerMode, err := serde.Avro[hdrOrder](reg, serde.WithSchema(hdrOrderSchema), serde.WithSchemaIDHeader())
	if err != nil {
		t.Fatal(err)
	}
	want := hdrOrder{ID: 7, Item: "tea"}
	prefixed, err := plain.Serialize(ctx, serde.Target{Topic: "orders"}, want)
	if err != nil {
		t.Fatal(err)
	}
	in := kafkalambdatest.Record[string, hdrOrder]{Key: "k", RawValue: prefixed[5:], Headers: []kafkalambda.Header{
		{Key: serde.ValueSchemaIDHeader, Value: prefixed[:5]}}}

	p := kafkalambdatest.NewMemProducer()
	out := kafkalambda.NewOutput("out", serde.String(), serde.Serializer[hdrOrder](headerMode))
	h, err := kafkalambda.NewHandler(serde.String(), serde.Deserializer[hdrOrder](plain),
		func(ctx context.Context, r *kafkalambda.Record[string, hdrOrder]) error {
			return out.Send(ctx, r.Key, r.Value, kafkalambda.Header{Key: "trace", Value: []byte("t1")})
		}, kafkalambda.WithProducer(p), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.Serializer[hdrOrder](plain)).Add("orders", 0, in).Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(ctx, payload); err != nil {
		t.Fatalf("invoke: %v", err)
	}
	sent := p.Messages("out")
	if len(sent) != 1 {
		t.Fatalf("%d records sent, want 1", len(sent))
	}
	m := sent[0]
	if len(m.Headers) != 2 || m.Headers[0].Key != "trace" || m.Headers[1].Key != serde.ValueSchemaIDHeader {
		t.Fatalf("headers %v, want the caller's then %s", m.Headers, serde.ValueSchemaIDHeader)
	}
	if id, guid, rest, err := serde.ParseSchemaIDHeader(m.Headers[1].Value); err != nil || id <= 0 || guid != "" || len(rest) != 0 {
		t.Fatalf("schema id header % x: id %d guid %q rest %d, %v", m.Headers[1].Value, id, guid, len(rest), err)
	}
	if !bytes.Equal(m.Value, prefixed[5:]) {
		t.Fatalf("sent value % x, want the bare body % x", m.Value, prefixed[5:])
	}

	// Read what was sent back through a handler.
	var got []hdrOrder
	back, err := kafkalambda.NewHandler(serde.String(), serde.Deserializer[hdrOrder](plain),
		func(_ context.Context, r *kafkalambda.Record[string, hdrOrder]) error {
			got = append(got, r.Value)
			return nil
		}, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	again := kafkalambdatest.Record[string, hdrOrder]{Key: "k", RawValue: m.Value, Headers: m.Headers}
	payload, err = kafkalambdatest.NewEvent(serde.String(), serde.Serializer[hdrOrder](plain)).Add("out", 0, again).Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := back.Invoke(ctx, payload); err != nil || !reflect.DeepEqual(got, []hdrOrder{want}) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}

	// A bad header fails its record with a typed error naming the header.
	bad := kafkalambdatest.Record[string, hdrOrder]{Key: "k", RawValue: prefixed[5:], Headers: []kafkalambda.Header{
		{Key: serde.ValueSchemaIDHeader, Value: []byte{9, 9}}}}
	payload, err = kafkalambdatest.NewEvent(serde.String(), serde.Serializer[hdrOrder](plain)).AddAt("orders", 3, 42, bad).Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = back.Invoke(ctx, payload)
	if !errors.Is(err, serde.ErrSchemaIDHeader) || !strings.Contains(err.Error(), serde.ValueSchemaIDHeader) || !strings.Contains(err.Error(), "42") {
		t.Fatalf("bad header: %v, want ErrSchemaIDHeader naming the header and offset 42", err)
	}
	t.Logf("bad header: %v", err)
}
