package esm

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// worker is an invoker: it owns a set of partitions, builds batches from
// their buffers and processes one batch at a time, so each partition has at
// most one batch in flight.
type worker struct {
	m          *Mapping
	parts      []*partState // guarded by m.mu
	rr         int          // rotates which partition a batch starts with
	wake       chan struct{}
	intr       chan struct{} // a partition of this worker is being released
	lastCommit time.Time     // of an idle commit retry
}

// commitRetry is how often an idle worker retries a failed commit.
const commitRetry = time.Second

// partsCopy returns w's partitions.
func (w *worker) partsCopy() []*partState {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return slices.Clone(w.parts)
}

func newWorker(m *Mapping) *worker {
	return &worker{m: m, wake: make(chan struct{}, 1), intr: make(chan struct{}, 1)}
}

// notify tells w that records arrived.
func (w *worker) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// interrupt tells w that a partition of its is being released, so that a
// backoff wait ends and the batch drops it.
func (w *worker) interrupt() {
	select {
	case w.intr <- struct{}{}:
	default:
	}
	w.notify()
}

// drop removes ps from w. m.mu is held.
func (w *worker) drop(ps *partState) {
	w.parts = slices.DeleteFunc(w.parts, func(p *partState) bool { return p == ps })
}

func (w *worker) run(ctx context.Context) {
	defer w.m.wg.Done()
	for {
		j := w.next(ctx)
		if j == nil {
			return
		}
		w.m.process(ctx, w, j)
	}
}

// next waits until a batch is due and returns it, or returns nil when the
// worker is to stop. A batch is due when the buffers hold BatchSize records,
// or enough bytes to fill an event, or when the oldest buffered record has
// waited for the batching window.
func (w *worker) next(ctx context.Context) *job {
	m := w.m
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		m.mu.Lock()
		// With concurrency 0 each partition has an invoker of its own,
		// which ends when its partition is gone.
		if m.stopping || (m.set.concurrency == 0 && len(w.parts) == 0) {
			m.mu.Unlock()
			return nil
		}
		n, size := 0, m.envelope
		var oldest time.Time
		for _, ps := range w.parts {
			if ps.gone || len(ps.buf) == 0 {
				continue
			}
			n += len(ps.buf)
			size += ps.bufBytes
			if a := ps.buf[0].arrived; oldest.IsZero() || a.Before(oldest) {
				oldest = a
			}
		}
		uncommitted := false
		for _, ps := range w.parts {
			uncommitted = uncommitted || (!ps.gone && ps.done > ps.committed)
		}
		wait := time.Duration(-1)
		if n > 0 {
			wait = time.Until(oldest.Add(m.set.window))
			if n >= m.set.batchSize || size >= m.set.maxPayload || wait <= 0 {
				j, resume := w.take()
				m.mu.Unlock()
				if len(resume) > 0 {
					m.cl.ResumeFetchPartitions(resume)
				}
				return j
			}
		}
		m.mu.Unlock()
		if uncommitted {
			// A commit failed (the coordinator was away): retry it while
			// idle rather than only with the next batch.
			if wait < 0 || wait > commitRetry {
				wait = commitRetry
			}
			if time.Since(w.lastCommit) >= commitRetry {
				w.lastCommit = time.Now()
				m.commit(ctx, w.partsCopy(), false)
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
		case <-w.wake:
		case <-w.intr:
		case <-tc:
		}
		timer.Stop()
	}
}

// take moves a batch out of the buffers: up to BatchSize records whose event
// fits MaxPayloadBytes, from the partitions in rotating order, each
// partition's records from its oldest on. A record too large for an event on
// its own is taken alone (it goes to the on-failure topic). It marks the
// partitions busy and returns those to resume fetching. m.mu is held.
func (w *worker) take() (*job, map[string][]int32) {
	m := w.m
	limit := m.set.maxPayload - m.envelope
	j := &job{}
	var resume map[string][]int32
	count, size := 0, 0
	n := len(w.parts)
	for i := 0; i < n && count < m.set.batchSize && size <= limit; i++ {
		ps := w.parts[(w.rr+i)%n]
		if ps.gone || len(ps.buf) == 0 {
			continue
		}
		k, taken := 0, 0
		for k < len(ps.buf) && count < m.set.batchSize {
			add := ps.buf[k].size
			if k == 0 {
				add += len(ps.key) + 8 // "<key>":[],
			}
			if count > 0 && size+add > limit {
				break
			}
			size += add
			taken += ps.buf[k].size
			count++
			k++
			if size > limit {
				break
			}
		}
		if k == 0 {
			break
		}
		j.parts = append(j.parts, part{ps: ps, recs: ps.buf[:k:k], end: ps.buf[k-1].raw.Offset + 1})
		ps.buf = ps.buf[k:]
		if len(ps.buf) == 0 {
			ps.buf = nil
		}
		ps.bufBytes -= taken
		ps.busy = true
		if ps.paused && !m.full(ps) {
			ps.paused = false
			if resume == nil {
				resume = map[string][]int32{}
			}
			resume[ps.tp.topic] = append(resume[ps.tp.topic], ps.tp.partition)
		}
	}
	w.rr++
	slices.SortFunc(j.parts, func(a, b part) int {
		return cmp.Or(strings.Compare(a.ps.tp.topic, b.ps.tp.topic), cmp.Compare(a.ps.tp.partition, b.ps.tp.partition))
	})
	return j, resume
}

// sleep waits d, or less when a partition of w is released. It returns
// false when ctx is done.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-w.intr:
	}
	return true
}
