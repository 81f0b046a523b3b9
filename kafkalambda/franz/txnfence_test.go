package franz_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
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
			got := values(readCommitted(t, c, "out"))
			if wantOut := []string{"earlier"}; left && len(got) != 0 || !left && !slices.Equal(got, wantOut) {
				t.Errorf("read_committed sees %q", got)
			}
			if n := progressOf(t, c, 0); n != want {
				t.Errorf("progress %d, want %d", n, want)
			}
		})
	}
}

// TestTransactionTimeoutFollowsTheFunctionTimeout: without
// transaction.timeout.ms in the config, the transactional clients ask for
// the time left at the first transaction (about the function's timeout)
// plus 5 s, not a client default: a transaction left open by an
// environment Lambda stopped holds its partition's next attempt back about
// that long. Set in the config, it wins; without a deadline, 60 s (as
// librdkafka's default).
func TestTransactionTimeoutFollowsTheFunctionTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		config   map[string]any
		deadline time.Duration // 0: none
		lo, hi   int32         // ms asked for in InitProducerId
	}{
		// Up to 4 s less: the time a loaded machine takes before the begin.
		{"from the first deadline", nil, 20 * time.Second, 21000, 25000},
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

// TestTransactionsAfterAPurge: a transaction's produce request is held at
// the broker past the invocation's deadline; the deadline purges it, the
// broker then writes it, and the transaction aborts. The producer's next
// transaction must not be taken for that write (brokers deduplicate by
// producer epoch and sequence number): its own send is committed and seen.
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
	if got := values(readCommitted(t, c, "out")); !slices.Equal(got, []string{"committed"}) {
		t.Errorf("read_committed sees %q, want [committed]: the next transaction's send was taken for the purged one", got)
	}
}

// TestTransactionsAfterAnUnsureWrite: see
// producertest.TransactionAfterAnUnsureWrite. It fails when a client whose
// transaction sent and aborted is kept (0561956 to f02e0a0): kgo then
// sends the next transaction's record under the failed batch's sequence
// number, which the broker takes for the held write.
func TestTransactionsAfterAnUnsureWrite(t *testing.T) {
	t.Parallel()
	producertest.TransactionAfterAnUnsureWrite(t, func(t testing.TB, c *kafkalambdatest.Cluster) kafkalambda.Transactor {
		return newProducer(t, c, nil)
	})
}

