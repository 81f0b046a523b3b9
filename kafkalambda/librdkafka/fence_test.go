package librdkafka_test

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// TestTransactionsClaimAcrossEnvironments: two Producers are two execution
// environments. A transaction of a partition begun in the first (an
// attempt past its timeout, a commit given up on at the deadline) holds
// back the second's begin for the partition until it ends: when it
// commits, the second reads its progress and so does not do its records
// again; when it is left open (its environment gone), the coordinator
// aborts it at its transaction timeout, and the second reads what was
// before.
func TestTransactionsClaimAcrossEnvironments(t *testing.T) {
	t.Parallel()
	for _, left := range []bool{false, true} {
		name := "committed"
		if left {
			name = "left open"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
			createProgressGroup(t, c, 0, 0)
			fetches := make(chan struct{}, 100)
			c.Kafka().ControlKey(int16(kmsg.OffsetFetch), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.Kafka().KeepControl()
				select {
				case fetches <- struct{}{}:
				default:
				}
				return nil, nil, false
			})
			env1 := newProducer(t, c, map[string]any{"transaction.timeout.ms": 3000})
			env2 := newProducer(t, c, nil)
			ctx, cancel := producertest.WithDeadline(30 * time.Second)
			defer cancel()

			earlier, err := env1.BeginTxn(ctx, owner0)
			if err != nil {
				t.Fatal(err)
			}
			sendIn(ctx, t, earlier, "earlier")
			for len(fetches) > 0 {
				<-fetches
			}
			type begun struct {
				txn kafkalambda.Txn
				err error
			}
			retry := make(chan begun, 1)
			go func() { txn, err := env2.BeginTxn(ctx, owner0); retry <- begun{txn, err} }()
			for range 2 { // the first answered UNSTABLE_OFFSET_COMMIT, so a second
				select {
				case <-fetches:
				case b := <-retry:
					t.Fatalf("the retry began while the earlier transaction was open: %v", b.err)
				case <-ctx.Done():
					t.Fatal("no progress read")
				}
			}
			if !left {
				if err := earlier.Commit(ctx, owner0.Group, []kafkalambda.PartitionOffset{{Topic: "in", Partition: 0, Offset: 5}}); err != nil {
					t.Fatal(err)
				}
			}
			b := <-retry
			if b.err != nil {
				t.Fatal(b.err)
			}
			next, err := b.txn.Progress(ctx, owner0.Group, []kafkalambda.PartitionOffset{{Topic: "in", Partition: 0, Offset: -1}})
			want := int64(5)
			if left {
				want = 0
			}
			if err != nil || len(next) != 1 || next[0] != want {
				t.Fatalf("the retry's progress %v (%v), want %d", next, err, want)
			}
			if err := b.txn.Commit(ctx, owner0.Group, nil); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range readCommitted(t, c, "out") {
				got = append(got, string(r.Value))
			}
			if wantOut := []string{"earlier"}; left && len(got) != 0 || !left && !slices.Equal(got, wantOut) {
				t.Errorf("read_committed sees %q", got)
			}
			if n := progressOf(t, c, 0); n != want {
				t.Errorf("progress %d, want %d", n, want)
			}
		})
	}
}
