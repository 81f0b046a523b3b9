package kafkalambda

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// purgeGrace is how long a flush that has purged at its deadline waits for
// the purged messages' reports before it counts them failed regardless.
const purgeGrace = 250 * time.Millisecond

// sendRef is one message of an invocation — the message itself, and which
// record of which partition sent it — and the Delivery its Producer reports
// to. sendRefs live in the tracker's chunks, not one allocation each.
type sendRef struct {
	msg    Message
	t      *tracker
	run    *partRun
	offset int64
	done   atomic.Bool // reported (a Producer reports each message once)
}

// Done implements Delivery.
func (ref *sendRef) Done(err error) { ref.t.report(ref, err) }

// sendFailure is a message that was not acknowledged; err is a
// *RecordError at StageSend for the record that sent it.
type sendFailure struct {
	run    *partRun
	offset int64
	err    error
}

// Chunk sizes of the tracker's sendRefs: the first chunk fits an
// invocation that sends a few records, later ones double up to the
// largest, so that a fan-out of thousands costs a handful of allocations.
// The largest (256 × 120 bytes) stays under the runtime's large-object
// size (32 KB), so that chunks come from its size-classed spans rather
// than fresh pages.
const (
	firstChunk = 8
	maxChunk   = 256
)

// tracker counts one invocation's messages until each has its outcome from
// the Producer. It is how flush-at-end waits on exactly this invocation's
// messages, even when several invocations share the producer.
//
// The sending side and the reporting side share no counter: sends count
// under sendMu, which only senders take; reports count in reported, which
// only reports write. wait publishes the final count of sends (want) and
// then sets waiting; a report that finds waiting set and brings reported
// to want pokes notify. A report never waits for a send nor a send for a
// report; failures, rare, take failMu.
type tracker struct {
	purge func() // gives up what the invocation's sinks hold

	sendMu sync.Mutex
	sent   int
	chunks [][]sendRef // every message sent, in order; the last one filling
	used   int         // sendRefs used in the last chunk

	// want is the number of messages sent, set by wait before waiting.
	want     int64
	_        [56]byte // keep the reports' counter off the senders' cache line
	reported atomic.Int64
	waiting  atomic.Bool
	notify   chan struct{} // poked when reported reaches want while waiting

	failMu    sync.Mutex
	failures  []sendFailure
	abandoned bool // after the deadline: late reports no longer count
}

func newTracker(purge func()) *tracker {
	return &tracker{purge: purge, notify: make(chan struct{}, 1)}
}

// ref returns a new sendRef; t.sendMu is held.
func (t *tracker) ref() *sendRef {
	if n := len(t.chunks); n == 0 || t.used == len(t.chunks[n-1]) {
		size := firstChunk
		if n > 0 {
			size = min(2*len(t.chunks[n-1]), maxChunk)
		}
		t.chunks = append(t.chunks, make([]sendRef, size))
		t.used = 0
	}
	ref := &t.chunks[len(t.chunks)-1][t.used]
	t.used++
	return ref
}

// send queues a message for the record r is processing, tracked until its
// outcome.
func (t *tracker) send(ctx context.Context, r *partRun, topic string, key, value []byte, headers []Header) error {
	t.sendMu.Lock()
	ref := t.ref()
	t.sent++
	t.sendMu.Unlock()
	ref.msg = Message{Topic: topic, Key: key, Value: value, Headers: headers}
	ref.t, ref.run, ref.offset = t, r, r.cur
	if err := r.sink().Produce(ctx, &ref.msg, ref); err != nil {
		// Not queued, and never reported: not counted.
		ref.done.Store(true)
		t.sendMu.Lock()
		t.sent--
		t.sendMu.Unlock()
		return err
	}
	return nil
}

// counted counts one report, and pokes wait when it was the last one.
func (t *tracker) counted() {
	// reported is written before waiting is read, and wait writes waiting
	// before it reads reported: one of the two sees the other's write, so
	// the last report is never missed.
	if n := t.reported.Add(1); t.waiting.Load() && n == t.want {
		select {
		case t.notify <- struct{}{}:
		default:
		}
	}
}

func (t *tracker) report(ref *sendRef, err error) {
	if err != nil {
		// done is set under failMu, so that wait, which reads it under
		// failMu once abandoned, counts the failure exactly once.
		t.failMu.Lock()
		if t.abandoned {
			t.failMu.Unlock()
			return // already counted failed by wait
		}
		t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset, err: undelivered(ref, err)})
		ref.done.Store(true)
		t.failMu.Unlock()
	} else {
		// A success racing with the deadline may still be counted failed
		// by wait: the safe side (the batch is retried).
		ref.done.Store(true)
	}
	t.counted()
}

// undelivered is the error of a message that was not acknowledged: a
// *RecordError at StageSend for the record that sent it, wrapping
// ErrUndelivered and the Producer's reason, whose class it keeps (the
// environment's when the Producer does not say).
func undelivered(ref *sendRef, err error) error {
	err = fmt.Errorf("%w: to %s: %w", ErrUndelivered, ref.msg.Topic, err)
	pt := ref.run.pt
	return &RecordError{Topic: pt.Topic, Partition: pt.Partition, Offset: ref.offset, Stage: StageSend, Err: err}
}

// wait returns once every message has its outcome, or at deadline. At the
// deadline it purges the producer — so that what is still queued or in
// flight cannot be delivered after the invocation has failed — waits
// briefly for the purge reports, and counts whatever is still missing as
// failed too. It returns the failures and the number of messages sent.
func (t *tracker) wait(deadline time.Time) ([]sendFailure, int) {
	// Every send of the invocation has returned: chunks and sent are
	// settled.
	t.want = int64(t.sent)
	t.waiting.Store(true)
	if t.waitUntil(deadline) {
		t.failMu.Lock()
		defer t.failMu.Unlock()
		return t.failures, t.sent
	}
	t.purge()
	t.waitUntil(time.Now().Add(purgeGrace))
	t.failMu.Lock()
	defer t.failMu.Unlock()
	t.abandoned = true
	for _, c := range t.chunks {
		for i := range c {
			ref := &c[i]
			if ref.t != nil && !ref.done.Load() {
				err := undelivered(ref, errors.New("not acknowledged before the deadline"))
				t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset, err: err})
			}
		}
	}
	return t.failures, t.sent
}

// waitUntil reports whether every message was reported before deadline.
func (t *tracker) waitUntil(deadline time.Time) bool {
	var timer *time.Timer
	for {
		if t.reported.Load() == t.want {
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
