package serde_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// Fuzz targets of the JSON Schema codec and of the ESM schema metadata
// every registry codec reads (added by the reliability suite, issue 7).
// Run one with, for example:
//
//	go test -run '^$' -fuzz '^FuzzJSONSchemaDeserialize$' -fuzztime 30s ./serde

type fuzzJSONOrder struct {
	ID    string   `json:"id"`
	Qty   int64    `json:"qty"`
	Tags  []string `json:"tags,omitempty"`
	Price *float64 `json:"price,omitempty"`
}

type fuzzAvroOrder struct {
	ID    string   `avro:"id"`
	Qty   int64    `avro:"qty"`
	Tags  []string `avro:"tags"`
	Price *float64 `avro:"price"`
}

const fuzzJSONOrderSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Order",
  "type": "object",
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "qty": {"type": "integer", "minimum": 0},
    "tags": {"type": "array", "items": {"type": "string"}},
    "price": {"type": "number"}
  },
  "required": ["id", "qty"]
}`

// checkSerdeError fails t unless err is nil or a *serde.Error, the error
// contract of every codec.
func checkSerdeError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var se *serde.Error
	if !errors.As(err, &se) {
		t.Fatalf("%T is not a *serde.Error: %v", err, err)
	}
}

// FuzzJSONSchemaDeserialize feeds arbitrary bodies to the JSON Schema
// deserializer in the three framings (Confluent wire format, ESM SOURCE
// metadata, plain JSON) against a real in-process registry: no input may
// panic, every failure is a *serde.Error, and what is accepted with a
// schema id validates against that schema (a required, non-empty id). (In
// ESM JSON mode without a schema id nothing is validated: serde validates
// with the schema an id names, see its package documentation.)
func FuzzJSONSchemaDeserialize(f *testing.F) {
	fake := srfake.New()
	f.Cleanup(fake.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	f.Cleanup(cancel)
	codec, err := serde.JSONSchema[fuzzJSONOrder](serde.Confluent(srclient.NewSchemaRegistryClient(fake.URL())), serde.WithSchema(fuzzJSONOrderSchema))
	if err != nil {
		f.Fatal(err)
	}
	price := 9.5
	wire, err := codec.Serialize(ctx, serde.Target{Topic: "orders"}, fuzzJSONOrder{ID: "o-1", Qty: 3, Tags: []string{"a"}, Price: &price})
	if err != nil {
		f.Fatal(err)
	}
	meta := &serde.SchemaMeta{DataFormat: "JSON", SchemaID: idOf(wire)}
	f.Add(wire[5:])
	f.Add([]byte(`{"id":"x","qty":1}`))
	f.Add([]byte(`{"id":"","qty":-1,"tags":[1]}`))
	f.Add([]byte(`{"id":"x","qty":1e400}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(" \t{\"id\":\"\\ud800\",\"qty\":0}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		framed := append(append([]byte(nil), wire[:5]...), body...)
		for i, m := range []serde.Message{
			{Topic: "orders", Data: framed},
			{Topic: "orders", Data: body, Schema: meta},
			{Topic: "orders", Data: body, Schema: &serde.SchemaMeta{DataFormat: "JSON"}},
			{Topic: "orders", Data: body},
		} {
			got, err := codec.Deserialize(ctx, m)
			checkSerdeError(t, err)
			if validated := i < 2; validated && err == nil && got.ID == "" {
				t.Fatalf("framing %d accepted %q with an empty id, which the schema forbids", i, body)
			}
		}
	})
}

// FuzzSchemaMetadata feeds arbitrary ESM schema metadata (the format and
// id an event's keySchemaMetadata or valueSchemaMetadata carries, which a
// function does not control) with arbitrary data to the Avro, Protobuf and
// JSON Schema deserializers, over a registry holding one schema of each
// (and the ids of other schemas): no input may panic, and every failure is a *serde.Error.
func FuzzSchemaMetadata(f *testing.F) {
	fake := srfake.New()
	f.Cleanup(fake.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	f.Cleanup(cancel)
	reg := serde.Confluent(srclient.NewSchemaRegistryClient(fake.URL()))
	js, err := serde.JSONSchema[fuzzJSONOrder](reg, serde.WithSchema(fuzzJSONOrderSchema))
	if err != nil {
		f.Fatal(err)
	}
	av, err := serde.Avro[fuzzAvroOrder](reg, serde.WithSchema(`{"type":"record","name":"Order","fields":[
		{"name":"id","type":"string"},{"name":"qty","type":"long"},
		{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
		{"name":"price","type":["null","double"],"default":null}]}`))
	if err != nil {
		f.Fatal(err)
	}
	pb, err := serde.Protobuf[*testpb.Trade](reg)
	if err != nil {
		f.Fatal(err)
	}
	pbWire, err := pb.Serialize(ctx, serde.Target{Topic: "p"}, &testpb.Trade{TradeId: "t"})
	if err != nil {
		f.Fatal(err)
	}
	jsWire, err := js.Serialize(ctx, serde.Target{Topic: "j"}, fuzzJSONOrder{ID: "a"})
	if err != nil {
		f.Fatal(err)
	}
	avWire, err := av.Serialize(ctx, serde.Target{Topic: "a"}, fuzzAvroOrder{ID: "a", Qty: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("AVRO", idOf(avWire), avWire[5:])
	f.Add("JSON", idOf(jsWire), jsWire[5:])
	f.Add("PROTOBUF", idOf(pbWire), pbWire[5:])
	f.Add("PROTOBUF", idOf(pbWire), []byte(`{"tradeId":"t"}`))
	f.Add("AVRO", idOf(avWire), []byte(`{"id":"a","qty":1,"tags":[],"price":{"double":1.5}}`))
	f.Add("AVRO", "-1", []byte{})
	f.Add("JSON", "00000000-0000-0000-0000-000000000000", []byte(`{}`))
	f.Add("avro", "4294967296", []byte{2, 'a'})
	f.Add("", " 1", []byte("\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, format, id string, data []byte) {
		meta := &serde.SchemaMeta{DataFormat: format, SchemaID: id}
		for _, m := range []serde.Message{
			{Topic: "m", Data: data, Schema: meta},
			{Topic: "m", Data: data, Schema: meta, IsKey: true},
		} {
			_, err := js.Deserialize(ctx, m)
			checkSerdeError(t, err)
			_, err = av.Deserialize(ctx, m)
			checkSerdeError(t, err)
			_, err = pb.Deserialize(ctx, m)
			checkSerdeError(t, err)
		}
	})
}
