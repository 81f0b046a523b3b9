package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// job is a batch on its way through invocations and retries. Its parts are
// sorted by topic and partition, each part's records in offset order.
type job struct {
	parts      []part
	attempts   int // failed invocations counted against MaximumRetryAttempts
	invokeErrs int // invoke errors in a row, for the backoff
	wait       time.Duration
	last       *invocation // the last invocation, for on-failure records
}

// part is one partition's records in a job. end is the commit position
// once the part is done: one past the last record the job took, even if
// records were removed (expired, sent to the on-failure topic) since. held
// are the offsets, increasing, of records between recs that are done but
// not yet under the commit position: under RetryListed, the records a
// partial response did not list after the first one it did.
type part struct {
	ps   *partState
	recs []*rec
	end  int64
	held []int64
}

func (j *job) records() int {
	n := 0
	for _, p := range j.parts {
		n += len(p.recs)
	}
	return n
}

// drain takes every record out of j (its parts and their ends stay) and
// returns them in order.
func (j *job) drain() []*rec {
	var recs []*rec
	for i := range j.parts {
		recs = append(recs, j.parts[i].recs...)
		j.parts[i].recs = nil
	}
	return recs
}

// invocation is one call of the target and how it came out.
type invocation struct {
	res     Result
	outcome Outcome
	err     error
	listed  map[*partState][]int64 // OutcomePartial: offsets listed per partition, increasing
	seq     int64
	bytes   int
	took    time.Duration
}

// process takes a batch through invocations until every record in it is
// handled (processed by the function, sent to the on-failure topic or
// discarded) or the mapping stops. Records not handled when it stops stay
// uncommitted. After each invocation it commits (commitAfter); at the end
// it lands the batch's partitions (their next batch may be taken, their
// release go on, once the commit in flight has ended) and commits what was
// handled since, if anything was.
func (r *runner) process(ctx context.Context, first *job) {
	e := r.env
	owned := make([]*partState, len(first.parts))
	for i, p := range first.parts {
		owned[i] = p.ps
	}
	defer func() {
		for _, ps := range owned {
			ps.land()
		}
		if slices.ContainsFunc(owned, (*partState).behind) {
			r.settle()
			e.commits.counted(e.commits.send(e.invokeCtx, e.cl, e.commits.prepare(owned, false, true)))
			return
		}
		e.commits.counted(0) // the test hook sees each batch end, as it did each commit
	}()

	queue := []*job{first}
	for len(queue) > 0 {
		dropGone(queue)
		j := queue[0]
		if j.wait > 0 {
			r.settle() // report the failure before the backoff, not after the retry
			if !r.pause(ctx, j.wait) {
				return
			}
			j.wait = 0
			dropGone(queue)
		}
		if ctx.Err() != nil {
			return // stopping: what is left stays uncommitted
		}
		if len(j.parts) == 0 {
			queue = queue[1:]
			continue
		}
		rejects, err := e.applySchema(ctx, j)
		if err != nil {
			j.invokeErrs++
			j.wait = e.set.backoff(j.invokeErrs)
			e.log.Warn("esm: schema registry unavailable; retrying", "err", err, "wait", j.wait)
			continue
		}
		for _, condition := range []string{ConditionSchemaNotFound, ConditionDeserializationError} {
			if _, _, err := e.fail(rejects[condition], condition, nil); err != nil {
				return
			}
		}
		if _, _, err := e.fail(j.expire(e.set.maxAge, time.Now()), ConditionRecordAgeExceeded, j.last); err != nil {
			return
		}
		e.filter(j)
		if j.records() == 0 {
			j.finish()
			queue = queue[1:]
			continue
		}
		payload := e.encode(j)
		if len(payload) > e.set.maxPayload {
			if j.records() == 1 {
				if _, _, err := e.fail(j.drain(), ConditionPayloadTooLarge, nil); err != nil {
					return
				}
				j.finish()
				queue = queue[1:]
				continue
			}
			a, b := j.split()
			queue = append([]*job{a, b}, queue[1:]...)
			continue
		}
		inv := e.invoke(j, payload)
		if e.invokeCtx.Err() != nil {
			return // killed at the shutdown timeout: the outcome is not the function's
		}
		res := inv.result(j)
		queue = e.act(j, inv, &res, queue)
		r.commitAfter(owned, res)
	}
}

