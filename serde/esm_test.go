package serde_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// idOf reads the schema id of full wire-format bytes.
func idOf(b []byte) string { return strconv.Itoa(int(binary.BigEndian.Uint32(b[1:5]))) }

// The three ways a value reaches a Lambda function, for each format.
func TestESMModes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)

	t.Run("avro", func(t *testing.T) {
		c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
		want := sampleOrder()
		wire := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "esm-avro"}, want))
		meta := &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: idOf(wire)}
		plainJSON := `{"id":"o-1","symbol":"ACME","quantity":300,"price":10.25,"side":"SELL","tags":["a","b"],
			"note":"rush","attrs":{"desk":"eq"},"venue":"XLON"}`
		avroJSON := `{"id":"o-1","symbol":"ACME","quantity":300,"price":10.25,"side":"SELL","tags":["a","b"],
			"note":{"string":"rush"},"attrs":{"desk":"eq"},"venue":"XLON"}`
		for _, tc := range []struct {
			name string
			m    ourserde.Message
		}{
			{"no integration: full wire format", ourserde.Message{Data: wire}},
			{"SOURCE: prefix stripped", ourserde.Message{Data: wire[5:], Schema: meta}},
			{"JSON: plain JSON", ourserde.Message{Data: []byte(plainJSON), Schema: meta}},
			{"JSON: Avro JSON encoding", ourserde.Message{Data: []byte(avroJSON), Schema: meta}},
			{"JSON: no schema id, T's schema", ourserde.Message{Data: []byte(plainJSON), Schema: &ourserde.SchemaMeta{DataFormat: "AVRO"}}},
		} {
			tc.m.Topic = "esm-avro"
			got, err := c.Deserialize(ctx, tc.m)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: got %+v, want %+v", tc.name, got, want)
			}
		}
	})

	t.Run("protobuf", func(t *testing.T) {
		c := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg.client))
		want := sampleTrade()
		wire := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "esm-pb"}, want))
		meta := &ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: idOf(wire)}
		js := must[[]byte](t)(protojson.Marshal(want))
		for _, tc := range []struct {
			name string
			m    ourserde.Message
		}{
			{"no integration: full wire format", ourserde.Message{Data: wire}},
			{"SOURCE: prefix stripped, indexes kept", ourserde.Message{Data: wire[5:], Schema: meta}},
			{"JSON: protojson", ourserde.Message{Data: js, Schema: meta}},
		} {
			got, err := c.Deserialize(ctx, tc.m)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("%s: got %v, want %v", tc.name, got, want)
			}
		}
		if wire[5] != 2 || wire[6] != 2 {
			t.Fatalf("Trade is the second message of its file: want indexes [1] (02 02), got % x", wire[5:7])
		}
	})

	t.Run("json schema", func(t *testing.T) {
		c := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(paymentSchema)))
		want := Payment{ID: "p-2", Amount: 3}
		wire := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "esm-js"}, want))
		for _, meta := range []*ourserde.SchemaMeta{nil, {DataFormat: "JSON", SchemaID: idOf(wire)}} {
			data := wire
			if meta != nil {
				data = wire[5:]
			}
			got, err := c.Deserialize(ctx, ourserde.Message{Data: data, Schema: meta})
			if err != nil || got != want {
				t.Fatalf("meta %v: got %+v, %v", meta, got, err)
			}
		}
	})

	t.Run("metadata errors", func(t *testing.T) {
		c := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg.client))
		for _, tc := range []struct {
			name string
			meta ourserde.SchemaMeta
			want error
		}{
			{"other format", ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: "1"}, ourserde.ErrFormatMismatch},
			// A Glue schema version id is a schema id, but not one a
			// Confluent registry has.
			{"glue schema id", ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: "b7b4a7f0-9c96-4e4a-a687-fb5de9ef0c63"}, ourserde.ErrFormatMismatch},
			{"neither", ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: "b7b4a7f0"}, ourserde.ErrSchemaID},
			{"no schema id", ourserde.SchemaMeta{DataFormat: "PROTOBUF"}, ourserde.ErrSchemaID},
		} {
			_, err := c.Deserialize(ctx, ourserde.Message{Topic: "t", Data: []byte{0, 10, 1, 'x'}, Schema: &tc.meta})
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
		}
	})
}

// The ESM's JSON for an Avro value with no schema anywhere falls back to
// encoding/json.
func TestAvroJSONModeWithoutSchema(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	type Plain struct {
		ID string `json:"id"`
	}
	c := must[ourserde.Codec[Plain]](t)(ourserde.Avro[Plain](reg.client))
	b, _ := json.Marshal(Plain{ID: "x"})
	got, err := c.Deserialize(testCtx(t), ourserde.Message{Data: b, Schema: &ourserde.SchemaMeta{DataFormat: "AVRO"}})
	if err != nil || got.ID != "x" {
		t.Fatalf("got %+v, %v", got, err)
	}
}
