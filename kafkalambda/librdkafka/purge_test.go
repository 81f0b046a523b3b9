package librdkafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// TestPurgedProducerTakesNoNewSends: after an invocation's deadline purge,
// the next send goes to a new librdkafka producer, which the purge (applied
// by librdkafka's threads after Purge returns) cannot reach, and is
// delivered.
func TestPurgedProducerTakesNoNewSends(t *testing.T) {
	t.Parallel()
	c := producertest.NewCluster(t, kfake.SeedTopics(1, "out"))
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": c.BootstrapServers()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	h := producertest.EchoHandler(t, p, "out", nil)
	ctx, cancel := producertest.WithDeadline(time.Minute)
	defer cancel()
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 2, "in-0")); err != nil {
		t.Fatal(err)
	}
	_, before := librdkafka.CurrentProducer(p)
	p.Purge()
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 2, "in-0")); err != nil {
		t.Fatalf("the invocation after a purge: %v", err)
	}
	if _, after := librdkafka.CurrentProducer(p); after == before {
		t.Fatalf("the invocation after a purge sent through the purged producer (generation %d)", after)
	}
}
