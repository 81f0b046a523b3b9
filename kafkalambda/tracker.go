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
// to: one allocation per send.
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

// tracker counts one invocation's messages until each has its outcome from
// the Producer. It is how flush-at-end waits on exactly this invocation's
// messages, even when several invocations share the producer.
//
// The sending side and the reporting side share only atomics, so that a
// report never waits for a send nor a send for a report; failures, rare,
// take failMu.
type tracker struct {
	purge   func() // gives up what the invocation's sinks hold
	pending atomic.Int64
	notify  chan struct{} // poked when pending reaches zero

	sendMu sync.Mutex
	sent   int
	refs   []*sendRef

	failMu    sync.Mutex
	failures  []sendFailure
	abandoned bool // after the deadline: late reports no longer count
}

func newTracker(purge func()) *tracker {
	return &tracker{purge: purge, notify: make(chan struct{}, 1)}
}

// send queues a message for the record r is processing, tracked until its
// outcome.
func (t *tracker) send(ctx context.Context, r *partRun, topic string, key, value []byte, headers []Header) error {
	ref := &sendRef{msg: Message{Topic: topic, Key: key, Value: value, Headers: headers}, t: t, run: r, offset: r.cur}
	t.sendMu.Lock()
	t.sent++
	t.refs = append(t.refs, ref)
	t.sendMu.Unlock()
	t.pending.Add(1)
	if err := r.sink().Produce(ctx, &ref.msg, ref); err != nil {
		t.sendMu.Lock()
		t.sent--
		t.sendMu.Unlock()
		ref.done.Store(true)
		t.done()
		return err
	}
	return nil
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
	t.done()
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
	// Every send of the invocation has returned: refs and sent are settled.
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
