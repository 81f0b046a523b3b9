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
		return librdkafka.CurrentGeneration(p.(*librdkafka.Producer))
	},
	Break: func(t testing.TB, p kafkalambda.Producer) {
		if !librdkafka.BreakCurrent(p.(*librdkafka.Producer), kafka.ErrOutOfOrderSequenceNumber) {
			t.Fatal("no librdkafka producer to break")
		}
	},
}

// TestContract runs the flush-at-end and producer cases every
// implementation of the seam passes (package internal/producertest).
func TestContract(t *testing.T) { producertest.Run(t, impl) }
