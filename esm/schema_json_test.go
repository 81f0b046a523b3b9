package esm_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

const orderAvro = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"string"},
 {"name":"qty","type":"int"},
 {"name":"px","type":"double"},
 {"name":"note","type":["null","string"]},
 {"name":"raw","type":"bytes"},
 {"name":"side","type":{"type":"enum","name":"Side","symbols":["BUY","SELL"]}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"tags","type":{"type":"array","items":"string"}}
]}`

type avroOrder struct {
	ID    string           `avro:"id"`
	Qty   int32            `avro:"qty"`
	Px    float64          `avro:"px"`
	Note  *string          `avro:"note"`
	Raw   []byte           `avro:"raw"`
	Side  string           `avro:"side"`
	Attrs map[string]int64 `avro:"attrs"`
	Tags  []string         `avro:"tags"`
}

const orderJSONSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",
 "properties":{"id":{"type":"string"},"qty":{"type":"integer"}},"required":["id","qty"]}`

type jsonOrder struct {
	ID  string `json:"id"`
	Qty int    `json:"qty"`
}

// schemaCase is one format's codec and values for the round trip.
type schemaCase struct {
	format  string
	good    any
	codec   func(r serde.Registry, f serde.EventRecordFormat) (serde.Codec[any], error) // f Auto: the writer, registering its schema
	corrupt func(wire []byte, at int) []byte                                            // the good record's wire bytes, body (from at) broken
	equal   func(a, b any) bool
}

// anyCodec erases a codec's type for the table.
type anyCodec[T any] struct{ c serde.Codec[T] }

func (a anyCodec[T]) Deserialize(ctx context.Context, m serde.Message) (any, error) {
	return a.c.Deserialize(ctx, m)
}
func (a anyCodec[T]) Serialize(ctx context.Context, t serde.Target, v any) ([]byte, error) {
	return a.c.Serialize(ctx, t, v.(T))
}

func codecOf[T any](c serde.Codec[T], err error) (serde.Codec[any], error) {
	if err != nil {
		return nil, err
	}
	return anyCodec[T]{c}, nil
}

func schemaCases() []schemaCase {
	note := "rush \"<&>\""
	fd := &descriptorpb.FileDescriptorProto{Name: proto.String("a/b.proto"), Package: proto.String("shop"),
		Dependency:  []string{"c.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M"), Field: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("f"), Number: proto.Int32(3), JsonName: proto.String("f")}}}},
		Options:     &descriptorpb.FileOptions{GoPackage: proto.String("x/y"), JavaMultipleFiles: proto.Bool(true)},
	}
	return []schemaCase{{
		format: "AVRO",
		good:   avroOrder{"o-1", -3, 10.25, &note, []byte{0, 0xff, '"'}, "SELL", map[string]int64{"lot": 7}, []string{"a", "b"}},
		codec: func(r serde.Registry, f serde.EventRecordFormat) (serde.Codec[any], error) {
			return codecOf(serde.Avro[avroOrder](r, serde.WithSchema(orderAvro), serde.WithEventRecordFormat(f), serde.WithAutoRegister(f == serde.EventRecordFormatAuto)))
		},
		corrupt: func(w []byte, _ int) []byte { return w[:len(w)-2] }, // truncated
		equal:   reflect.DeepEqual,
	}, {
		format: "PROTOBUF",
		good:   fd,
		codec: func(r serde.Registry, f serde.EventRecordFormat) (serde.Codec[any], error) {
			return codecOf(serde.Protobuf[*descriptorpb.FileDescriptorProto](r, serde.WithEventRecordFormat(f), serde.WithAutoRegister(f == serde.EventRecordFormatAuto)))
		},
		corrupt: func(w []byte, at int) []byte {
			if at == 5 { // Confluent's indexes [1]: 02 02; AWS Glue's index: one byte
				at++
			}
			return append(w[:at+1:at+1], 0x0a, 0x40, 'x') // after the message index(es), a length past the end
		},
		equal: func(a, b any) bool { return proto.Equal(a.(proto.Message), b.(proto.Message)) },
	}, {
		format: "JSON",
		good:   jsonOrder{"o-1", 3},
		codec: func(r serde.Registry, f serde.EventRecordFormat) (serde.Codec[any], error) {
			return codecOf(serde.JSONSchema[jsonOrder](r, serde.WithSchema(orderJSONSchema), serde.WithEventRecordFormat(f), serde.WithAutoRegister(f == serde.EventRecordFormatAuto)))
		},
		corrupt: func(w []byte, at int) []byte { return append(w[:at:at], `{"id":"o-1","qty":"3"}`...) }, // JSON, but qty is no integer
		equal:   reflect.DeepEqual,
	}}
}

