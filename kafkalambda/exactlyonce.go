package kafkalambda

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The exactly-once mode (WithExactlyOnce) hooks into the engine at its
// boundaries only: the start of an invocation (begin: a transaction per
// partition of the event, the progress read, the records skipped), the end
// of each record (release: its sends are queued in its partition's
// transaction when it is done; discard: a failed record's are dropped) and
// the end of the invocation (end: commit or abort each). The delivery
// accounting is the engine's as in the default mode: the tracker sends
// through the partitions' transactions instead of the producer.
//
// A transaction per input partition, not per invocation, each claiming its
// partition's progress as it begins (Transactor.BeginTxn): an attempt that
// gave up on its transaction at its deadline — a commit that may still go
// through, in an environment frozen or timed out mid-commit — holds back
// the retry's progress read until it ends, so the retry sees all it did or
// nothing of it. Each partition's progress is in a consumer group of its
// own (ProgressGroup), so that a claim holds back no other partition's
// read on brokers that check pending offsets per group.

// eosState is what an invocation's transactions share.
type eosState struct {
	group   string
	parent  context.Context // the invocation's own ctx (with the Lambda deadline)
	skipped atomic.Int64
}

// ProgressGroup is the consumer group that holds, in exactly-once mode
// (WithExactlyOnce(group)), the progress through one input partition:
// group.topic.partition. Brokers with ACLs need the function's principal to
// have Read on the groups of prefix group (MSK IAM: kafka-cluster:
// AlterGroup and DescribeGroup on group/<cluster>/<uuid>/<group>*).
func ProgressGroup(group, topic string, partition int32) string {
	return group + "." + topic + "." + strconv.Itoa(int(partition))
}

// partTxn is a partition run's transaction.
type partTxn struct {
	txn   Txn
	group string // its progress group
	// next is the progress read for the partition: the next offset to
	// process, -1 for none.
	next int64
}

// heldSend is a send of the record being processed, held until the record
// is done.
type heldSend struct {
	topic      string
	key, value []byte
	headers    []Header
}

// sink is where the tracker queues an invocation's messages: the shared
// Producer, or a partition's Txn.
type sink interface {
	Produce(ctx context.Context, m *Message, d Delivery) error
	Purge()
}

// sink returns where r's messages go: its partition's transaction in
// exactly-once mode, the shared Producer otherwise.
func (r *partRun) sink() sink {
	if r.txn != nil {
		return r.txn.txn
	}
	return r.inv.eng.cfg.producer
}

// purge gives up what the invocation's sinks hold, queued or in flight.
func (inv *invocation) purge() {
	if inv.eos == nil {
		inv.eng.cfg.producer.Purge()
		return
	}
	for i := range inv.runs {
		if t := inv.runs[i].txn; t != nil {
			t.txn.Purge()
		}
	}
}

