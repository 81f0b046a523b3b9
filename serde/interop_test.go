//go:build cgo

package serde_test

// The interop tests run our codecs against Confluent's own Go serdes
// (confluent-kafka-go's schemaregistry/serde), which need cgo.

import (
	"errors"
	"reflect"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/jsonschema"
	cprotobuf "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/protobuf"
	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
	"google.golang.org/protobuf/proto"
)

// confluentClient returns Confluent's registry client for reg's registry.
func confluentClient(t testing.TB, reg *testRegistry) schemaregistry.Client {
	t.Helper()
	cc, err := schemaregistry.NewClient(schemaregistry.NewConfig(reg.fake.URL()))
	if err != nil {
		t.Fatalf("confluent client: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func TestAvroInterop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	ours := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
	ser := must[*avrov2.Serializer](t)(avrov2.NewSerializer(confluentClient(t, reg), serde.ValueSerde, avrov2.NewSerializerConfig()))
	de := must[*avrov2.Deserializer](t)(avrov2.NewDeserializer(confluentClient(t, reg), serde.ValueSerde, avrov2.NewDeserializerConfig()))
	want := sampleOrder()

	t.Run("ours to theirs", func(t *testing.T) {
		b, err := ours.Serialize(ctx, ourserde.Target{Topic: "orders"}, want)
		if err != nil {
			t.Fatal(err)
		}
		var got Order
		if err := de.DeserializeInto("orders", b, &got); err != nil {
			t.Fatalf("Confluent cannot read our bytes: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Confluent read %+v, want %+v", got, want)
		}
	})
	t.Run("theirs to ours", func(t *testing.T) {
		in := want
		b, err := ser.Serialize("orders-c", &in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ours.Deserialize(ctx, ourserde.Message{Topic: "orders-c", Data: b})
		if err != nil {
			t.Fatalf("we cannot read Confluent's bytes: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("we read %+v, want %+v", got, want)
		}
	})
}

func TestProtobufInterop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)

	cases := []struct {
		name  string
		topic string
		msg   proto.Message
		fresh func() proto.Message
		ours  func() (ourserde.Codec[proto.Message], error)
	}{
		{"first message in file", "envelopes", &testpb.Envelope{Id: "e-1", Payload: []byte{0, 1, 2}},
			func() proto.Message { return &testpb.Envelope{} },
			func() (ourserde.Codec[proto.Message], error) {
				return asAny(ourserde.Protobuf[*testpb.Envelope](reg.client))
			}},
		{"second message with imports", "trades", sampleTrade(),
			func() proto.Message { return &testpb.Trade{} },
			func() (ourserde.Codec[proto.Message], error) {
				return asAny(ourserde.Protobuf[*testpb.Trade](reg.client))
			}},
		{"nested message", "legs", &testpb.Trade_Leg{Venue: "XLON", Quantity: 7},
			func() proto.Message { return &testpb.Trade_Leg{} },
			func() (ourserde.Codec[proto.Message], error) {
				return asAny(ourserde.Protobuf[*testpb.Trade_Leg](reg.client))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ours := must[ourserde.Codec[proto.Message]](t)(tc.ours())
			ser := must[*cprotobuf.Serializer](t)(cprotobuf.NewSerializer(confluentClient(t, reg), serde.ValueSerde, cprotobuf.NewSerializerConfig()))
			de := must[*cprotobuf.Deserializer](t)(cprotobuf.NewDeserializer(confluentClient(t, reg), serde.ValueSerde, cprotobuf.NewDeserializerConfig()))

			// ours → theirs
			b, err := ours.Serialize(ctx, ourserde.Target{Topic: tc.topic}, tc.msg)
			if err != nil {
				t.Fatalf("our Serialize: %v", err)
			}
			got := tc.fresh()
			if err := de.DeserializeInto(tc.topic, b, got); err != nil {
				t.Fatalf("Confluent cannot read our bytes: %v", err)
			}
			if !proto.Equal(got, tc.msg) {
				t.Fatalf("Confluent read %v, want %v", got, tc.msg)
			}

			// theirs → ours
			b, err = ser.Serialize(tc.topic+"-c", tc.msg)
			if err != nil {
				t.Fatalf("Confluent Serialize: %v", err)
			}
			v, err := ours.Deserialize(ctx, ourserde.Message{Topic: tc.topic + "-c", Data: b})
			if err != nil {
				t.Fatalf("we cannot read Confluent's bytes: %v", err)
			}
			if !proto.Equal(v, tc.msg) {
				t.Fatalf("we read %v, want %v", v, tc.msg)
			}
		})
	}
}

func TestJSONSchemaInterop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	ours := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(paymentSchema)))
	sconf := jsonschema.NewSerializerConfig()
	sconf.EnableValidation = true
	ser := must[*jsonschema.Serializer](t)(jsonschema.NewSerializer(confluentClient(t, reg), serde.ValueSerde, sconf))
	de := must[*jsonschema.Deserializer](t)(jsonschema.NewDeserializer(confluentClient(t, reg), serde.ValueSerde, jsonschema.NewDeserializerConfig()))
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
