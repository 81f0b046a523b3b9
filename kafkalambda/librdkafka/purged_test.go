package librdkafka_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// TestTransactionsAfterAPurge: a transaction's produce request is held
// at the broker past the invocation's deadline; the deadline purges it,
// the broker then writes it anyway, and the transaction aborts. The
// producer's next transaction must not be taken for that write (the
// broker deduplicates by producer epoch and sequence number: a send under
// the same ones would be acknowledged with the aborted write's offsets,
// and lost): its own send is committed and seen. The soak lost records
// this way (their only copy before an ABORT marker, the next
// transaction's COMMIT with no data of its own on the partition).
func TestTransactionsAfterAPurge(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	release, reached := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool
	hold.Store(true)
	c.Kafka().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if hold.CompareAndSwap(true, false) {
			close(reached)
			c.Kafka().SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
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
	<-reached
	txn.Purge() // the deadline, the request still held
	if err := <-first; err == nil {
		t.Fatal("a purged send reported delivered")
	}
	close(release) // the broker writes it now, in the open transaction
	for len(readTopic(t, c, "out")) == 0 {
	}
	abortCtx, cancelAbort := context.WithTimeout(ctx, 5*time.Second)
	_ = txn.Abort(abortCtx)
	cancelAbort()

	next, err := p.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	sendIn(ctx, t, next, "committed")
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

// TestTransactionsAfterAnUnsureWrite: see
// producertest.TransactionAfterAnUnsureWrite.
func TestTransactionsAfterAnUnsureWrite(t *testing.T) {
	t.Parallel()
	producertest.TransactionAfterAnUnsureWrite(t, func(t testing.TB, c *kafkalambdatest.Cluster) kafkalambda.Transactor {
		return newProducer(t, c, nil)
	})
}

// TestTransactionsNewEpochAfterAnAbortThatSent: a producer whose
// transaction sent and aborted is not used again: the next transaction's
// producer asks for a new epoch (InitProducerId). One whose transaction
// aborted without sending, or committed, is.
func TestTransactionsNewEpochAfterAnAbortThatSent(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	var inits atomic.Int32
	c.Kafka().ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if req.(*kmsg.InitProducerIDRequest).TransactionalID != nil {
			inits.Add(1)
		}
		return nil, nil, false
	})
	p := newProducer(t, c, nil)
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	run := func(send, commit bool) {
		t.Helper()
		txn, err := p.BeginTxn(ctx, owner0)
		if err != nil {
			t.Fatal(err)
		}
		if send {
			sendIn(ctx, t, txn, "v")
		}
		if commit {
			err = txn.Commit(ctx, owner0.Group, nil)
		} else {
			err = txn.Abort(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		send, commit bool
		inits        int32 // after the step
	}{
		{true, true, 1},   // the first producer
		{false, false, 1}, // aborted, nothing sent: kept
		{true, false, 1},  // aborted after a send: replaced at the next begin
		{true, true, 2},   // a new producer
	} {
		run(step.send, step.commit)
		if got := inits.Load(); got != step.inits {
			t.Fatalf("after %+v: %d InitProducerId, want %d", step, got, step.inits)
		}
	}
}
