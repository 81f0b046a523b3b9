package kafkalambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
}

type runKey struct{}

// runFrom returns the partition run a Process ctx belongs to.
func runFrom(ctx context.Context) *partRun {
	r, _ := ctx.Value(runKey{}).(*partRun)
	return r
}

func (e *engine) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	ev, err := ParseEvent(payload)
	if err != nil {
		e.cfg.logger.Error("kafkalambda: cannot read the event", "error", err.Error())
		return nil, err
	}
	inv := &invocation{eng: e}
	if d, ok := ctx.Deadline(); ok {
		inv.deadline = d.Add(-e.cfg.margin)
		inv.ctx, inv.cancel = context.WithDeadline(ctx, inv.deadline)
	} else {
		inv.ctx, inv.cancel = context.WithCancel(ctx)
	}
	defer inv.cancel()
	inv.processAll(ev)

	var failures []sendFailure
	sent := 0
	if t := inv.tracker(false); t != nil {
		failures, sent = t.wait(inv.flushDeadline())
	}
	out, err := inv.answer(failures)
	e.logOutcome(ev, inv, sent, failures, err, time.Since(start))
	return out, err
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
	inv.sends.CompareAndSwap(nil, newTracker())
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

func (inv *invocation) processAll(ev *Event) {
	inv.runs = make([]partRun, len(ev.Partitions))
	for i := range ev.Partitions {
		inv.runs[i] = partRun{inv: inv, pt: &ev.Partitions[i]}
	}
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

// process runs one partition's records in offset order until the end, the
// first failure (FailBatch, ReportItemFailures) or the deadline.
func (inv *invocation) process(r *partRun) {
	policy := inv.eng.cfg.policy.kind
	ctx := context.WithValue(inv.ctx, runKey{}, r)
	run := inv.eng.runner(len(r.pt.Records))
	for i := range r.pt.Records {
		raw := &r.pt.Records[i]
		if inv.failed.Load() {
			r.stop(raw.Offset, errors.New("kafkalambda: not processed: the batch had already failed"))
			return
		}
		if err := inv.ctx.Err(); err != nil {
			err = recordError(raw, StageProcess, fmt.Errorf("not processed before the deadline: %w", err))
			r.stop(raw.Offset, err)
			if policy != policyItemFailures {
				inv.fail(err)
			}
			return
		}
		r.cur = raw.Offset
		err := run(ctx, raw, i)
		if err == nil {
			continue
		}
		switch policy {
		case policyItemFailures:
			r.stop(raw.Offset, err)
			return
		case policyDeadLetter:
			if inv.ctx.Err() != nil || IsTransient(err) {
				// Not the record's fault: retry the batch instead.
				r.stop(raw.Offset, err)
				inv.fail(err)
				return
			}
			if derr := inv.deadLetter(ctx, r, raw, err); derr != nil {
				r.stop(raw.Offset, derr)
				inv.fail(derr)
				return
			}
			r.dead++
		default:
			r.stop(raw.Offset, err)
			inv.fail(err)
			return
		}
	}
}

// stop records that the run ended before its end, at offset, because of
// err (never nil).
func (r *partRun) stop(offset int64, err error) {
	r.stopAt, r.err = offset, err
}

func (r *partRun) stopped() bool { return r.err != nil }

// answer turns the outcome into Invoke's result.
func (inv *invocation) answer(failures []sendFailure) ([]byte, error) {
	if inv.eng.cfg.policy.kind == policyItemFailures {
		return inv.itemFailures(failures)
	}
	if inv.firstErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrBatchFailed, inv.firstErr)
	}
	if len(failures) > 0 {
		return nil, fmt.Errorf("%w: %d sent records not acknowledged, first: %w",
			ErrBatchFailed, len(failures), failures[0].err)
	}
	return []byte("null"), nil
}

// ItemFailures is the response of a handler with ReportItemFailures, as
// the event source mapping reads it.
type ItemFailures struct {
	BatchItemFailures []ItemFailure `json:"batchItemFailures"`
}

// ItemFailure names the record a partition must resume from.
type ItemFailure struct {
	ItemIdentifier ItemIdentifier `json:"itemIdentifier"`
}

// ItemIdentifier is a partition (the event's records map key) and an
// offset.
type ItemIdentifier struct {
	Partition string `json:"partition"`
	Offset    int64  `json:"offset"`
}

func (inv *invocation) itemFailures(failures []sendFailure) ([]byte, error) {
	resume := make(map[*partRun]int64)
	for i := range inv.runs {
		if r := &inv.runs[i]; r.stopped() {
			resume[r] = r.stopAt
		}
	}
	for _, f := range failures { // every send is made by a record of a run
		if at, ok := resume[f.run]; !ok || f.offset < at {
			resume[f.run] = f.offset
		}
	}
	resp := ItemFailures{BatchItemFailures: []ItemFailure{}}
	for i := range inv.runs {
		r := &inv.runs[i]
		if at, ok := resume[r]; ok {
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				ItemFailure{ItemIdentifier{Partition: r.pt.Key, Offset: at}})
		}
	}
	return json.Marshal(resp)
}

func (e *engine) logOutcome(ev *Event, inv *invocation, sent int, failures []sendFailure, err error, took time.Duration) {
	log := e.cfg.logger
	if !log.Enabled(inv.ctx, slog.LevelError) {
		return // nothing would be written: build no attributes
	}
	failed, dead := 0, 0
	for i := range inv.runs {
		if inv.runs[i].stopped() {
			failed++
		}
		dead += inv.runs[i].dead
	}
	attrs := []any{"records", ev.Len(), "partitions", len(ev.Partitions), "sent", sent,
		"undelivered", len(failures), "dead_lettered", dead, "duration", took}
	switch {
	case err != nil:
		log.Error("kafkalambda: invocation failed", append(attrs, "error", err.Error())...)
	case failed > 0 || len(failures) > 0:
		first := ""
		for i := range inv.runs {
			if r := &inv.runs[i]; r.stopped() {
				first = r.pt.Key + "@" + strconv.FormatInt(r.stopAt, 10) + ": " + r.err.Error()
				break
			}
		}
		if first == "" && len(failures) > 0 {
			first = failures[0].err.Error()
		}
		log.Warn("kafkalambda: invocation reported item failures",
			append(attrs, "failed_partitions", failed, "first", first)...)
	case dead > 0:
		log.Warn("kafkalambda: invocation dead-lettered records", attrs...)
	default:
		log.Debug("kafkalambda: invocation succeeded", attrs...)
	}
}
