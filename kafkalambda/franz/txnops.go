package franz

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// txn is one invocation's transaction on a pooled client.
type txn struct {
	p     *Producer
	s     *txnSlot
	c     *txnClient
	g     *generation
	owner kafkalambda.TxnOwner
	next  int64 // the owner's progress, read at the begin (-1: none)
	// pid and epoch are the producer id and epoch the transaction's
	// offsets were sent under (pid -1: none yet). A client that reloads
	// its producer id mid-transaction (kgo does after a write it cannot
	// account for) has had the coordinator abort the transaction: the
	// transaction then cannot commit.
	pid   int64
	epoch int16
	// groups are the groups whose offsets the transaction holds
	// (AddOffsetsToTxn answered); started: an AddOffsetsToTxn was sent,
	// so the transaction may be open at the coordinator whatever kgo
	// knows of it.
	groups  []string
	started bool
	ended   bool // committed, or Abort called: the slot is back in the pool
	// abandoned: a transactional call failed with the transaction's state
	// unknown, or did not return by its deadline; Abort replaces the
	// client (which fences it) instead of aborting through it.
	abandoned bool
	cause     error // why it was abandoned
	// sent: a send was queued in the transaction (see Abort).
	sent atomic.Bool
}

// claim is the offset the transaction claims its partition with: the
// progress read, or 0 when there is none (committed, it says nothing was
// done before the partition's start).
func (t *txn) claim() int64 { return max(t.next, 0) }

// stuckGrace is how long past its ctx's deadline a transactional call may
// take to return before it is abandoned.
const stuckGrace = 250 * time.Millisecond

// errAbortedWithSends breaks a client whose transaction was handed records
// and aborted.
var errAbortedWithSends = errors.New("a transaction that sent was aborted: a new producer epoch before the next")

// errStuck: a transactional call did not return by its deadline.
var errStuck = errors.New("did not return by its deadline; the transactional producer is replaced")

// within runs op, kgo calls given ctx, and returns its error, or gives up
// on it shortly after ctx's deadline: kgo heeds a ctx, but the invocation
// must end by its deadline whatever happens inside the client. A call given
// up on abandons the transaction (see Abort); op finishes on its own, at
// the latest when the replaced client is closed.
func (t *txn) within(ctx context.Context, op func() error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return op()
	}
	done := make(chan error, 1)
	go func() { done <- op() }()
	timer := time.NewTimer(time.Until(deadline) + stuckGrace)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.abandon(errStuck)
		return fmt.Errorf("franz: transactional call %w", errStuck)
	}
}

// abandon gives the transaction up to its client's replacement (Abort),
// and breaks the client: its next use replaces it too.
func (t *txn) abandon(err error) {
	t.abandoned, t.cause = true, err
	t.g.breakWith(txnError("abandoned", err))
}

// Produce implements kafkalambda.Txn.
func (t *txn) Produce(ctx context.Context, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	if !t.g.holds.Acquire() {
		return fmt.Errorf("%w: the transactional producer was replaced", kafkalambda.ErrProducer)
	}
	if b := t.g.broken.Load(); b != nil {
		t.g.holds.Release()
		return fmt.Errorf("%w: the transactional producer broke: %w", kafkalambda.ErrProducer, *b)
	}
	t.sent.Store(true)
	return t.p.produceOn(ctx, t.g, m, d, time.Time{})
}

// Purge implements kafkalambda.Txn: it gives up what this transaction's
// client holds (see Producer.Purge).
func (t *txn) Purge() { t.g.purge(errPurged) }

// Progress implements kafkalambda.Txn. The owner's partition's progress
// is the one read as the transaction began, before it claimed the
// partition; others are read now (read).
func (t *txn) Progress(ctx context.Context, group string, parts []kafkalambda.PartitionOffset) ([]int64, error) {
	next := make([]int64, len(parts))
	for i, pt := range parts {
		if group == t.owner.Group && pt.Topic == t.owner.Topic && pt.Partition == t.owner.Partition {
			next[i] = t.next
			continue
		}
		n, err := t.read(ctx, group, pt.Topic, pt.Partition)
		if err != nil {
			return nil, err
		}
		next[i] = n
	}
	return next, nil
}

// Commit implements kafkalambda.Txn: the offsets are sent to the
// transaction for group as a consumer group member of generation -1 (a
// group that no consumer joins; TxnOffsetCommit) — replacing the claim
// BeginTxn sent, which stands when there are none — then the transaction
// is committed (EndTxn). A failure leaves the outcome unknown, or the
// transaction unable to commit: the client is replaced at the Abort that
// follows, which fences it (the retry's progress read says which way it
// went).
func (t *txn) Commit(ctx context.Context, group string, offsets []kafkalambda.PartitionOffset) error {
	if t.ended {
		return fmt.Errorf("%w: commit of an ended transaction", kafkalambda.ErrProducer)
	}
	if len(offsets) > 0 {
		if err := t.send(ctx, group, offsets); err != nil {
			return err
		}
	}
	err := t.within(ctx, func() error {
		if err := t.g.cl.Flush(ctx); err != nil {
			return err
		}
		if err := t.sameProducer(ctx); err != nil {
			return err
		}
		return t.end(ctx, kgo.TryCommit)
	})
	if err != nil {
		t.abandon(err)
		return txnError("commit", err)
	}
	t.ended = true
	t.g.lastUsed.Store(time.Now().UnixNano())
	t.p.put(t.s)
	return nil
}

