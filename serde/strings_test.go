package serde_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

func TestBytesCopies(t *testing.T) {
	ctx := context.Background()
	c := ourserde.Bytes()
	in := []byte{1, 2, 3}
	got, err := c.Deserialize(ctx, ourserde.Message{Data: in})
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("got %v, %v", got, err)
	}
	in[0] = 9
	if got[0] != 1 {
		t.Fatal("Deserialize kept the caller's buffer")
	}
	if b, _ := c.Serialize(ctx, ourserde.Target{}, nil); b != nil {
		t.Fatal("nil must stay nil (a Kafka null)")
	}
	if b, _ := c.Serialize(ctx, ourserde.Target{}, []byte{}); b == nil || len(b) != 0 {
		t.Fatal("empty must stay empty, not null")
	}
}

func TestJSONErrors(t *testing.T) {
	ctx := context.Background()
	c := ourserde.JSON[map[string]int]()
	_, err := c.Deserialize(ctx, ourserde.Message{Topic: "t", Data: []byte(`{"a":"x"}`)})
	var e *ourserde.Error
	if !errors.Is(err, ourserde.ErrDecode) || !errors.As(err, &e) || e.Topic != "t" {
		t.Fatalf("got %v", err)
	}
	_, err = ourserde.JSON[chan int]().Serialize(ctx, ourserde.Target{Topic: "t"}, make(chan int))
	if !errors.Is(err, ourserde.ErrEncode) {
		t.Fatalf("got %v", err)
	}
}
