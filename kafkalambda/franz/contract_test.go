package franz_test

import (
	"context"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
)

// impl is the franz-go producer for the contract every producer keeps.
var impl = producertest.Impl{
	New: func(t testing.TB, config func(context.Context) (map[string]any, error), authFailed func()) kafkalambda.Producer {
		var opts []franz.Option
		if authFailed != nil {
			opts = append(opts, franz.WithAuthFailureHook(authFailed))
		}
		p, err := franz.NewProducer(config, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	},
	Generation: func(p kafkalambda.Producer) int64 { return franz.Generation(p.(*franz.Producer)) },
	Break:      func(_ testing.TB, p kafkalambda.Producer) { franz.BreakCurrent(p.(*franz.Producer)) },
}

// TestContract runs the flush-at-end and producer cases every
// implementation of the seam passes (package internal/producertest).
func TestContract(t *testing.T) { producertest.Run(t, impl) }
