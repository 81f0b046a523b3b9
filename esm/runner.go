package esm

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runEnv is what the runners share: the settings and the collaborators a
// batch needs on its way (the target, the Kafka client for commits, fetch
// control and the on-failure topic, the schema registry, the counters).
// Run completes it before the first runner starts; it is read-only after,
// so its methods (the steps of a batch: invoke, act, fail, report...) hold
// no lock and run on any runner's goroutine, each on that runner's batch.
type runEnv struct {
	cfg     *Config
	set     *settings
	target  Target
	log     *slog.Logger
	stats   *counters
	shape   *envelope
	schema  *schemaResolver
	commits *committer
	lim     limits
	dir     dirDest // the files of WithOnFailureDir

	cl        *kgo.Client
	stopCtx   context.Context // done when Run is told to stop
	invokeCtx context.Context // done only when the shutdown timeout passes
}

// commitRetry is how often an idle runner retries a failed commit.
const commitRetry = time.Second

// runner is a batch runner: it owns a set of partitions, composes batches
// from their buffers and takes one batch at a time through invocations,
// retries and the on-failure topic to its commit (batch.go), so each of its
// partitions has at most one batch in flight and is invoked in offset
// order. Its lock guards its set of partitions only; wake and intr are how
// the rest of the mapping tells it that something changed.
type runner struct {
	env  *runEnv
	pool *pool // set for an elastic runner, which ends once it has no partition left

	mu    sync.Mutex
	parts []*partState

	wake chan struct{} // records arrived, or the set of partitions changed
	intr chan struct{} // a partition of its is being released

	// The runner's goroutine only.
	rr         int             // rotates which partition a batch starts with
	lastCommit time.Time       // of an idle commit retry
	inflight   *inflightCommit // the commit after the last invocation, until settled
}

func newRunner(env *runEnv, elastic *pool) *runner {
	return &runner{env: env, pool: elastic, wake: make(chan struct{}, 1), intr: make(chan struct{}, 1)}
}

// notify tells r that records arrived or its partitions changed.
func (r *runner) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// interrupt tells r that a partition of its is being released, so that a
// backoff wait ends and the batch drops it.
func (r *runner) interrupt() {
	select {
	case r.intr <- struct{}{}:
	default:
	}
	r.notify()
}

// adopt adds ps to r's partitions.
func (r *runner) adopt(ps *partState) {
	r.mu.Lock()
	r.parts = append(r.parts, ps)
	r.mu.Unlock()
	r.notify()
}

// drop removes ps from r's partitions.
func (r *runner) drop(ps *partState) {
	r.mu.Lock()
	r.parts = slices.DeleteFunc(r.parts, func(p *partState) bool { return p == ps })
	r.mu.Unlock()
	r.notify()
}

// partitions returns r's partitions.
func (r *runner) partitions() []*partState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.parts)
}

func (r *runner) load() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts)
}

// run takes batches until ctx is done (or, elastic, its partitions are
// gone), and reports the last invocation once its commit has ended.
func (r *runner) run(ctx context.Context) {
	defer r.settle()
	for {
		j := r.next(ctx)
		if j == nil {
			return
		}
		r.process(ctx, j)
	}
}

// next waits until a batch is due and returns it, or returns nil when the
// runner is to stop. A batch is due when the buffers hold BatchSize
// records, or enough bytes to fill an event, or when the oldest buffered
// record has waited for the batching window. While idle it retries a
// failed commit every commitRetry.
func (r *runner) next(ctx context.Context) *job {
	e := r.env
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		parts := r.partitions()
		if len(parts) == 0 && r.pool != nil && r.pool.retire(r) {
			return nil
		}
		n, size := 0, e.shape.size
		var oldest time.Time
		uncommitted := false
		for _, ps := range parts {
			b := ps.backlog()
			uncommitted = uncommitted || b.uncommitted
			if b.records == 0 {
				continue
			}
			n += b.records
			size += b.bytes
			if oldest.IsZero() || b.oldest.Before(oldest) {
				oldest = b.oldest
			}
		}
		wait := time.Duration(-1)
		if n > 0 {
			wait = time.Until(oldest.Add(e.set.window))
			if n >= e.set.batchSize || size >= e.set.maxPayload || wait <= 0 {
				if j := r.take(parts); len(j.parts) > 0 {
					return j
				}
			}
		}
		if r.inflight != nil {
			// Nothing to invoke yet: report the last invocation once its
			// commit has ended rather than after the next one.
			r.settle()
			continue
		}
		if uncommitted {
			// A commit failed (the coordinator was away): retry it while
			// idle rather than only with the next batch.
			if wait < 0 || wait > commitRetry {
				wait = commitRetry
			}
			if time.Since(r.lastCommit) >= commitRetry {
				r.lastCommit = time.Now()
				e.commits.counted(e.commits.send(ctx, e.cl, e.commits.prepare(parts, false, true)))
			}
		}
		var tc <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-r.intr:
		case <-tc:
		}
		timer.Stop()
	}
}

