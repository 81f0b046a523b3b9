package librdkafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTransactionTimeoutFollowsTheFunctionTimeout: without
// transaction.timeout.ms in the config, the transactional producers ask
// for the time left at the first transaction (about the function's
// timeout) plus 5 s, not librdkafka's 60 s: a transaction left open by an
// environment Lambda stopped holds its partition's next attempt back about
// that long. Set in the config, it wins; without a deadline, librdkafka's
// default stands.
func TestTransactionTimeoutFollowsTheFunctionTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		config   map[string]any
		deadline time.Duration // 0: none
		lo, hi   int32         // ms asked for in InitProducerId
	}{
		// Up to 5 s less: the time a loaded machine takes before the begin.
		{"from the first deadline", nil, 20 * time.Second, 20000, 25000},
		{"at least 10 s", nil, 2 * time.Second, 10000, 10000},
		{"set in the config", map[string]any{"transaction.timeout.ms": 7000}, 20 * time.Second, 7000, 7000},
		{"no deadline", nil, 0, 60000, 60000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
			asked := make(chan int32, 10)
			c.Kafka().ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.Kafka().KeepControl()
				if r := req.(*kmsg.InitProducerIDRequest); r.TransactionalID != nil {
					asked <- r.TransactionTimeoutMillis
				}
				return nil, nil, false
			})
			p := newProducer(t, c, tc.config)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.deadline > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
			}
			defer cancel()
			txn, err := p.BeginTxn(ctx, owner0)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = txn.Abort(ctx) }()
			if got := <-asked; got < tc.lo || got > tc.hi {
				t.Errorf("transaction timeout %d ms, want %d to %d", got, tc.lo, tc.hi)
			}
		})
	}
}
