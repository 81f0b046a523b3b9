package serde

import (
	"testing"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// TestProtoNewMessage checks the shortcut that makes the deserializer's
// messages: for a generated message type it is taken, and each call gives
// a new, empty message of T's type, as the message type's New does; for a
// well-known type too.
func TestProtoNewMessage(t *testing.T) {
	fake := srfake.New()
	t.Cleanup(fake.Close)
	reg := Confluent(srclient.NewSchemaRegistryClient(fake.URL()))
	t.Run("generated", func(t *testing.T) { checkNewMessage[*testpb.Trade](t, reg) })
	t.Run("well-known", func(t *testing.T) { checkNewMessage[*timestamppb.Timestamp](t, reg) })
}

func checkNewMessage[T proto.Message](t *testing.T, reg Registry) {
	c, err := Protobuf[T](reg)
	if err != nil {
		t.Fatal(err)
	}
	pc := c.(*protoCodec[T])
	if pc.elem == nil {
		t.Fatal("a generated message type does not take the shortcut")
	}
	viaType := pc.mt.New().Interface()
	a, b := pc.newMessage(), pc.newMessage()
	if proto.Message(a) == proto.Message(b) {
		t.Fatal("two messages share one pointer")
	}
	if !proto.Equal(a, viaType) || proto.Size(a) != 0 {
		t.Fatalf("new message %v is not empty", a)
	}
	if a.ProtoReflect().Descriptor() != viaType.ProtoReflect().Descriptor() {
		t.Fatalf("new message is a %s, want %s", a.ProtoReflect().Descriptor().FullName(), viaType.ProtoReflect().Descriptor().FullName())
	}
	// It is usable: a decode into it sets what the wire says.
	if err := proto.Unmarshal([]byte{0x0a, 0x01, 'x'}, a); err != nil {
		t.Fatal(err)
	}
	if proto.Equal(a, b) {
		t.Fatal("decoding into one message changed another")
	}
}