// begin starts the invocation's transactions in exactly-once mode: for each
// partition of the event (at once), it begins the partition's transaction,
// reads its progress, and drops from the partition the records that
// progress says were done. It reports false, with the answer to give, when
// the invocation cannot go on; the transactions begun are then already
// aborted. Without WithExactlyOnce it does nothing.
func (inv *invocation) begin(ctx context.Context, ev *Event) (outcome, bool) {
	cfg := &inv.eng.cfg
	if cfg.exactlyOnce == "" {
		return outcome{}, true
	}
	inv.eos = &eosState{group: cfg.exactlyOnce, parent: ctx}
	// A deadline even without a Lambda one: librdkafka's blocking calls
	// heed a ctx's deadline, not its cancellation.
	bctx, cancel := context.WithDeadline(inv.ctx, inv.flushDeadline())
	defer cancel()
	errs := make([]error, len(inv.runs))
	if len(inv.runs) == 1 {
		errs[0] = inv.runs[0].begin(bctx)
	} else {
		var wg sync.WaitGroup
		for i := range inv.runs {
			wg.Go(func() { errs[i] = inv.runs[i].begin(bctx) })
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		inv.abort()
		err = fmt.Errorf("%w: %w: %w", ErrBatchFailed, ErrTransaction, err)
		inv.log.log.ErrorContext(ctx, "kafkalambda: invocation failed", append(inv.log.req[:len(inv.log.req):len(inv.log.req)],
			"records", ev.Len(), "partitions", len(ev.Partitions), "class", string(Classify(err)), "error", err.Error())...)
		return outcome{err: err}, false
	}
	if n := inv.eos.skipped.Load(); n > 0 {
		inv.log.log.InfoContext(ctx, "kafkalambda: skipped records the progress says were done (exactly-once: a redelivered batch)",
			append(inv.log.req[:len(inv.log.req):len(inv.log.req)], "skipped", n, "group", inv.eos.group)...)
	}
	return outcome{}, true
}

// begin begins r's transaction, reads the partition's progress and drops
// the records it says were done. A transaction begun stays in r.txn, for
// the abort, even when the progress cannot be read.
func (r *partRun) begin(ctx context.Context) error {
	st := r.inv.eos
	owner := TxnOwner{Group: ProgressGroup(st.group, r.pt.Topic, r.pt.Partition), Topic: r.pt.Topic, Partition: r.pt.Partition}
	txn, err := r.inv.eng.cfg.producer.(Transactor).BeginTxn(ctx, owner)
	if err != nil {
		return fmt.Errorf("begin the transaction of %s: %w", owner, err)
	}
	r.txn = &partTxn{txn: txn, group: owner.Group, next: -1}
	next, err := txn.Progress(ctx, owner.Group, []PartitionOffset{{Topic: r.pt.Topic, Partition: r.pt.Partition, Offset: -1}})
	if err == nil && len(next) != 1 {
		err = fmt.Errorf("%w: the producer's Progress returned %d offsets for 1 partition", ErrProducer, len(next))
	}
	if err != nil {
		return fmt.Errorf("read the progress of %s: %w", owner, err)
	}
	r.txn.next = next[0]
	k := 0
	if n := next[0]; n >= 0 {
		for k < len(r.pt.Records) && r.pt.Records[k].Offset < n {
			k++
		}
	}
	st.skipped.Add(int64(k))
	r.pt.Records = r.pt.Records[k:]
	return nil
}

// hold keeps a send of the record r is processing until the record is
// done (exactly-once mode).
func (r *partRun) hold(topic string, key, value []byte, headers []Header) {
	r.held = append(r.held, heldSend{topic: topic, key: key, value: value, headers: headers})
}

// discard drops the sends of a record that failed: they are never queued.
func (r *partRun) discard() {
	clear(r.held)
	r.held = r.held[:0]
}

// release queues, in the invocation's transaction, the sends of the
// record r is processing, now that it is done (processed, or
// dead-lettered). A send that cannot be queued fails the record at
// StageSend; when some of the record's sends were queued before it, the
// transaction holds part of a failed record's output and cannot commit,
// so the invocation fails too. Without a transaction it does nothing.
func (r *partRun) release(ctx context.Context, raw *RawRecord) error {
	if len(r.held) == 0 {
		return nil
	}
	defer r.discard()
	for i, h := range r.held {
		if err := r.queue(ctx, h.topic, h.key, h.value, h.headers); err != nil {
			err = recordError(raw, StageSend, &sendError{h.topic, err})
			if i > 0 {
				r.inv.fail(fmt.Errorf("%w: %d of the record's sends are in the transaction: %w", ErrTransaction, i, err))
			}
			return err
		}
	}
	return nil
}

// end finishes the invocation's transactions and returns the answer: out
// when every one commits (or out's failure, after aborting them); a failure
// wrapping ErrTransaction when one does not — the others are aborted, or,
// committed already, skipped by the retry through their progress. A send
// that was not acknowledged fails the invocation whatever the policy: a
// transaction cannot commit part of its writes. Without exactly-once mode
// it returns out.
func (inv *invocation) end(out outcome, failures []sendFailure) outcome {
	st := inv.eos
	if st == nil {
		return out
	}
	if out.err == nil && len(failures) > 0 {
		out = outcome{err: fmt.Errorf("%w: %w: %d sent records not acknowledged, first: %w",
			ErrBatchFailed, ErrTransaction, len(failures), failures[0].err)}
	}
	if out.err != nil {
		inv.abort()
		return out
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(st.parent), inv.flushDeadline())
	defer cancel()
	errs := make([]error, len(inv.runs))
	var wg sync.WaitGroup
	for i := range inv.runs {
		r := &inv.runs[i]
		if r.txn == nil {
			continue
		}
		commit := func() {
			if err := r.txn.txn.Commit(ctx, r.txn.group, r.progress()); err != nil {
				errs[i] = fmt.Errorf("commit the transaction of %s-%d: %w", r.pt.Topic, r.pt.Partition, err)
				return
			}
			r.txn = nil // committed: nothing to abort
		}
		if len(inv.runs) == 1 {
			commit()
		} else {
			wg.Go(commit)
		}
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		return out
	}
	if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (not committed before the deadline)", err)
	}
	inv.abort()
	return outcome{err: fmt.Errorf("%w: %w: %w", ErrBatchFailed, ErrTransaction, err)}
}

// progress is what r's transaction commits: when the partition got further
// than its progress said, the first record not done — where it stopped, or
// after its last record.
func (r *partRun) progress() []PartitionOffset {
	if len(r.pt.Records) == 0 {
		return nil
	}
	next := r.pt.Records[len(r.pt.Records)-1].Offset + 1
	if r.stopped() {
		next = r.stopAt
	}
	if next <= r.txn.next {
		return nil
	}
	return []PartitionOffset{{Topic: r.pt.Topic, Partition: r.pt.Partition, Offset: next}}
}

// abort aborts the invocation's transactions still open (at once), bounded
// by half the deadline margin past the flush deadline: the rest of the
// margin is for the answer. An abort cut short is the Transactor's to
// finish (see BeginTxn); it is logged.
func (inv *invocation) abort() {
	st := inv.eos
	cfg := &inv.eng.cfg
	var until time.Time
	if inv.deadline.IsZero() {
		until = time.Now().Add(cfg.noDeadlineWait)
	} else {
		until = inv.deadline.Add(cfg.margin / 2)
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(st.parent), until)
	defer cancel()
	var wg sync.WaitGroup
	for i := range inv.runs {
		r := &inv.runs[i]
		if r.txn == nil {
			continue
		}
		t := r.txn.txn
		r.txn = nil
		wg.Go(func() {
			if err := t.Abort(ctx); err != nil {
				inv.log.log.WarnContext(inv.log.ctx, "kafkalambda: transaction abort did not finish here; the producer settles it before its next transaction",
					append(inv.log.req[:len(inv.log.req):len(inv.log.req)], "topic", r.pt.Topic, "partition", r.pt.Partition, "error", err.Error())...)
			}
		})
	}
	wg.Wait()
}