// inflightCommit is the commit a runner sent after an invocation. It is in
// flight while the runner goes on (its next batch, of the same partitions
// too, is invoked meanwhile: the commit waits on the broker, not on the
// function); the invocation is reported once it has ended (settle).
type inflightCommit struct {
	res  BatchResult
	done chan struct{}
	n    int // records the acknowledged commit covers; set before done is closed
}

// commitAfter commits owned after the invocation res reports: it ends the
// runner's commit in flight first (settle), so that the runner has one at
// most and the broker sees its commits in order, then sends this one
// without waiting for it. With nothing to commit it reports res at once.
func (r *runner) commitAfter(owned []*partState, res BatchResult) {
	e := r.env
	r.settle()
	pc := e.commits.prepare(owned, false, true)
	if pc == nil {
		e.report(res)
		e.commits.counted(0)
		return
	}
	c := &inflightCommit{res: res, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.n = e.commits.send(e.invokeCtx, e.cl, pc)
	}()
	r.inflight = c
}

// settle waits for the runner's commit in flight, if any, and reports its
// invocation with what the commit covered. The records it covers are
// counted after the report: once Stats counts them, WithOnBatch has seen
// the invocation.
func (r *runner) settle() {
	c := r.inflight
	if c == nil {
		return
	}
	r.inflight = nil
	<-c.done
	c.res.Committed = c.n
	r.env.report(c.res)
	r.env.commits.counted(c.n)
}

// act applies an invocation's outcome to the batch at the head of queue and
// returns the queue to go on with.
func (e *runEnv) act(j *job, inv *invocation, res *BatchResult, queue []*job) []*job {
	switch inv.outcome {
	case OutcomeInvokeError:
		j.invokeErrs++
		j.wait = e.set.backoff(j.invokeErrs)
		res.Retrying = j.records()
		return queue

	case OutcomeSuccess:
		res.Succeeded = j.records()
		e.stats.succeeded.Add(int64(res.Succeeded))
		j.finish()
		return queue[1:]

	case OutcomePartial:
		rest := j.partial(inv.listed, e.set.failureModel)
		res.Succeeded = j.records() - rest.records()
		e.stats.succeeded.Add(int64(res.Succeeded))
		rest.attempts, rest.last = j.attempts+1, inv
		if e.set.exhausted(rest.attempts) {
			res.OnFailure, res.Discarded = e.exhaust(rest, inv)
			return queue[1:]
		}
		rest.wait = e.set.backoff(rest.attempts)
		res.Retrying = rest.records()
		e.stats.retried.Add(int64(res.Retrying))
		queue[0] = rest
		return queue
	}

	// The whole batch failed: a function error or a bad response.
	j.last = inv
	if e.set.bisect && j.records() > 1 {
		a, b := j.split()
		res.Bisected = true
		res.Retrying = j.records()
		e.stats.bisections.Add(1)
		e.stats.retried.Add(int64(res.Retrying))
		return append([]*job{a, b}, queue[1:]...)
	}
	j.attempts++
	if e.set.exhausted(j.attempts) {
		res.OnFailure, res.Discarded = e.exhaust(j, inv)
		return queue[1:]
	}
	j.wait = e.set.backoff(j.attempts)
	res.Retrying = j.records()
	e.stats.retried.Add(int64(res.Retrying))
	return queue
}

// exhaust sends j's records to the on-failure topic (or discards them) and
// marks j done. It returns how many were sent and how many discarded; on a
// stop before the on-failure topic acknowledged them, j stays undone.
func (e *runEnv) exhaust(j *job, inv *invocation) (sent, discarded int) {
	sent, discarded, err := e.fail(j.drain(), ConditionRetriesExhausted, inv)
	if err == nil {
		j.finish()
	}
	return sent, discarded
}

// exhausted reports whether a batch that failed attempts times is out of
// retries.
func (s *settings) exhausted(attempts int) bool {
	return s.maxRetries >= 0 && attempts > s.maxRetries
}

// backoff is the wait before the retry that follows a batch's n-th failure:
// WithRetryBackoff's documented schedule, min doubling up to max, without
// jitter (a partition's retries follow one another, there is no herd to
// spread).
func (s *settings) backoff(n int) time.Duration {
	return retry.Policy{Initial: s.backoffMin, Max: s.backoffMax}.Ceiling(n)
}

