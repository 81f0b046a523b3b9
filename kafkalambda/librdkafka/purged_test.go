package librdkafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// TestTransactionsAfterAPurge: a transaction's send that the broker wrote
// but answered REQUEST_TIMED_OUT for (kfake writes, then answers, as a
// broker whose replication timed out does) is retried until the
// invocation's deadline purges it, and the transaction aborts. The
// producer's next transaction must not be taken for that write: its own
// send is committed and seen.
func TestTransactionsAfterAPurge(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	h := c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.RequestTimedOut, Count: -1})
	p := newProducer(t, c, nil)
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()

	txn, err := p.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	first := make(doneChan, 1)
	if err := txn.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("aborted")}, first); err != nil {
		t.Fatal(err)
	}
	// Written, answered REQUEST_TIMED_OUT, retried: the deadline comes.
	if err := h.Wait(ctx, 2); err != nil {
		t.Fatal(err)
	}
	txn.Purge()
	if err := <-first; err == nil {
		t.Fatal("a purged send reported delivered")
	}
	abortCtx, cancelAbort := context.WithTimeout(ctx, 5*time.Second)
	_ = txn.Abort(abortCtx)
	cancelAbort()
	h.Remove()

	next, err := p.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	fresh := make(doneChan, 1)
	if err := next.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("committed")}, fresh); err != nil {
		t.Fatal(err)
	}
	if err := <-fresh; err != nil {
		t.Fatal(err)
	}
	if err := next.Commit(ctx, owner0.Group, []kafkalambda.PartitionOffset{{Topic: "in", Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range readCommitted(t, c, "out") {
		got = append(got, string(r.Value))
	}
	if !slices.Equal(got, []string{"committed"}) {
		t.Errorf("read_committed sees %q, want [committed]: the next transaction's send was taken for the purged one", got)
	}
}
