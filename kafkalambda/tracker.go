package kafkalambda

import (
	"fmt"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// purgeGrace is how long a flush that has purged at its deadline waits for
// the purged messages' reports before it counts them failed regardless.
const purgeGrace = 250 * time.Millisecond

// sendRef is what a message carries as its Opaque: which invocation's
// tracker counts it, and which record of which partition sent it.
type sendRef struct {
	tr     *tracker
	gen    *generation
	run    *partRun
	offset int64
	topic  string
	done   bool // reported (or never enqueued); guarded by tr.mu
}

// sendFailure is a message that was not acknowledged.
type sendFailure struct {
	run    *partRun
	offset int64
	err    error
}

// tracker counts one invocation's messages until each has a delivery
// report. It is how flush-at-end waits on exactly this invocation's
// messages (librdkafka's Flush and Len count the whole producer's).
type tracker struct {
	mu        sync.Mutex
	pending   int
	sent      int
	failures  []sendFailure
	refs      []*sendRef
	gens      map[*generation]struct{}
	abandoned bool
	notify    chan struct{}
}

func newTracker() *tracker {
	return &tracker{gens: make(map[*generation]struct{}, 1), notify: make(chan struct{}, 1)}
}

func (t *tracker) add(ref *sendRef) {
	t.mu.Lock()
	t.pending++
	t.sent++
	t.refs = append(t.refs, ref)
	t.gens[ref.gen] = struct{}{}
	t.mu.Unlock()
}

// remove undoes add for a message that was never enqueued.
func (t *tracker) remove(ref *sendRef) {
	t.mu.Lock()
	t.pending--
	t.sent--
	ref.done = true
	t.mu.Unlock()
}

func (t *tracker) report(ref *sendRef, err error) {
	t.mu.Lock()
	if t.abandoned {
		t.mu.Unlock()
		return
	}
	t.pending--
	ref.done = true
	if err != nil {
		t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset,
			err: fmt.Errorf("%w: to %s: %w", ErrUndelivered, ref.topic, err)})
	}
	t.mu.Unlock()
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// wait returns once every message has a delivery report, or at deadline.
// At the deadline it purges what is still queued or in flight — so it
// cannot be delivered after the invocation has failed — waits briefly for
// the purge reports, and counts whatever is still missing as failed too.
// It returns the failures and the number of messages sent.
func (t *tracker) wait(deadline time.Time) ([]sendFailure, int) {
	if t.waitUntil(deadline) {
		return t.failures, t.sent
	}
	t.mu.Lock()
	gens := make([]*generation, 0, len(t.gens))
	for g := range t.gens {
		gens = append(gens, g)
	}
	t.mu.Unlock()
	for _, g := range gens {
		_ = g.p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight)
	}
	t.waitUntil(time.Now().Add(purgeGrace))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.abandoned = true
	for _, ref := range t.refs {
		if !ref.done {
			t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset,
				err: fmt.Errorf("%w: to %s: not acknowledged before the deadline", ErrUndelivered, ref.topic)})
		}
	}
	return t.failures, t.sent
}

// waitUntil reports whether every message was reported before deadline.
func (t *tracker) waitUntil(deadline time.Time) bool {
	var timer *time.Timer
	for {
		t.mu.Lock()
		n := t.pending
		t.mu.Unlock()
		if n == 0 {
			return true
		}
		d := time.Until(deadline)
		if d <= 0 {
			return false
		}
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		}
		select {
		case <-t.notify:
		case <-timer.C:
			return false
		}
	}
}