// dropGone removes released partitions from the queued batches and lands
// them, so that their release can go on.
func dropGone(queue []*job) {
	for _, j := range queue {
		kept := j.parts[:0]
		for _, p := range j.parts {
			if p.ps.isGone() {
				p.ps.land()
				continue
			}
			kept = append(kept, p)
		}
		clear(j.parts[len(kept):])
		j.parts = kept
	}
}

// finish marks every part of j finished (see part.finish).
func (j *job) finish() {
	for _, p := range j.parts {
		p.finish()
	}
}

// finish marks p finished: its partition's commit position moves to p.end,
// and its records, held ones included, count as handled, to be covered by
// the next commit.
func (p part) finish() {
	p.ps.complete(p.end, len(p.recs)+len(p.held))
}

// partial handles reported item failures and returns the batch of the
// records to retry. listed is parseItemFailures' answer for j: per reported
// partition, the offsets listed, increasing, each that of a record of j. A
// partition not reported is done. In a reported one the records to retry
// are, under ResumeFromLowest, every record from the lowest listed offset
// on and, under RetryListed, the listed records only; the others are done.
// The commit position moves up to the lowest listed offset, and the records
// done after it are held in the retried part until it finishes.
func (j *job) partial(listed map[*partState][]int64, model ItemFailureModel) *job {
	rest := &job{}
	for _, p := range j.parts {
		offs, reported := listed[p.ps]
		if !reported {
			p.finish()
			continue
		}
		from := offs[0]
		retry := part{ps: p.ps, end: p.end}
		covered := 0 // done records now under the commit position
		for _, r := range p.recs {
			off := r.raw.Offset
			_, isListed := slices.BinarySearch(offs, off)
			switch {
			case off < from:
				covered++
			case isListed || model == ResumeFromLowest:
				retry.recs = append(retry.recs, r)
			default:
				retry.held = append(retry.held, off)
			}
		}
		for _, off := range p.held {
			if off < from {
				covered++
			} else {
				retry.held = append(retry.held, off)
			}
		}
		slices.Sort(retry.held)
		p.ps.complete(from, covered)
		rest.parts = append(rest.parts, retry)
	}
	return rest
}

// split bisects j by record count into two batches to run in order. Both
// keep j's attempts.
func (j *job) split() (a, b *job) {
	a = &job{attempts: j.attempts, last: j.last}
	b = &job{attempts: j.attempts, last: j.last}
	left := j.records() / 2
	for _, p := range j.parts {
		switch {
		case left == 0:
			b.parts = append(b.parts, p)
		case len(p.recs) <= left:
			a.parts = append(a.parts, p)
			left -= len(p.recs)
		default:
			cut := p.recs[left].raw.Offset
			h, _ := slices.BinarySearch(p.held, cut)
			a.parts = append(a.parts, part{ps: p.ps, recs: p.recs[:left:left], end: cut, held: p.held[:h:h]})
			b.parts = append(b.parts, part{ps: p.ps, recs: p.recs[left:], end: p.end, held: p.held[h:]})
			left = 0
		}
	}
	return a, b
}

// expire removes from j the records older than maxAge (MaximumRecordAge;
// negative: infinite) at now, and returns them.
func (j *job) expire(maxAge time.Duration, now time.Time) []*rec {
	if maxAge < 0 {
		return nil
	}
	cutoff := now.Add(-maxAge)
	var expired []*rec
	for i := range j.parts {
		p := &j.parts[i]
		kept := make([]*rec, 0, len(p.recs))
		for _, r := range p.recs {
			if ts := r.raw.Timestamp; ts.UnixMilli() > 0 && ts.Before(cutoff) {
				expired = append(expired, r)
				continue
			}
			kept = append(kept, r)
		}
		p.recs = kept
	}
	return expired
}

// encode returns j as an event payload.
func (e *runEnv) encode(j *job) []byte {
	parts := make([]kafkalambda.Partition, 0, len(j.parts))
	size := e.shape.size
	for _, p := range j.parts {
		if len(p.recs) == 0 {
			continue
		}
		raws := make([]kafkalambda.RawRecord, len(p.recs))
		for i, r := range p.recs {
			raws[i] = r.raw
			size += r.size
		}
		parts = append(parts, kafkalambda.Partition{Key: p.ps.key, Topic: p.ps.tp.topic, Partition: p.ps.tp.partition, Records: raws})
		size += len(p.ps.key) + 8
	}
	return e.shape.event(parts).AppendJSON(make([]byte, 0, size))
}

