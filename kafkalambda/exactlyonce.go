package kafkalambda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The exactly-once mode (WithExactlyOnce) hooks into the engine at its
// boundaries only: the start of an invocation (begin: the transaction, the
// progress read, the records skipped), the end of each record (release:
// its sends are queued in the transaction when it is done; discard: a
// failed record's are dropped) and the end of the invocation (end: commit
// or abort). The delivery accounting is the engine's as in the default
// mode: the tracker sends through the transaction instead of the producer.

// txnState is an invocation's transaction.
type txnState struct {
	txn    Txn
	group  string
	parent context.Context // the invocation's own ctx (with the Lambda deadline)
	// next is the progress read for each partition of the event (the next
	// offset to process, -1 for none), in the event's partition order.
	next    []int64
	skipped int
}

// heldSend is a send of the record being processed, held until the record
// is done.
type heldSend struct {
	topic      string
	key, value []byte
	headers    []Header
}

// sink is where the tracker queues an invocation's messages: the shared
// Producer, or the invocation's Txn.
type sink interface {
	Produce(ctx context.Context, m *Message, d Delivery) error
	Purge()
}

// sink returns where the invocation's messages go.
func (inv *invocation) sink() sink {
	if inv.txn != nil {
		return inv.txn.txn
	}
	return inv.eng.cfg.producer
}

// begin starts the invocation's transaction in exactly-once mode: it
// begins it, reads the progress of the event's partitions, and drops from
// ev the records that progress says were done. It reports false, with the
// answer to give, when the invocation cannot go on; the transaction is then
// already aborted. Without WithExactlyOnce it does nothing.
func (inv *invocation) begin(ctx context.Context, ev *Event) (outcome, bool) {
	cfg := &inv.eng.cfg
	if cfg.exactlyOnce == "" {
		return outcome{}, true
	}
	fail := func(what string, err error) (outcome, bool) {
		err = fmt.Errorf("%w: %w: %s: %w", ErrBatchFailed, ErrTransaction, what, err)
		inv.log.log.ErrorContext(ctx, "kafkalambda: invocation failed", append(inv.log.req[:len(inv.log.req):len(inv.log.req)],
			"records", ev.Len(), "partitions", len(ev.Partitions), "class", string(Classify(err)), "error", err.Error())...)
		return outcome{err: err}, false
	}
	// A deadline even without a Lambda one: librdkafka's blocking calls
	// heed a ctx's deadline, not its cancellation.
	bctx, cancel := context.WithDeadline(inv.ctx, inv.flushDeadline())
	defer cancel()
	txn, err := cfg.producer.(Transactor).BeginTxn(bctx)
	if err != nil {
		return fail("begin", err)
	}
	st := &txnState{txn: txn, group: cfg.exactlyOnce, parent: ctx}
	parts := make([]PartitionOffset, len(ev.Partitions))
	for i := range ev.Partitions {
		parts[i] = PartitionOffset{Topic: ev.Partitions[i].Topic, Partition: ev.Partitions[i].Partition, Offset: -1}
	}
	if len(parts) > 0 {
		next, err := txn.Progress(bctx, st.group, parts)
		if err == nil && len(next) != len(parts) {
			err = fmt.Errorf("%w: the producer's Progress returned %d offsets for %d partitions", ErrProducer, len(next), len(parts))
		}
		if err != nil {
			inv.txn = st
			inv.abort()
			inv.txn = nil
			return fail("read the progress of group "+st.group, err)
		}
		st.next = next
	}
	for i := range ev.Partitions {
		pt := &ev.Partitions[i]
		k := 0
		if n := st.next[i]; n >= 0 {
			for k < len(pt.Records) && pt.Records[k].Offset < n {
				k++
			}
		}
		st.skipped += k
		pt.Records = pt.Records[k:]
	}
	if st.skipped > 0 {
		inv.log.log.InfoContext(ctx, "kafkalambda: skipped records the progress says were done (exactly-once: a redelivered batch)",
			append(inv.log.req[:len(inv.log.req):len(inv.log.req)], "skipped", st.skipped, "group", st.group)...)
	}
	inv.txn = st
	return outcome{}, true
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

// end finishes the invocation's transaction and returns the answer: out
// when the transaction commits (or out's failure, after aborting it); a
// failure wrapping ErrTransaction when it does not. A send that was not
// acknowledged fails the invocation whatever the policy: a transaction
// cannot commit part of its writes. Without a transaction it returns out.
func (inv *invocation) end(out outcome, failures []sendFailure) outcome {
	st := inv.txn
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
	err := st.txn.Commit(ctx, st.group, inv.progress())
	if err == nil {
		return out
	}
	if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (not committed before the deadline)", err)
	}
	inv.abort()
	return outcome{err: fmt.Errorf("%w: %w: commit: %w", ErrBatchFailed, ErrTransaction, err)}
}

// progress is what the invocation commits with its transaction: for each
// partition that got further than its progress said, the first record not
// done — where it stopped, or after its last record.
func (inv *invocation) progress() []PartitionOffset {
	var offs []PartitionOffset
	for i := range inv.runs {
		r := &inv.runs[i]
		if len(r.pt.Records) == 0 {
			continue
		}
		next := r.pt.Records[len(r.pt.Records)-1].Offset + 1
		if r.stopped() {
			next = r.stopAt
		}
		if next > inv.txn.next[i] {
			offs = append(offs, PartitionOffset{Topic: r.pt.Topic, Partition: r.pt.Partition, Offset: next})
		}
	}
	return slices.Clip(offs)
}

// abort aborts the invocation's transaction, bounded by half the deadline
// margin past the flush deadline: the rest of the margin is for the
// answer. An abort cut short is the Transactor's to finish (see BeginTxn);
// it is logged.
func (inv *invocation) abort() {
	st := inv.txn
	cfg := &inv.eng.cfg
	var until time.Time
	if inv.deadline.IsZero() {
		until = time.Now().Add(cfg.noDeadlineWait)
	} else {
		until = inv.deadline.Add(cfg.margin / 2)
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(st.parent), until)
	defer cancel()
	if err := st.txn.Abort(ctx); err != nil {
		inv.log.log.WarnContext(inv.log.ctx, "kafkalambda: transaction abort did not finish here; the producer settles it before its next transaction",
			append(inv.log.req[:len(inv.log.req):len(inv.log.req)], "error", err.Error())...)
	}
}

// warmTxn, in exactly-once mode, begins and aborts an empty transaction, so
// that the first invocation finds a transactional producer ready (Check,
// at INIT).
func (e *engine) warmTxn(ctx context.Context) error {
	if e.cfg.exactlyOnce == "" {
		return nil
	}
	txn, err := e.cfg.producer.(Transactor).BeginTxn(ctx)
	if err != nil {
		return fmt.Errorf("kafkalambda: init check: %w: begin: %w", ErrTransaction, err)
	}
	if err := txn.Abort(ctx); err != nil {
		return fmt.Errorf("kafkalambda: init check: %w: abort: %w", ErrTransaction, err)
	}
	return nil
}
