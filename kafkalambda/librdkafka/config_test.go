package librdkafka_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// TestDeliveryReportOnlyErrorRefused: without the successes' delivery
// reports, flush-at-end would wait for every invocation's deadline and fail
// it, whatever was delivered; the setting is refused as the operator's
// error, naming it.
func TestDeliveryReportOnlyErrorRefused(t *testing.T) {
	t.Parallel()
	addr := kafkalambdatest.ClosedAddr(t)
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": addr, "delivery.report.only.error": true}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Warm(context.Background())
	if kafkalambda.Classify(err) != kafkalambda.ClassConfiguration || !strings.Contains(err.Error(), "delivery.report.only.error") {
		t.Fatalf("Warm = %v (class %q), want a configuration error naming delivery.report.only.error", err, kafkalambda.Classify(err))
	}
}

// TestDefaultTopicConfigKeepsTheRest: a default.topic.config adds to the
// topic properties set at the top level (the producer's acks and
// partitioner among them) rather than replacing them, which librdkafka
// warns of when it happens.
func TestDefaultTopicConfigKeepsTheRest(t *testing.T) {
	t.Parallel()
	addr := kafkalambdatest.ClosedAddr(t)
	h := &records{}
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": addr, "default.topic.config": map[string]any{"message.timeout.ms": "5000"}}, nil
	}, librdkafka.WithLogger(slog.New(h)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if strings.Contains(r.Message, "overwritten") || strings.Contains(r.Message, "CONFWARN") {
			t.Errorf("librdkafka: %s", r.Message)
		}
	}
}