// invoke calls the target with payload and classifies the outcome. Every
// call takes the next Seq; one that returns an error is counted in
// Stats.InvokeErrors only, any other in Stats.Invocations (and j's records
// in RecordsInvoked and their invoke counts).
func (e *runEnv) invoke(j *job, payload []byte) *invocation {
	start := time.Now()
	res, err := e.call(payload)
	inv := &invocation{res: res, bytes: len(payload), took: time.Since(start), seq: e.stats.seq.Add(1)}
	if err != nil {
		inv.outcome = OutcomeInvokeError
		if !errors.Is(err, ErrInvoke) {
			err = fmt.Errorf("%w: %w", ErrInvoke, err)
		}
		inv.err = err
		e.stats.invokeErrors.Add(1)
		return inv
	}
	e.stats.invocations.Add(1)
	e.stats.invoked.Add(int64(j.records()))
	for _, p := range j.parts {
		for _, r := range p.recs {
			r.invokes++
		}
	}
	switch {
	case res.FunctionError != "":
		inv.outcome, inv.err = OutcomeFunctionError, functionError(res)
		e.stats.functionErrors.Add(1)
	case !e.set.itemFailures:
		inv.outcome = OutcomeSuccess
	default:
		listed, err := parseItemFailures(res.Payload, j)
		switch {
		case err != nil:
			inv.outcome, inv.err = OutcomeBadResponse, err
			e.stats.badResponses.Add(1)
		case len(listed) == 0:
			inv.outcome = OutcomeSuccess
		default:
			inv.outcome, inv.listed = OutcomePartial, listed
			e.stats.partialFailures.Add(1)
		}
	}
	return inv
}

// call invokes the target. When the shutdown timeout passes first, it
// returns without waiting for a target that does not heed its context.
func (e *runEnv) call(payload []byte) (Result, error) {
	type answer struct {
		res Result
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		res, err := e.target.Invoke(e.invokeCtx, payload)
		ch <- answer{res, err}
	}()
	select {
	case a := <-ch:
		return a.res, a.err
	case <-e.invokeCtx.Done():
		return Result{}, fmt.Errorf("%w: abandoned at the shutdown timeout: %w", ErrInvoke, e.invokeCtx.Err())
	}
}

// result starts the report of inv, an invocation of j.
func (inv *invocation) result(j *job) BatchResult {
	res := BatchResult{
		Seq:          inv.seq,
		Attempt:      j.attempts + 1,
		Records:      j.records(),
		PayloadBytes: inv.bytes,
		Duration:     inv.took,
		Outcome:      inv.outcome,
		Err:          inv.err,
		RequestID:    inv.res.RequestID,
	}
	for _, p := range j.parts {
		if len(p.recs) == 0 {
			continue
		}
		res.Partitions = append(res.Partitions, PartitionRange{
			Topic: p.ps.tp.topic, Partition: p.ps.tp.partition,
			First: p.recs[0].raw.Offset, Last: p.recs[len(p.recs)-1].raw.Offset, Records: len(p.recs),
		})
	}
	return res
}

// report logs an invocation's result and hands it to the OnBatch hook.
func (e *runEnv) report(res BatchResult) {
	level := slog.LevelDebug
	if res.Outcome != OutcomeSuccess {
		level = slog.LevelWarn
	}
	if e.log.Enabled(context.Background(), level) {
		attrs := []any{"seq", res.Seq, "outcome", res.Outcome, "attempt", res.Attempt, "records", res.Records,
			"bytes", res.PayloadBytes, "took", res.Duration.Round(time.Microsecond), "partitions", rangesString(res.Partitions),
			"succeeded", res.Succeeded, "committed", res.Committed}
		if res.Err != nil {
			attrs = append(attrs, "err", res.Err)
		}
		if res.Retrying > 0 {
			attrs = append(attrs, "retrying", res.Retrying, "bisected", res.Bisected)
		}
		if res.OnFailure+res.Discarded > 0 {
			attrs = append(attrs, "on_failure", res.OnFailure, "discarded", res.Discarded)
		}
		e.log.Log(context.Background(), level, "esm: batch", attrs...)
	}
	if e.set.onBatch != nil {
		e.set.onBatch(res)
	}
	if e.set.progress != nil {
		e.set.progress()
	}
}

func rangesString(rs []PartitionRange) string {
	var b []byte
	for i, r := range rs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "%s-%d@%d..%d", r.Topic, r.Partition, r.First, r.Last)
	}
	return string(b)
}