// The registry integration decodes every value with its writer schema, in
// both event record formats, for each of Avro, Protobuf and JSON Schema: a
// value written by serde's registry serializer is delivered (in JSON mode
// as the JSON of the decoded value, base64 in the event, in SOURCE mode as
// the body) with its schema metadata, and a kafkalambda handler reading
// with the same serde codec in that mode gets exactly the value written.
// The same value with its body broken never reaches the function: it is
// DESERIALIZATION_ERROR on the on-failure topic, never invoked.
func TestSchemaRegistryDecodes(t *testing.T) {
	t.Parallel()
	for _, tc := range schemaCases() {
		for _, mode := range []serde.EventRecordFormat{serde.EventRecordFormatJSON, serde.EventRecordFormatSource} {
			t.Run(fmt.Sprintf("%s %s", tc.format, mode), func(t *testing.T) {
				t.Parallel()
				testSchemaDecode(t, tc, mode, false)
			})
		}
	}
}

// The same with an AWS Glue registry: Glue's header and, for Protobuf, its
// single message index (a place among the schema's messages sorted by full
// name) are read; the metadata names the schema version UUID.
func TestSchemaRegistryGlueDecodes(t *testing.T) {
	t.Parallel()
	for _, tc := range schemaCases() {
		for _, mode := range []serde.EventRecordFormat{serde.EventRecordFormatJSON, serde.EventRecordFormatSource} {
			t.Run(fmt.Sprintf("%s %s", tc.format, mode), func(t *testing.T) {
				t.Parallel()
				testSchemaDecode(t, tc, mode, true)
			})
		}
	}
}