// send sends offsets for group to the transaction: AddOffsetsToTxn the
// first time for group, then TxnOffsetCommit. A failure abandons the
// transaction: whether the coordinator has the request is unknown.
func (t *txn) send(ctx context.Context, group string, offsets []kafkalambda.PartitionOffset) error {
	err := t.within(ctx, func() error {
		if err := t.sameProducer(ctx); err != nil {
			return err
		}
		if !contains(t.groups, group) {
			t.started = true
			if err := t.addOffsets(ctx, group); err != nil {
				return err
			}
			t.groups = append(t.groups, group)
		}
		return t.commitOffsets(ctx, group, offsets)
	})
	if err != nil {
		t.abandon(err)
		return txnError("send the progress to the transaction", err)
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sameProducer loads the client's producer id and epoch — the first time,
// for the transaction's offsets — and fails when they changed since: the
// client reloaded them, which aborted the transaction at the coordinator.
func (t *txn) sameProducer(ctx context.Context) error {
	id, epoch, err := producerID(ctx, t.g.cl)
	if err != nil {
		return err
	}
	if t.pid < 0 {
		t.pid, t.epoch = id, epoch
		return nil
	}
	if id != t.pid || epoch != t.epoch {
		return fmt.Errorf("%w: the producer id or epoch changed during the transaction (the client reloaded it), which aborted it", kafkalambda.ErrProducer)
	}
	return nil
}

// end ends the transaction: kgo's EndTransaction ends what kgo knows of —
// partitions its records were added to, with the offsets the Producer sent
// in the same transaction —, or, when none were, does nothing: the
// transaction then holds only the Producer's offsets, and the Producer ends
// it (EndTxn, at the epoch kgo keeps, see txnOptions).
func (t *txn) end(ctx context.Context, how kgo.TransactionEndTry) error {
	before := t.c.ends.Load()
	if err := t.g.cl.EndTransaction(ctx, how); err != nil {
		return err
	}
	if t.c.ends.Load() != before || !t.started {
		return nil
	}
	return t.endTxn(ctx, bool(how))
}

// Abort implements kafkalambda.Txn: what the client still holds is
// failed once the requests in flight have their answers (kgo's
// AbortBufferedRecords, so that nothing of it lands in a later
// transaction), then the transaction is aborted. The client goes back to
// the pool whatever the result. A transaction abandoned, or whose abort
// fails, is given up to a new client under the same transactional id,
// made now within ctx or in the background: its InitProducerId fences the
// old client and has the coordinator abort the transaction — so that it
// does not hold back the read_committed consumers of its outputs and the
// next attempt's progress read until its timeout.
func (t *txn) Abort(ctx context.Context) error {
	if t.ended {
		return nil
	}
	t.ended = true
	if !t.abandoned && !t.started && !t.sent.Load() {
		// Nothing at the brokers (a begin whose progress read failed):
		// kgo ends its own state without a request.
		if err := t.g.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.abandon(err)
		} else {
			t.p.put(t.s)
			return nil
		}
	}
	if !t.abandoned {
		err := t.within(ctx, func() error {
			// Only when it sent: with nothing buffered, kgo's wait may
			// still fail on a ctx already ended (a begin whose progress
			// read ran to its deadline), replacing a client for nothing.
			if t.sent.Load() {
				if err := t.g.cl.AbortBufferedRecords(ctx); err != nil {
					return err
				}
			}
			return t.end(ctx, kgo.TryAbort)
		})
		if err == nil {
			if t.sent.Load() {
				// Not used again: the slot's next transaction makes a
				// new client, whose InitProducerId bumps the epoch (see
				// Producer.BeginTxn).
				t.g.breakWith(txnError("aborted with sends", errAbortedWithSends))
			}
			t.p.put(t.s)
			return nil
		}
		t.abandon(err)
	}
	t.p.replace(t.s, "a transaction was left open")
	switch {
	case ctx.Err() != nil:
		// Past the deadline already: making a client (the config func,
		// the connections) would only delay the invocation's answer.
		go t.p.settle(t.s)
	case t.p.ready(ctx, t.s) != nil:
		go t.p.settle(t.s)
	default:
		t.p.put(t.s)
	}
	return txnError("abort", fmt.Errorf("not aborted here (%w): its producer was replaced, which fences it and settles the transaction", t.cause))
}