// TestTransactionsNewEpochAfterAnAbortThatSent: a client whose
// transaction sent and aborted is not used again: the next transaction's
// client asks for a new epoch (InitProducerId). One whose transaction
// aborted without sending, or committed, is. What the transactions send is
// written and seen: only the committed transactions' records, each once.
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
	var want []string
	for i, step := range []struct {
		send, commit bool
		inits        int32 // after the step
	}{
		{true, true, 1},   // the first client
		{false, false, 1}, // aborted, nothing sent: kept
		{true, false, 1},  // aborted after sends: replaced at the next begin
		{true, true, 2},   // a new client
		{true, false, 2},
		{true, true, 3},
	} {
		txn, err := p.BeginTxn(ctx, owner0)
		if err != nil {
			t.Fatal(err)
		}
		if step.send {
			for k := range 3 {
				v := fmt.Sprintf("%d/%d", i, k)
				sendIn(ctx, t, txn, v)
				if step.commit {
					want = append(want, v)
				}
			}
		}
		if step.commit {
			err = txn.Commit(ctx, owner0.Group, []kafkalambda.PartitionOffset{{Topic: "in", Partition: 0, Offset: int64(i + 1)}})
		} else {
			err = txn.Abort(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := inits.Load(); got != step.inits {
			t.Fatalf("after %+v: %d InitProducerId, want %d", step, got, step.inits)
		}
	}
	if got := values(readCommitted(t, c, "out")); !slices.Equal(got, want) {
		t.Errorf("read_committed sees %q, want %q", got, want)
	}
	if got := len(readTopic(t, c, "out")); got != 15 {
		t.Errorf("%d records in the log, want 15 (6 of them aborted)", got)
	}
}

// TestTransactionsAbortCutShort: an abort that does not finish within its
// ctx (the coordinator slow to answer) gives the transaction up to a new
// client under the same id, whose InitProducerId fences the old one and
// has the coordinator abort it: no transaction is left open, and the next
// one commits alone.
func TestTransactionsAbortCutShort(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	release := make(chan struct{})
	reached := make(chan struct{})
	var hold atomic.Bool
	hold.Store(true)
	c.Kafka().ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if !req.(*kmsg.EndTxnRequest).Commit && hold.CompareAndSwap(true, false) {
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
	sendIn(ctx, t, txn, "aborted")
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if err := txn.Abort(short); err == nil {
		t.Fatal("an abort held at the coordinator returned nil")
	}
	<-reached
	close(release)
	next, err := p.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	sendIn(ctx, t, next, "committed")
	if err := next.Commit(ctx, owner0.Group, []kafkalambda.PartitionOffset{{Topic: "in", Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	if got := values(awaitCommitted(t, c, "out", 1)); !slices.Equal(got, []string{"committed"}) {
		t.Errorf("read_committed sees %q, want only the committed one", got)
	}
	if got := progressOf(t, c, 0); got != 1 {
		t.Errorf("progress %d, want 1", got)
	}
}

// TestTransactionsStuckCoordinatorKeepsTheDeadline: a group coordinator
// that does not answer the progress's TxnOffsetCommit fails the invocation
// by its deadline, and once it answers again the next invocation commits.
func TestTransactionsStuckCoordinatorKeepsTheDeadline(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	release := make(chan struct{})
	var hold atomic.Bool
	hold.Store(true)
	var commits atomic.Int32
	c.Kafka().ControlKey(int16(kmsg.TxnOffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		// The second: the commit's (the first is the claim's).
		if commits.Add(1) == 2 && hold.CompareAndSwap(true, false) {
			c.Kafka().SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(3 * time.Second)
	_, err := h.Invoke(ctx, producertest.InputEvent(t, 2, "in-0"))
	cancel()
	if !errors.Is(err, kafkalambda.ErrTransaction) {
		t.Fatalf("commit with the coordinator stuck: %v, want ErrTransaction", err)
	}
	close(release)
	ctx, cancel = producertest.WithDeadline(30 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 2, "in-0")); err != nil {
		t.Fatalf("once the coordinator answers: %v", err)
	}
	if got := len(awaitCommitted(t, c, "out", 2)); got != 2 {
		t.Errorf("%d committed outputs, want 2", got)
	}
	if got := progressOf(t, c, 0); got != 102 {
		t.Errorf("progress %d, want 102", got)
	}
}

// TestTransactionsBeginThatWaitedKeepsItsClient: a begin whose progress
// read waits on another environment's claim until its own deadline fails
// as the environment's fault, and its client, which sent nothing, is kept:
// the next begin asks for no new producer id.
func TestTransactionsBeginThatWaitedKeepsItsClient(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	createProgressGroup(t, c, 0, 0)
	var inits atomic.Int32
	c.Kafka().ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if id := req.(*kmsg.InitProducerIDRequest).TransactionalID; id != nil && strings.HasPrefix(*id, "env2-") {
			inits.Add(1)
		}
		return nil, nil, false
	})
	env1 := newProducer(t, c, nil)
	env2 := newProducer(t, c, nil, franz.WithTransactionalIDPrefix("env2"))
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	// The client first, so that the short begin below is spent waiting.
	warm, err := env2.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	if err := warm.Commit(ctx, owner0.Group, nil); err != nil {
		t.Fatal(err)
	}
	earlier, err := env1.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = env2.BeginTxn(short, owner0)
	cancelShort()
	if err == nil || kafkalambda.Classify(err) != kafkalambda.ClassEnvironment {
		t.Fatalf("a begin held back past its deadline: %v (class %s), want an error of class environment", err, kafkalambda.Classify(err))
	}
	if err := earlier.Commit(ctx, owner0.Group, nil); err != nil {
		t.Fatal(err)
	}
	next, err := env2.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Commit(ctx, owner0.Group, nil); err != nil {
		t.Fatal(err)
	}
	if got := inits.Load(); got != 1 {
		t.Errorf("%d InitProducerId for the second environment, want 1: its client was replaced", got)
	}
}