func testSchemaDecode(t *testing.T, tc schemaCase, mode serde.EventRecordFormat, glue bool) {
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 1), kafkalambdatest.WithTopic("dlq", 1))
	reg, mapped, at := c.RegistryClient(), esm.SchemaRegistry{URL: c.RegistryURL(), Format: mode}, 5
	if glue {
		_, client := newGlue(t)
		reg, mapped, at = serde.Glue(client, "orders-registry"), esm.SchemaRegistry{Glue: client, GlueRegistry: "orders-registry", Format: mode}, 18
	}
	writer, err := tc.codec(reg, serde.EventRecordFormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := writer.Serialize(ctx, serde.Target{Topic: "orders"}, tc.good)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ProduceRecords(ctx, &kgo.Record{Topic: "orders", Key: []byte("k"), Value: wire},
		&kgo.Record{Topic: "orders", Key: []byte("k"), Value: tc.corrupt(append([]byte(nil), wire...), at)}); err != nil {
		t.Fatal(err)
	}
	reader, err := tc.codec(reg, mode)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []any
	h, err := kafkalambda.NewHandler(serde.String(), serde.Deserializer[any](reader), func(_ context.Context, r *kafkalambda.Record[string, any]) error {
		mu.Lock()
		got = append(got, r.Value)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fn := &payloads{next: h}
	r := start(t, c, esm.Config{Topics: []string{"orders"}}, &esm.HandlerTarget{Handler: fn}, esm.WithOnFailureTopic("dlq"),
		esm.WithSchemaRegistry(mapped))
	r.await(t, time.Minute, "2 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 2 })

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !tc.equal(got[0], tc.good) {
		t.Fatalf("the function read %+v, want only %+v", got, tc.good)
	}
	delivered := fn.records()
	if len(delivered) != 1 {
		t.Fatalf("%d records delivered, want 1", len(delivered))
	}
	d := delivered[0]
	id := fmt.Sprint(int(wire[1])<<24 | int(wire[2])<<16 | int(wire[3])<<8 | int(wire[4]))
	if glue {
		id = hex.EncodeToString(wire[2:18])
	}
	if d.ValueSchema == nil || d.ValueSchema.DataFormat != tc.format || strings.ReplaceAll(d.ValueSchema.SchemaID, "-", "") != id {
		t.Fatalf("metadata %+v", d.ValueSchema)
	}
	switch {
	case mode == serde.EventRecordFormatSource && !bytes.Equal(d.Value, wire[at:]):
		t.Fatalf("SOURCE value % x, want the body % x", d.Value, wire[at:])
	case mode == serde.EventRecordFormatJSON && (!json.Valid(d.Value) || d.Value[0] != '{'):
		t.Fatalf("JSON value %q is not a JSON object", d.Value)
	}
	_, frs := readFailures(t, c, "dlq")
	if len(frs) != 1 || frs[0].RequestContext.Condition != esm.ConditionDeserializationError ||
		frs[0].KafkaBatchInfo.RecordInfo.Offset != "1" || frs[0].RequestContext.ApproximateInvokeCount != 0 {
		t.Fatalf("on-failure records %+v, want offset 1 as DESERIALIZATION_ERROR, never invoked", frs)
	}
	if st := r.m.Stats(); st.SchemaDecodeErrors != 1 || st.RecordsOnFailure != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A Protobuf schema whose import is a registry reference: the mapping
// fetches the referenced file by subject and version and decodes with
// both (JSON mode names the imported message's fields too). Avro schema
// references are not supported: such a schema's records are
// DESERIALIZATION_ERROR, never delivered undecoded.
func TestSchemaRegistryProtobufReferences(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 1), kafkalambdatest.WithTopic("dlq", 1))
	cl, err := sr.NewClient(sr.URLs(c.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	common, err := cl.CreateSchema(ctx, "shop/common.proto", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3";
package shop.common;
message Money { string currency = 1; int64 units = 2; }
`})
	if err != nil {
		t.Fatal(err)
	}
	const orderText = `syntax = "proto3";
package shop;
import "shop/common.proto";
message Order { string order_id = 1; shop.common.Money total = 5; }
`
	order, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Type: sr.TypeProtobuf, Schema: orderText,
		References: []sr.SchemaReference{{Name: "shop/common.proto", Subject: "shop/common.proto", Version: common.Version}}})
	if err != nil {
		t.Fatal(err)
	}
	money, err := cl.CreateSchema(ctx, "money", sr.Schema{Type: sr.TypeAvro,
		Schema: `{"type":"record","name":"Money","namespace":"shop","fields":[{"name":"units","type":"long"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	avroRefs, err := cl.CreateSchema(ctx, "pay-value", sr.Schema{Type: sr.TypeAvro,
		Schema:     `{"type":"record","name":"Pay","namespace":"shop","fields":[{"name":"m","type":"shop.Money"}]}`,
		References: []sr.SchemaReference{{Name: "shop.Money", Subject: "money", Version: money.Version}}})
	if err != nil {
		t.Fatal(err)
	}
	// order_id "o-1", total {currency "EUR"}, after the indexes [0].
	msg := []byte{0, 0x0a, 3, 'o', '-', '1', 0x2a, 5, 0x0a, 3, 'E', 'U', 'R'}
	frame := func(id int) []byte {
		return append([]byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}, msg...)
	}
	if err := c.ProduceRecords(ctx, &kgo.Record{Topic: "orders", Value: frame(order.ID)}, &kgo.Record{Topic: "orders", Value: append([]byte{0, 0, 0, 0, byte(avroRefs.ID)}, 2)}); err != nil {
		t.Fatal(err)
	}
	fn := &recorder{}
	r := start(t, c, esm.Config{Topics: []string{"orders"}}, &esm.HandlerTarget{Handler: fn}, esm.WithOnFailureTopic("dlq"),
		esm.WithSchemaRegistry(esm.SchemaRegistry{URL: c.RegistryURL(), Format: serde.EventRecordFormatJSON}))
	r.await(t, time.Minute, "2 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 2 })
	var recs []kafkalambda.RawRecord
	for _, ev := range fn.invocations() {
		recs = append(recs, ev.Partitions[0].Records...)
	}
	var got, want any
	if err := json.Unmarshal([]byte(`{"orderId":"o-1","total":{"currency":"EUR"}}`), &want); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || json.Unmarshal(recs[0].Value, &got) != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("delivered %d records, the first %q; want only %v", len(recs), recs[0].Value, want)
	}
	_, frs := readFailures(t, c, "dlq")
	if len(frs) != 1 || frs[0].RequestContext.Condition != esm.ConditionDeserializationError || frs[0].KafkaBatchInfo.RecordInfo.Offset != "1" {
		t.Fatalf("on-failure records %+v, want offset 1 as DESERIALIZATION_ERROR", frs)
	}
}

// With Key (and not Value), JSON mode decodes the key only: the key is
// delivered as JSON with keySchemaMetadata, the value as it was written,
// and a kafkalambda handler reads the key back with serde in JSON mode.
func TestSchemaRegistryJSONKey(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("ticks", 1))
	keys, err := serde.Avro[tick](c.RegistryClient(), serde.WithSchema(tickSchema))
	if err != nil {
		t.Fatal(err)
	}
	if err := kafkalambdatest.ProduceTo(ctx, c, "ticks", 0, keys, serde.String(),
		kafkalambdatest.Record[tick, string]{Key: tick{"ACME", 10}, Value: "v"}); err != nil {
		t.Fatal(err)
	}
	reader, err := serde.Avro[tick](c.RegistryClient(), serde.WithSchema(tickSchema), serde.WithEventRecordFormat(serde.EventRecordFormatJSON))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []kafkalambda.Record[tick, string]
	h, err := kafkalambda.NewHandler(reader, serde.String(), func(_ context.Context, r *kafkalambda.Record[tick, string]) error {
		mu.Lock()
		got = append(got, *r)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fn := &payloads{next: h}
	r := start(t, c, esm.Config{Topics: []string{"ticks"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithSchemaRegistry(esm.SchemaRegistry{URL: c.RegistryURL(), Format: serde.EventRecordFormatJSON, Key: true}))
	r.await(t, time.Minute, "1 record handled", func() bool { return r.m.Stats().RecordsCommitted >= 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Key != (tick{"ACME", 10}) || got[0].Value != "v" {
		t.Fatalf("the function read %+v", got)
	}
	d := fn.records()[0]
	if string(d.Key) != `{"symbol":"ACME","price":10}` || d.KeySchema == nil || d.KeySchema.DataFormat != "AVRO" ||
		d.ValueSchema != nil || string(d.Value) != "v" {
		t.Fatalf("delivered key %q (%+v), value %q (%+v)", d.Key, d.KeySchema, d.Value, d.ValueSchema)
	}
}
