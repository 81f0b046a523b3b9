package producertest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// deliveries is a kafkalambda.Delivery that reports on a channel.
type deliveries chan error

func (d deliveries) Done(err error) { d <- err }

// nullsAndEmptiesKept: a null key, value or header value reaches the
// broker null, and an empty one empty — a tombstone is a null value, and
// compaction and consumers tell the two apart — and large headers arrive
// whole.
func nullsAndEmptiesKept(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out"))
	p := impl.newProducer(t, c, nil)
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	hs := []kafkalambda.Header{{Key: "null"}, {Key: "empty", Value: []byte{}}, {Key: "", Value: []byte("v")}, {Key: "x", Value: []byte{0, 1, 255}}}
	msgs := []kafkalambda.Message{
		{Topic: "out", Key: nil, Value: []byte("null key")},
		{Topic: "out", Key: []byte{}, Value: []byte{}},
		{Topic: "out", Key: []byte("tombstone"), Value: nil, Headers: hs},
		{Topic: "out", Key: []byte{0}, Value: bytes.Repeat([]byte{7}, 100_000)},
		// Headers larger than a client's scratch for them (librdkafka's
		// stack buffer is 256 bytes), with a null and an empty value.
		{Topic: "out", Key: []byte("big headers"), Value: []byte("v"), Headers: []kafkalambda.Header{
			{Key: "a", Value: bytes.Repeat([]byte{'a'}, 300)}, {Key: "null"}, {Key: "empty", Value: []byte{}},
			{Key: string(bytes.Repeat([]byte{'k'}, 200)), Value: bytes.Repeat([]byte{'b'}, 5000)}}},
	}
	d := make(deliveries, len(msgs))
	for i := range msgs {
		if err := p.Produce(ctx, &msgs[i], d); err != nil {
			t.Fatal(err)
		}
	}
	for range msgs {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	got := ReadTopic(t, c, "out")
	if len(got) != len(msgs) {
		t.Fatalf("read %d records, want %d", len(got), len(msgs))
	}
	show := func(b []byte) string {
		if b == nil {
			return "null"
		}
		if len(b) > 8 {
			return fmt.Sprintf("%d bytes", len(b))
		}
		return fmt.Sprintf("%q", b)
	}
	for i, r := range got {
		m := msgs[i]
		if show(r.Key) != show(m.Key) || show(r.Value) != show(m.Value) || !bytes.Equal(r.Value, m.Value) {
			t.Errorf("record %d: key %s value %s, want key %s value %s", i, show(r.Key), show(r.Value), show(m.Key), show(m.Value))
		}
		if len(r.Headers) != len(m.Headers) {
			t.Errorf("record %d: %d headers, want %d", i, len(r.Headers), len(m.Headers))
			continue
		}
		for j, h := range r.Headers {
			if h.Key != m.Headers[j].Key || show(h.Value) != show(m.Headers[j].Value) {
				t.Errorf("record %d header %d: %q=%s, want %q=%s", i, j, h.Key, show(h.Value), m.Headers[j].Key, show(m.Headers[j].Value))
			}
		}
	}
}
