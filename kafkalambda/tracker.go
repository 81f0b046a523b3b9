package kafkalambda

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	done   atomic.Bool // reported, or never enqueued
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
//
// The sending side (Send, under sendMu) and the reporting side (the
// producer's event loop) share only atomics, so that a report never waits
// for a send nor a send for a report; failures, rare, take failMu.
type tracker struct {
	pending atomic.Int64
	notify  chan struct{} // poked when pending reaches zero

	sendMu sync.Mutex
	sent   int
	refs   []*sendRef
	gens   []*generation // the librdkafka producers used, for purging

	failMu    sync.Mutex
	failures  []sendFailure
	abandoned bool // after the deadline: late reports no longer count
}

func newTracker() *tracker {
	return &tracker{notify: make(chan struct{}, 1)}
}

func (t *tracker) add(ref *sendRef) {
	t.sendMu.Lock()
	t.sent++
	t.refs = append(t.refs, ref)
	if n := len(t.gens); n == 0 || t.gens[n-1] != ref.gen {
		if !slices.Contains(t.gens, ref.gen) {
			t.gens = append(t.gens, ref.gen)
		}
	}
	t.sendMu.Unlock()
	t.pending.Add(1)
}

// remove undoes add for a message that was never enqueued.
func (t *tracker) remove(ref *sendRef) {
	t.sendMu.Lock()
	t.sent--
	t.sendMu.Unlock()
	ref.done.Store(true)
	t.done()
}

func (t *tracker) done() {
	if t.pending.Add(-1) == 0 {
		select {
		case t.notify <- struct{}{}:
		default:
		}
	}
}

func (t *tracker) report(ref *sendRef, err error) {
	if err != nil {
		err = undelivered(ref, err)
		t.failMu.Lock()
		if t.abandoned {
			t.failMu.Unlock()
			return // already counted failed by wait
		}
		t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset, err: err})
		ref.done.Store(true)
		t.failMu.Unlock()
	} else {
		// A success racing with the deadline may still be counted failed
		// by wait: the safe side (the batch is retried).
		ref.done.Store(true)
	}
	t.done()
}

// undelivered is the error of a message that was not acknowledged: a
// *RecordError at StageSend for the record that sent it, classified
// (deliveryClass), and saying why — the producer's breakage, or the last
// broker error behind a purge or a timeout ("Connect to ... failed:
// Connection refused", an authentication failure, an unknown topic), which
// "Local: Purged in queue" alone does not say.
func undelivered(ref *sendRef, err error) error {
	var broken error
	if b := ref.gen.broken.Load(); b != nil {
		broken = *b
		err = fmt.Errorf("%w (%w)", err, broken)
	} else if c := ref.gen.lastCause.Load(); c != nil {
		err = fmt.Errorf("%w (last broker error: %w)", err, *c)
	} else if c := ref.gen.lastErr.Load(); c != nil {
		err = fmt.Errorf("%w (last broker error: %w)", err, *c)
	}
	var ke kafka.Error
	errors.As(err, &ke)
	err = classify(deliveryClass(ke, broken), ErrUndelivered, fmt.Errorf("to %s: %w", ref.topic, err))
	pt := ref.run.pt
	return &RecordError{Topic: pt.Topic, Partition: pt.Partition, Offset: ref.offset, Stage: StageSend, Err: err}
}

// wait returns once every message has a delivery report, or at deadline.
// At the deadline it purges what is still queued or in flight — so it
// cannot be delivered after the invocation has failed — waits briefly for
// the purge reports, and counts whatever is still missing as failed too.
// It returns the failures and the number of messages sent.
func (t *tracker) wait(deadline time.Time) ([]sendFailure, int) {
	// Every Send of the invocation has returned: refs, gens and sent are
	// settled.
	if t.waitUntil(deadline) {
		t.failMu.Lock()
		defer t.failMu.Unlock()
		return t.failures, t.sent
	}
	for _, g := range t.gens {
		_ = g.p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight)
	}
	t.waitUntil(time.Now().Add(purgeGrace))
	t.failMu.Lock()
	defer t.failMu.Unlock()
	t.abandoned = true
	for _, ref := range t.refs {
		if !ref.done.Load() {
			err := undelivered(ref, errors.New("not acknowledged before the deadline"))
			t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset, err: err})
		}
	}
	return t.failures, t.sent
}

// waitUntil reports whether every message was reported before deadline.
func (t *tracker) waitUntil(deadline time.Time) bool {
	var timer *time.Timer
	for {
		if t.pending.Load() == 0 {
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
