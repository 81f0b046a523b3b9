package librdkafka_test

import (
	"context"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// impl is the librdkafka producer for the contract every producer keeps.
var impl = producertest.Impl{
	New: func(t testing.TB, config func(context.Context) (map[string]any, error), authFailed func()) kafkalambda.Producer {
		var opts []librdkafka.Option
		if authFailed != nil {
			opts = append(opts, librdkafka.WithAuthFailureHook(authFailed))
		}
		p, err := librdkafka.NewProducer(config, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	},
	Generation: func(p kafkalambda.Producer) int64 {
		_, gen := librdkafka.CurrentProducer(p.(*librdkafka.Producer))
		return gen
	},
	Break: func(t testing.TB, p kafkalambda.Producer) {
		kp, _ := librdkafka.CurrentProducer(p.(*librdkafka.Producer))
		if kp == nil {
			t.Fatal("no librdkafka producer to break")
		}
		kp.TestFatalError(kafka.ErrOutOfOrderSequenceNumber, "injected by the test")
	},
}

// TestContract runs the flush-at-end and producer cases every
// implementation of the seam passes (package internal/producertest).
func TestContract(t *testing.T) { producertest.Run(t, impl) }
