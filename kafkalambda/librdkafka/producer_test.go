package librdkafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// The cases every producer passes are in internal/producertest (see
// TestContract); these are librdkafka's own.

func inputEvent(t testing.TB, n int, keys ...string) []byte {
	t.Helper()
	return producertest.InputEvent(t, n, keys...)
}

func echoHandler(t testing.TB, p *librdkafka.Producer, out string, route map[int32]string, opts ...kafkalambda.Option) *kafkalambda.Handler[string, string] {
	t.Helper()
	return producertest.EchoHandler(t, p, out, route, opts...)
}

// A broker's rejection reaches the invocation's error as librdkafka's own
// error code.
func TestProducerRejectionKeepsTheCode(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(3, "out"))
	p := newProducer(t, c, nil)
	h := echoHandler(t, p, "out", nil)
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.InvalidRecord, Count: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, inputEvent(t, 10, "in-0"))
	var ke kafka.Error
	if !errors.As(err, &ke) || ke.Code() != kafka.ErrInvalidRecord {
		t.Errorf("cause %v, want the broker's INVALID_RECORD as a kafka.Error", err)
	}
}
