package kafkalambda

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// engine is the untyped core of a Handler: the typed Process func and
// deserializers are adapted once into a recordRunner, so that the failure
// policies, the concurrency and the flush are written once.
type engine struct {
	cfg    config
	runner func(n int) recordRunner
	// parsers are where events are parsed: a warm function parses each
	// into the memory of an earlier one (see [Parser]), as large as the
	// largest event it parsed (Lambda's payload limit bounds that to
	// about 7 MB).
	parsers idle[Parser]
	mems    sendMems // the memory of invocations' sends, reused
}

// recordRunner deserializes and processes the i-th of the n records of a
// partition it was made for.
type recordRunner func(ctx context.Context, raw *RawRecord, i int) error

// invocation is the state of one Invoke.
type invocation struct {
	eng      *engine
	ctx      context.Context // Process's ctx: the Lambda deadline minus the margin
	cancel   context.CancelFunc
	deadline time.Time // zero without a Lambda deadline
	failed   atomic.Bool
	mu       sync.Mutex
	firstErr error
	sends    atomic.Pointer[tracker] // made on the first send
	runs     []partRun
	log      failureLog
	tel      *invTel   // nil without WithTracing or WithMetrics
	eos      *eosState // exactly-once mode: its transactions' common state
	ps       *Parser   // the event's memory, rewritten after the invocation
}

// partRun is one partition's progress in an invocation. Sends made while
// it runs are attributed to its current record.
type partRun struct {
	inv    *invocation
	pt     *Partition
	cur    int64 // offset of the record being processed
	stopAt int64 // the first record not done, when stopped
	err    error // why it stopped before its end; nil when it ran to the end
	dead   int   // records dead-lettered
	tel    *partTel

	// txn is the partition's transaction in exactly-once mode.
	txn *partTxn
	// held are the current record's sends in exactly-once mode, queued
	// when it is done.
	held []heldSend
}

type runKey struct{}

// runFrom returns the partition run a Process ctx belongs to.
func runFrom(ctx context.Context) *partRun {
	r, _ := ctx.Value(runKey{}).(*partRun)
	return r
}

func (e *engine) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	ctx, tel := e.cfg.tel.begin(ctx, start)
	ps := e.parsers.get()
	defer e.parsers.put(ps)
	ev, err := ps.Parse(payload)
	if err != nil {
		e.cfg.logger.ErrorContext(ctx, "kafkalambda: cannot read the event", traceAttrs(ctx, append(requestAttrs(ctx),
			"error", err.Error()))...)
		tel.end(nil, nil, 0, outcome{err: err})
		return nil, err
	}
	tel.event(ev)
	inv := &invocation{eng: e, tel: tel, ps: ps}
	inv.log.init(ctx, e.cfg.logger)
	if d, ok := ctx.Deadline(); ok {
		inv.deadline = d.Add(-e.cfg.margin)
		inv.ctx, inv.cancel = context.WithDeadline(ctx, inv.deadline)
	} else {
		inv.ctx, inv.cancel = context.WithCancel(ctx)
	}
	defer inv.cancel()
	inv.runs = make([]partRun, len(ev.Partitions))
	for i := range ev.Partitions {
		inv.runs[i] = partRun{inv: inv, pt: &ev.Partitions[i]}
	}
	if out, ok := inv.begin(ctx, ev); !ok {
		return out.payload, out.err
	}
	inv.processAll()

	var failures []sendFailure
	sent := 0
	tel.flushing(inv.ctx)
	if inv.eng.cfg.producer != nil {
		// Made here if no send made it: waiting seals it, so that a send
		// from a goroutine Process left running fails rather than go
		// out uncounted.
		failures, sent = inv.tracker(true).wait(inv.flushDeadline())
	}
	out := inv.end(inv.answer(failures), failures)
	for _, f := range failures {
		act := actionReport
		if out.err != nil {
			act = actionFailBatch
		}
		inv.log.record(ctx, f.run.pt.Topic, f.run.pt.Partition, f.offset, f.err, Classify(f.err), act)
	}
	inv.logOutcome(ev, sent, failures, out, time.Since(start))
	tel.end(inv, failures, sent, out)
	if t := inv.tracker(false); t != nil && t.recyclable() {
		e.mems.put(t.mem)
	}
	return out.payload, out.err
}

// flushDeadline is when waiting for the brokers gives up: the Lambda
// deadline minus the margin, or WithFlushTimeout from now without one.
func (inv *invocation) flushDeadline() time.Time {
	if inv.deadline.IsZero() {
		return time.Now().Add(inv.eng.cfg.noDeadlineWait)
	}
	return inv.deadline
}

// tracker returns the invocation's send tracker, creating it if create.
func (inv *invocation) tracker(create bool) *tracker {
	if t := inv.sends.Load(); t != nil || !create {
		return t
	}
	if t := newTracker(inv.purge, inv.eng.mems.get()); !inv.sends.CompareAndSwap(nil, t) {
		inv.eng.mems.put(t.mem) // another send made it first
	}
	return inv.sends.Load()
}

