package serde_test

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

// Order is T for the Avro tests; its schema is orderSchemaV2.
type Order struct {
	ID       string            `avro:"id"`
	Symbol   string            `avro:"symbol"`
	Quantity int64             `avro:"quantity"`
	Price    float64           `avro:"price"`
	Side     string            `avro:"side"`
	Tags     []string          `avro:"tags"`
	Note     *string           `avro:"note"`
	Attrs    map[string]string `avro:"attrs"`
	Venue    string            `avro:"venue"` // added in v2 with a default
}

const orderSchemaV2 = `{
  "type": "record", "name": "Order", "namespace": "com.example.trading",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "symbol", "type": "string"},
    {"name": "quantity", "type": "long"},
    {"name": "price", "type": "double"},
    {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "attrs", "type": {"type": "map", "values": "string"}},
    {"name": "venue", "type": "string", "default": "XNYS"}
  ]
}`

// orderSchemaV1 lacks venue (added later with a default) and has legacy_flag
// (removed later).
const orderSchemaV1 = `{
  "type": "record", "name": "Order", "namespace": "com.example.trading",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "symbol", "type": "string"},
    {"name": "quantity", "type": "int"},
    {"name": "price", "type": "double"},
    {"name": "legacy_flag", "type": "boolean"},
    {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "attrs", "type": {"type": "map", "values": "string"}}
  ]
}`

func sampleOrder() Order {
	note := "rush"
	return Order{ID: "o-1", Symbol: "ACME", Quantity: 300, Price: 10.25, Side: "SELL",
		Tags: []string{"a", "b"}, Note: &note, Attrs: map[string]string{"desk": "eq"}, Venue: "XLON"}
}

// orderSchemaParsed is parsed once, so that Confluent's serializer, which
// calls Schema() on every Serialize, is not charged for parsing.
var orderSchemaParsed = avro.MustParse(orderSchemaV2)

// Schema lets Confluent's avrov2 serializer register orderSchemaV2 for Order.
func (*Order) Schema() avro.Schema { return orderSchemaParsed }

// V1Order is a producer that still writes orderSchemaV1.
type V1Order struct {
	ID         string            `avro:"id"`
	Symbol     string            `avro:"symbol"`
	Quantity   int32             `avro:"quantity"`
	Price      float64           `avro:"price"`
	LegacyFlag bool              `avro:"legacy_flag"`
	Side       string            `avro:"side"`
	Tags       []string          `avro:"tags"`
	Note       *string           `avro:"note"`
	Attrs      map[string]string `avro:"attrs"`
}

func TestAvroSchemaEvolution(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	old := must[ourserde.Codec[V1Order]](t)(ourserde.Avro[V1Order](reg.client, ourserde.WithSchema(orderSchemaV1)))
	cur := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))

	b, err := old.Serialize(ctx, ourserde.Target{Topic: "evolve"}, V1Order{ID: "o-9", Symbol: "X", Quantity: 5,
		Price: 1.5, LegacyFlag: true, Side: "BUY", Tags: []string{}, Attrs: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cur.Deserialize(ctx, ourserde.Message{Topic: "evolve", Data: b})
	if err != nil {
		t.Fatalf("v2 reader cannot read v1 data: %v", err)
	}
	want := Order{ID: "o-9", Symbol: "X", Quantity: 5, Price: 1.5, Side: "BUY", Tags: []string{},
		Attrs: map[string]string{}, Venue: "XNYS"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v (venue from its default, legacy_flag skipped, int promoted to long)", got, want)
	}

	// An incompatible writer (a reader field without default missing from
	// the writer) is a typed error, not garbage.
	type Thin struct {
		ID string `avro:"id"`
	}
	thin := must[ourserde.Codec[Thin]](t)(ourserde.Avro[Thin](reg.client, ourserde.WithSchema(
		`{"type":"record","name":"Thin","fields":[{"name":"id","type":"string"}]}`)))
	b, err = thin.Serialize(ctx, ourserde.Target{Topic: "thin"}, Thin{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cur.Deserialize(ctx, ourserde.Message{Topic: "thin", Data: b}); !errors.Is(err, ourserde.ErrIncompatible) {
		t.Fatalf("got %v, want ErrIncompatible", err)
	}
}

// WithUseLatest writes with the latest registered schema, which only has to
// be writable from T: T's schema (the reader schema) matters for reading
// alone. Here T has a field x without default that the registered schema
// lacks; writing drops x (hamba writes the writer schema's fields), and only
// reading the bytes back as T fails, with ErrIncompatible.
func TestAvroUseLatestWritesWithoutResolving(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	const registered = `{"type":"record","name":"Item","fields":[{"name":"id","type":"string"}]}`
	const withX = `{"type":"record","name":"Item","fields":[{"name":"id","type":"string"},{"name":"x","type":"long"}]}`
	type ItemX struct {
		ID string `avro:"id"`
		X  int64  `avro:"x"`
	}
	type Item struct {
		ID string `avro:"id"`
	}
	id, _, err := reg.fake.RegisterSchema("ul-value", sr.Schema{Schema: registered})
	if err != nil {
		t.Fatal(err)
	}
	c := must[ourserde.Codec[ItemX]](t)(ourserde.Avro[ItemX](reg.client, ourserde.WithSchema(withX), ourserde.WithUseLatest()))
	b, err := c.Serialize(ctx, ourserde.Target{Topic: "ul"}, ItemX{ID: "i-1", X: 7})
	if err != nil {
		t.Fatalf("writing with the latest schema: %v", err)
	}
	if got := int(binary.BigEndian.Uint32(b[1:5])); b[0] != 0 || got != id {
		t.Fatalf("header % x: want magic 0 and schema id %d", b[:5], id)
	}
	var got Item
	if err := avro.Unmarshal(avro.MustParse(registered), b[5:], &got); err != nil || got != (Item{ID: "i-1"}) {
		t.Fatalf("the body read with the registered schema: %+v, %v", got, err)
	}
	if _, err := c.Deserialize(ctx, ourserde.Message{Topic: "ul", Data: b}); !errors.Is(err, ourserde.ErrIncompatible) {
		t.Fatalf("reading it back as T: got %v, want ErrIncompatible (x has no default)", err)
	}
}
