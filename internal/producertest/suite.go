// Package producertest is the contract of a kafkalambda.Producer, as tests
// that run against every implementation of the seam on the real path: a
// kafkalambda handler whose outputs go through the producer to an
// in-process broker (kfake), under the faults the flush at the end of an
// invocation must survive. The librdkafka producer's tests (cgo) and the
// franz-go producer's (pure Go) both call Run, so that the two keep the
// same guarantees. Nothing here is compiled into a user's function.
package producertest

import (
	"context"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// Impl is one implementation of the seam under test.
type Impl struct {
	// New returns a producer whose client is made from config, calling
	// authFailed (nil: none) when the brokers refuse its credentials.
	// The suite closes it when the test ends.
	New func(t testing.TB, config func(context.Context) (map[string]any, error), authFailed func()) kafkalambda.Producer
	// Generation returns the number of the client in use (1 for the
	// first one made), 0 when there is none yet.
	Generation func(p kafkalambda.Producer) int64
	// Break makes the client in use fail fatally, as a lost idempotent
	// sequence does, of class environment: the next send must build a new
	// one, and what it holds must fail at once.
	Break func(t testing.TB, p kafkalambda.Producer)
}

// newProducer returns a producer of impl for the cluster with extra
// properties, closed when the test ends.
func (impl Impl) newProducer(t testing.TB, c *kafkalambdatest.Cluster, extra map[string]any) kafkalambda.Producer {
	t.Helper()
	addrs := c.BootstrapServers()
	return impl.new(t, func(context.Context) (map[string]any, error) {
		cm := map[string]any{"bootstrap.servers": addrs}
		for k, v := range extra {
			cm[k] = v
		}
		return cm, nil
	}, nil)
}

func (impl Impl) new(t testing.TB, config func(context.Context) (map[string]any, error), authFailed func()) kafkalambda.Producer {
	t.Helper()
	p := impl.New(t, config, authFailed)
	t.Cleanup(p.Close)
	return p
}

// Run runs every case of the contract against impl, each as a parallel
// subtest.
func Run(t *testing.T, impl Impl) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, impl)
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, impl Impl)
}

var cases = []testCase{
	{"Healthy", healthy},
	{"NullsAndEmptiesKept", nullsAndEmptiesKept},
	{"RejectedThenRecovers", rejectedThenRecovers},
	{"BrokerGoneFailsBeforeDeadline", brokerGoneFailsBeforeDeadline},
	{"BatchLargerThanLocalQueue", batchLargerThanLocalQueue},
	{"ItemFailuresOneBadPartition", itemFailuresOneBadPartition},
	{"InvocationsFlushOnlyTheirOwn", invocationsFlushOnlyTheirOwn},
	{"FlushDeadlinePurges", flushDeadlinePurges},
	{"AuthFailureRebuildsWithFreshConfig", authFailureRebuildsWithFreshConfig},
	{"UndeliveredSaysWhy", undeliveredSaysWhy},
	{"TooLargeIsTheRecords", tooLargeIsTheRecords},
	{"CheckRejectsBadProperties", checkRejectsBadProperties},
	{"FatalAuthorizationIsConfiguration", fatalAuthorizationIsConfiguration},
	{"FatalErrorReplacesProducer", fatalErrorReplacesProducer},
	{"FatalErrorDuringFlushFailsFast", fatalErrorDuringFlushFailsFast},
	{"DeadLetter", deadLetter},
	{"DeadLetterRetriesTransientFailures", deadLetterRetriesTransientFailures},
	{"Warm", warm},
	{"FailedCreationIsRetried", failedCreationIsRetried},
}
