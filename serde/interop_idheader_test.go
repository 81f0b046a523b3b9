//go:build cgo

package serde_test

import (
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/jsonschema"
	cprotobuf "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/protobuf"
	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// headerBytes runs our header-mode serializer and returns the record as
// Confluent's Go serdes take it. The other direction (Confluent's header
// serializer) writes only GUIDs, which srfake does not serve; it is
// covered with bytes built from the documented format (idheader_test.go).
func headerBytes[T any](t *testing.T, c ourserde.Codec[T], topic string, v T) ([]kafka.Header, []byte) {
	t.Helper()
	hs, ok := c.(ourserde.HeaderSerializer[T])
	if !ok {
		t.Fatalf("%T is not a HeaderSerializer", c)
	}
	b, ours, err := hs.SerializeWithHeaders(testCtx(t), ourserde.Target{Topic: topic}, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(ours) != 1 || ours[0].Key != serde.ValueSchemaIDHeader {
		t.Fatalf("headers %v, want one %s", ours, serde.ValueSchemaIDHeader)
	}
	return []kafka.Header{{Key: ours[0].Key, Value: ours[0].Value}}, b
}

func TestSchemaIDHeaderInterop(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	t.Run("avro", func(t *testing.T) {
		ours := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2), ourserde.WithSchemaIDHeader()))
		de := must[*avrov2.Deserializer](t)(avrov2.NewDeserializer(confluentClient(t, reg), serde.ValueSerde, avrov2.NewDeserializerConfig()))
		want := sampleOrder()
		hs, b := headerBytes(t, ours, "orders", want)
		var got Order
		if err := de.DeserializeWithHeadersInto("orders", hs, b, &got); err != nil || got.ID != want.ID {
			t.Fatalf("Confluent read %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("protobuf nested message", func(t *testing.T) {
		ours := must[ourserde.Codec[*testpb.Trade_Leg]](t)(ourserde.Protobuf[*testpb.Trade_Leg](reg.client, ourserde.WithSchemaIDHeader()))
		de := must[*cprotobuf.Deserializer](t)(cprotobuf.NewDeserializer(confluentClient(t, reg), serde.ValueSerde, cprotobuf.NewDeserializerConfig()))
		want := &testpb.Trade_Leg{Venue: "XLON", Quantity: 7}
		hs, b := headerBytes(t, ours, "legs", want)
		got := &testpb.Trade_Leg{}
		if err := de.DeserializeWithHeadersInto("legs", hs, b, got); err != nil || !proto.Equal(got, want) {
			t.Fatalf("Confluent read %v, %v; want %v", got, err, want)
		}
	})
	t.Run("json schema", func(t *testing.T) {
		ours := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(paymentSchema), ourserde.WithSchemaIDHeader()))
		de := must[*jsonschema.Deserializer](t)(jsonschema.NewDeserializer(confluentClient(t, reg), serde.ValueSerde, jsonschema.NewDeserializerConfig()))
		want := Payment{ID: "p-1", Amount: 12.5, Memo: "rent"}
		hs, b := headerBytes(t, ours, "payments", want)
		var got Payment
		if err := de.DeserializeWithHeadersInto("payments", hs, b, &got); err != nil || got != want {
			t.Fatalf("Confluent read %+v, %v; want %+v", got, err, want)
		}
	})
}
