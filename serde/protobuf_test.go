package serde_test

import (
	"context"
	"errors"
	"time"

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
