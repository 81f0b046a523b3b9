package serde_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/jsonschema"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

type Payment struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
	Memo   string  `json:"memo,omitempty"`
}

const paymentSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Payment",
  "type": "object",
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "amount": {"type": "number", "minimum": 0},
    "memo": {"type": "string"}
  },
  "required": ["id", "amount"]
}`

func TestJSONSchemaInterop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	ours := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(paymentSchema)))
	sconf := jsonschema.NewSerializerConfig()
	sconf.EnableValidation = true
	ser := must[*jsonschema.Serializer](t)(jsonschema.NewSerializer(reg.confluent, serde.ValueSerde, sconf))
	de := must[*jsonschema.Deserializer](t)(jsonschema.NewDeserializer(reg.confluent, serde.ValueSerde, jsonschema.NewDeserializerConfig()))
	want := Payment{ID: "p-1", Amount: 12.5, Memo: "rent"}

	t.Run("ours to theirs", func(t *testing.T) {
		b, err := ours.Serialize(ctx, ourserde.Target{Topic: "payments"}, want)
		if err != nil {
			t.Fatal(err)
		}
		var got Payment
		if err := de.DeserializeInto("payments", b, &got); err != nil {
			t.Fatalf("Confluent cannot read our bytes: %v", err)
		}
		if got != want {
			t.Fatalf("Confluent read %+v, want %+v", got, want)
		}
	})
	t.Run("theirs to ours", func(t *testing.T) {
		in := want
		b, err := ser.Serialize("payments-c", &in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ours.Deserialize(ctx, ourserde.Message{Topic: "payments-c", Data: b})
		if err != nil {
			t.Fatalf("we cannot read Confluent's bytes (their reflected schema): %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("we read %+v, want %+v", got, want)
		}
	})
	t.Run("invalid value is not written", func(t *testing.T) {
		_, err := ours.Serialize(ctx, ourserde.Target{Topic: "payments"}, Payment{ID: "", Amount: -1})
		if !errors.Is(err, ourserde.ErrValidation) {
			t.Fatalf("got %v, want ErrValidation", err)
		}
	})
	t.Run("invalid value is not read", func(t *testing.T) {
		off := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client,
			ourserde.WithSchema(paymentSchema), ourserde.WithValidation(false)))
		b, err := off.Serialize(ctx, ourserde.Target{Topic: "payments"}, Payment{ID: "", Amount: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ours.Deserialize(ctx, ourserde.Message{Topic: "payments", Data: b}); !errors.Is(err, ourserde.ErrValidation) {
			t.Fatalf("got %v, want ErrValidation", err)
		}
	})
}
