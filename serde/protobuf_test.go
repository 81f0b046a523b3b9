package serde_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	cprotobuf "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/protobuf"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

var fixedTime = time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)

func sampleTrade() *testpb.Trade {
	note := "first fill"
	return &testpb.Trade{
		TradeId:  "t-1",
		Symbol:   "ACME",
		Quantity: 100,
		Price:    12.5,
		Side:     testpb.Trade_SIDE_BUY,
		Attributes: map[string]string{
			"desk": "eq",
		},
		Legs:          []*testpb.Trade_Leg{{Venue: "XNYS", Quantity: 60}, {Venue: "ARCX", Quantity: 40}},
		ExecutedAt:    timestamppb.New(fixedTime),
		Note:          &note,
		Settlement:    &testpb.Trade_Account{Account: "ACC-9"},
		ClientOrderId: "c-77",
	}
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
			ser := must[*cprotobuf.Serializer](t)(cprotobuf.NewSerializer(reg.confluent, serde.ValueSerde, cprotobuf.NewSerializerConfig()))
			de := must[*cprotobuf.Deserializer](t)(cprotobuf.NewDeserializer(reg.confluent, serde.ValueSerde, cprotobuf.NewDeserializerConfig()))

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

// asAny adapts a typed Protobuf codec to Codec[proto.Message] for tables.
func asAny[T proto.Message](c ourserde.Codec[T], err error) (ourserde.Codec[proto.Message], error) {
	if err != nil {
		return nil, err
	}
	return anyCodec[T]{c}, nil
}

type anyCodec[T proto.Message] struct{ c ourserde.Codec[T] }

func (a anyCodec[T]) Deserialize(ctx context.Context, m ourserde.Message) (proto.Message, error) {
	return a.c.Deserialize(ctx, m)
}

func (a anyCodec[T]) Serialize(ctx context.Context, t ourserde.Target, v proto.Message) ([]byte, error) {
	tv, ok := v.(T)
	if !ok {
		return nil, errors.New("wrong message type")
	}
	return a.c.Serialize(ctx, t, tv)
}
