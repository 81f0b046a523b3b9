package kafkalambda_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// taggedEvent is an event of n records on orders-0 whose keys, values and
// header values are all made of tag, so that two events of the same n take
// the same room and differ in every decoded byte.
func taggedEvent(t *testing.T, n int, tag byte) []byte {
	t.Helper()
	recs := make([]kafkalambdatest.Record[[]byte, []byte], n)
	for i := range recs {
		recs[i] = kafkalambdatest.Record[[]byte, []byte]{
			Key:     bytes.Repeat([]byte{tag}, 8),
			Value:   bytes.Repeat([]byte{tag}, 40+i),
			Headers: []kafkalambda.Header{{Key: "h-" + string(tag), Value: bytes.Repeat([]byte{tag}, 4)}},
		}
	}
	payload, err := kafkalambdatest.NewEvent(serde.Bytes(), serde.Bytes()).Add("orders", 0, recs...).Payload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// TestHandlerReusesEventMemory: a Handler parses each event into the memory
// of the one before (a Parser), so raw bytes kept past their invocation —
// which the Record contract forbids — read the next event's; strings (the
// topic, header keys) are ordinary strings that stay as they were.
func TestHandlerReusesEventMemory(t *testing.T) {
	var keptValue []byte
	var keptTopic, keptHeaderKey string
	h, err := kafkalambda.NewHandler(serde.Bytes(), serde.Bytes(),
		func(ctx context.Context, r *kafkalambda.Record[[]byte, []byte]) error {
			if keptValue == nil {
				keptValue, keptTopic, keptHeaderKey = r.RawValue, r.Topic, r.Headers[0].Key
			}
			return nil
		}, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := h.Invoke(ctx, taggedEvent(t, 10, 'a')); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(keptValue)
	if _, err := h.Invoke(ctx, taggedEvent(t, 10, 'b')); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(keptValue, want) {
		t.Errorf("a raw value kept past its invocation still reads %q: the handler did not parse into reused memory", keptValue)
	}
	if keptTopic != "orders" || keptHeaderKey != "h-a" {
		t.Errorf("topic %q and header key %q kept from the first invocation changed; want orders and h-a", keptTopic, keptHeaderKey)
	}
}

// TestRawBytesSentSurviveTheInvocation: records sent from an event's raw
// bytes — forwarded by Process with the Bytes codec, or dead-lettered —
// are copied before the producer gets them, so a producer that still holds
// them after the invocation (the franz-go client may, for a record purged
// at the deadline while in flight) never sees the next event's bytes.
func TestRawBytesSentSurviveTheInvocation(t *testing.T) {
	p := kafkalambdatest.NewMemProducer()
	out := kafkalambda.NewOutput("forwarded", serde.Bytes(), serde.Bytes())
	h, err := kafkalambda.NewHandler(serde.Bytes(), serde.Bytes(),
		func(ctx context.Context, r *kafkalambda.Record[[]byte, []byte]) error {
			if r.Offset%2 == 1 {
				return errors.New("odd offsets are dead-lettered")
			}
			return out.Send(ctx, r.RawKey, r.RawValue, r.Headers...)
		}, kafkalambda.WithProducer(p), kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")),
		kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tag := range []byte{'a', 'b', 'c'} {
		if _, err := h.Invoke(ctx, taggedEvent(t, 10, tag)); err != nil {
			t.Fatal(err)
		}
	}
	for _, topic := range []string{"forwarded", "dlq"} {
		sent := p.Messages(topic)
		if len(sent) != 15 {
			t.Fatalf("%d records on %s, want 15", len(sent), topic)
		}
		for i, m := range sent {
			tag := []byte{'a', 'b', 'c'}[i/5]
			ok := bytes.Equal(m.Key, bytes.Repeat([]byte{tag}, 8)) && bytes.Count(m.Value, []byte{tag}) == len(m.Value) && len(m.Value) >= 40
			for _, hd := range m.Headers {
				if hd.Key == "h-"+string(tag) {
					ok = ok && bytes.Equal(hd.Value, bytes.Repeat([]byte{tag}, 4))
				}
			}
			if !ok {
				t.Fatalf("%s record %d: key %q value %q headers %s: changed after its invocation, want all %q",
					topic, i, m.Key, m.Value, fmt.Sprint(m.Headers), tag)
			}
		}
	}
}