// take composes a batch from parts: up to BatchSize records whose event fits
// MaxPayloadBytes, from the partitions in rotating order, each partition's
// records from its oldest on (see partState.take). Its parts are sorted by
// topic and partition.
func (r *runner) take(parts []*partState) *job {
	e := r.env
	rm := room{maxCount: e.set.batchSize, limit: e.set.maxPayload - e.shape.size}
	j := &job{}
	n := len(parts)
	for i := 0; i < n && !rm.closed(); i++ {
		if p, ok := parts[(r.rr+i)%n].take(&rm, e.lim, e.cl); ok {
			j.parts = append(j.parts, p)
		}
	}
	r.rr++
	slices.SortFunc(j.parts, func(a, b part) int {
		return cmp.Or(strings.Compare(a.ps.tp.topic, b.ps.tp.topic), cmp.Compare(a.ps.tp.partition, b.ps.tp.partition))
	})
	return j
}

// pause waits d, or less when a partition of r is released. It returns
// false when ctx is done.
func (r *runner) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-r.intr:
	}
	return true
}

// PartitionsPerInvoker is how many partitions share an invoker by default
// (WithConcurrency 0): as an AWS poller does, an invoker's events hold
// records of all its partitions, so a function meets events with several
// "<topic>-<partition>" keys from two assigned partitions on.
const PartitionsPerInvoker = 2

// pool is the mapping's runners, laid out one of two ways. With
// WithConcurrency n > 0 it is a fixed set of n runners over which
// partitions are spread, the least loaded first. By default it is elastic:
// a new partition joins the first runner with fewer than
// PartitionsPerInvoker partitions, a runner is made when none has room,
// and a runner ends once its last partition is gone. Its lock guards which
// runners exist and whether they may start; runners start only once the
// mapping has reached the cluster (start), and none starts after stop.
type pool struct {
	env   *runEnv
	fixed []*runner // WithConcurrency's runners; nil when elastic

	mu      sync.Mutex
	elastic []*runner // the elastic runners not retired
	waiting []*runner // elastic runners made before start
	ctx     context.Context
	started bool
	stopped bool
	wg      sync.WaitGroup
}

func newPool(env *runEnv, size int) *pool {
	p := &pool{env: env}
	for range size {
		p.fixed = append(p.fixed, newRunner(env, nil))
	}
	return p
}

// place makes the state of a newly assigned partition and gives it to a
// runner: the least loaded of the fixed set, or an elastic one with room.
func (p *pool) place(t tp) *partState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.fixed) > 0 {
		best := p.fixed[0]
		for _, r := range p.fixed[1:] {
			if r.load() < best.load() {
				best = r
			}
		}
		ps := newPartState(t, best)
		best.adopt(ps)
		return ps
	}
	for _, r := range p.elastic {
		if r.load() < PartitionsPerInvoker {
			ps := newPartState(t, r)
			r.adopt(ps)
			return ps
		}
	}
	r := newRunner(p.env, p)
	ps := newPartState(t, r)
	r.adopt(ps)
	p.elastic = append(p.elastic, r)
	switch {
	case p.started && !p.stopped:
		p.launch(r)
	case !p.started:
		p.waiting = append(p.waiting, r)
	}
	return ps
}

// retire takes r, an elastic runner, out of the pool if it has no
// partition, and reports whether it did: r then ends. Under the pool's
// lock no partition can be placed with r meanwhile.
func (p *pool) retire(r *runner) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.load() > 0 {
		return false
	}
	p.elastic = slices.DeleteFunc(p.elastic, func(x *runner) bool { return x == r })
	return true
}

// start runs every runner made so far, and from now on each one made.
func (p *pool) start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx, p.started = ctx, true
	for _, r := range append(p.fixed, p.waiting...) {
		p.launch(r)
	}
	p.waiting = nil
}

// launch runs r. p.mu is held.
func (p *pool) launch(r *runner) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		r.run(p.ctx)
	}()
}

// stop lets no further runner start, and waits for those running, which
// end once the context start was given is done.
func (p *pool) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.wg.Wait()
}