// fail records a failure that fails the whole invocation and stops every
// partition.
func (inv *invocation) fail(err error) {
	inv.mu.Lock()
	if inv.firstErr == nil {
		inv.firstErr = err
	}
	inv.mu.Unlock()
	if inv.failed.CompareAndSwap(false, true) {
		inv.cancel()
	}
}

func (inv *invocation) processAll() {
	n := inv.eng.cfg.concurrency
	if n == 1 || len(inv.runs) <= 1 {
		for i := range inv.runs {
			inv.process(&inv.runs[i])
		}
		return
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range inv.runs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			inv.process(&inv.runs[i])
		})
	}
	wg.Wait()
}

// process runs one partition's records in offset order until the end, or
// until a failure stops it (see handle), or the invocation fails or
// reaches its deadline.
func (inv *invocation) process(r *partRun) {
	ctx := context.WithValue(inv.ctx, runKey{}, r)
	r.tel = inv.tel.partition(r)
	run := inv.eng.runner(len(r.pt.Records))
	for i := range r.pt.Records {
		raw := &r.pt.Records[i]
		if inv.failed.Load() {
			// Not a failure of this record: the invocation's own error says
			// why, and the whole batch is retried.
			r.stop(raw.Offset, recordError(raw, StageProcess, errNotProcessed))
			return
		}
		if err := inv.ctx.Err(); err != nil {
			// Out of time: the rest of the partition is left for the retry.
			// A response that can name records reports them, so that what
			// was done counts; otherwise the batch fails.
			err = recordError(raw, StageProcess, fmt.Errorf("%w: %w", errDeadline, err))
			r.stop(raw.Offset, err)
			if !inv.itemMode() {
				inv.fail(err)
			}
			return
		}
		r.cur = raw.Offset
		rctx, rec := r.tel.record(ctx, raw)
		err := run(rctx, raw, i)
		if err == nil {
			if err = r.release(ctx, raw); err == nil {
				rec.done(nil, "", "")
				continue
			}
		}
		class := Classify(err)
		if class == ClassRecord && inv.ctx.Err() != nil {
			// The deadline, not the record, is the likelier cause: a
			// Process cut short need not say so in its error.
			class = ClassEnvironment
		}
		goesOn := inv.handle(rctx, r, raw, err, class)
		rec.done(err, class, inv.actionAfter(goesOn))
		if !goesOn {
			return
		}
	}
}

// errDeadline is why records are left when the invocation runs out of time.
var errDeadline = fmt.Errorf("%w: not processed before the deadline", ErrTransient)

// itemMode reports whether the invocation's answer can name failed records
// (a batchItemFailures response) rather than fail as a whole.
func (inv *invocation) itemMode() bool {
	return inv.eng.cfg.policy.kind == policyItemFailures || inv.eng.cfg.envItemFailures
}

// errNotProcessed is why records after an invocation-wide failure are
// left: they are retried with the batch.
var errNotProcessed = fmt.Errorf("%w: not processed: the batch had already failed", ErrBatchFailed)

// handle applies the failure policy to a failed record and reports
// whether its partition goes on.
//
//   - The record's fault: FailBatch fails the invocation; ReportItemFailures
//     stops the partition here (the record and the rest of the partition are
//     reported); DeadLetter writes it to its destination and goes on.
//   - The environment's or the operator's fault: never dead-lettered. It
//     fails the invocation, or, with WithEnvironmentItemFailures, stops the
//     partition here like a reported record.
func (inv *invocation) handle(ctx context.Context, r *partRun, raw *RawRecord, err error, class FailureClass) bool {
	cfg := &inv.eng.cfg
	act := actionFailBatch
	switch {
	case class != ClassRecord && cfg.envItemFailures:
		act = actionReport
	case class != ClassRecord:
	case cfg.policy.kind == policyItemFailures:
		act = actionReport
	case cfg.policy.kind == policyDeadLetter:
		act = actionDeadLetter
	}
	r.discard()
	var derr error
	if act == actionDeadLetter {
		if derr = inv.deadLetter(ctx, r, raw, err); derr == nil {
			derr = r.release(ctx, raw)
		}
		if derr != nil {
			// The record cannot be set aside: the batch fails, so that it
			// is retried rather than dropped.
			act = actionFailBatch
		}
	}
	inv.log.record(ctx, raw.Topic, raw.Partition, raw.Offset, err, class, act)
	if act == actionDeadLetter {
		r.dead++
		return true
	}
	if derr != nil {
		err = fmt.Errorf("kafkalambda: dead-letter %s-%d@%d: %w", raw.Topic, raw.Partition, raw.Offset, derr)
	}
	r.stop(raw.Offset, err)
	if act == actionFailBatch {
		inv.fail(err)
	}
	return false
}

// stop records that the run ended before its end, at offset, because of
// err (never nil).
func (r *partRun) stop(offset int64, err error) {
	r.stopAt, r.err = offset, err
}

func (r *partRun) stopped() bool { return r.err != nil }
