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
// to. sendRefs live in the invocation's sendMem, not one allocation each.
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
// The sending side and the reporting side share no counter: sends count
// under sendMu, which reports never take; reports count in reported, which
// only reports write. wait publishes the final count of sends (want) and
// then sets waiting; a report that finds waiting set and brings reported
// to want pokes notify. A report never waits for a send nor a send for a
// report; failures, rare, take failMu.
type tracker struct {
	purge func() // gives up what the invocation's sinks hold

	// mem holds the messages and the copies the invocation made for them
	// (see sendMem); sendMu guards its sendRefs and sent, memMu its
	// copies.
	mem    *sendMem
	sendMu sync.Mutex
	sent   int
	memMu  sync.Mutex
	// sealed: wait began (set under both locks), so the invocation is
	// over; a send now, from a goroutine Process left running, fails
	// rather than write into memory the next invocation may be using.
	// active counts the sends between begin and end: a send that began
	// before the seal may still read the invocation's memory (tracing
	// reads its headers) after wait, so mem is not reused until none is.
	sealed atomic.Bool
	active atomic.Int64

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

// newTracker returns a tracker whose messages live in mem.
func newTracker(purge func(), mem *sendMem) *tracker {
	return &tracker{purge: purge, mem: mem, notify: make(chan struct{}, 1)}
}

// begin starts a send (from Output.Send or a dead letter, up to its
// queueing or holding): it fails once the invocation is over. end ends it.
func (t *tracker) begin() error {
	// active is raised before sealed is read, and wait raises sealed
	// before recyclable reads active: a send that finds the tracker not
	// sealed is seen active, until it ends.
	t.active.Add(1)
	if t.sealed.Load() {
		t.active.Add(-1)
		return errInvocationOver
	}
	return nil
}

func (t *tracker) end() { t.active.Add(-1) }

// own returns key, value and headers in memory the invocation owns until
// every message is reported: headers (the slice and its values) are always
// copied, so that the caller may reuse them once Send returns; key and
// value when copy says so (bytes a serde.RawSerializer lends, or the
// event's own, which the next Parse rewrites). It is called between begin
// and end.
func (t *tracker) own(key, value []byte, copyKey, copyValue bool, headers []Header) ([]byte, []byte, []Header) {
	if !copyKey && !copyValue && len(headers) == 0 {
		return key, value, nil
	}
	t.memMu.Lock()
	defer t.memMu.Unlock()
	if copyKey {
		key = t.mem.copyBytes(key)
	}
	if copyValue {
		value = t.mem.copyBytes(value)
	}
	return key, value, t.mem.copyHeaders(headers)
}

// errInvocationOver: a send after the invocation's flush began.
var errInvocationOver = fmt.Errorf("%w: its invocation has ended", ErrNoInvocation)

// send queues a message for the record r is processing, tracked until its
// outcome.
func (t *tracker) send(ctx context.Context, r *partRun, topic string, key, value []byte, headers []Header) error {
	t.sendMu.Lock()
	if t.sealed.Load() {
		t.sendMu.Unlock()
		return errInvocationOver
	}
	ref := t.mem.ref()
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

// report counts ref's outcome. A second report of one message within its
// invocation (a Producer that breaks its contract) is not counted:
// counting it would end the wait before another message's outcome is
// known. Once the invocation's memory is reused, nothing can tell a late
// second report from the first of the message now in ref.
func (t *tracker) report(ref *sendRef, err error) {
	if err != nil {
		// done is set under failMu, so that wait, which reads it under
		// failMu once abandoned, counts the failure exactly once.
		t.failMu.Lock()
		if t.abandoned || !ref.done.CompareAndSwap(false, true) {
			t.failMu.Unlock()
			return // already counted: failed by wait, or reported
		}
		t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset, err: undelivered(ref, err)})
		t.failMu.Unlock()
	} else if !ref.done.CompareAndSwap(false, true) {
		// A success racing with the deadline may still be counted failed
		// by wait (the safe side: the batch is retried); a second report is
		// not counted.
		return
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
	// Every send of the invocation has returned: mem's sendRefs and sent
	// are settled, and sealed keeps them so.
	t.sendMu.Lock()
	t.memMu.Lock()
	t.sealed.Store(true)
	t.want = int64(t.sent)
	t.memMu.Unlock()
	t.sendMu.Unlock()
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
	t.mem.eachRef(func(ref *sendRef) {
		if ref.t != nil && !ref.done.Load() {
			err := undelivered(ref, errors.New("not acknowledged before the deadline"))
			t.failures = append(t.failures, sendFailure{run: ref.run, offset: ref.offset, err: err})
		}
	})
	return t.failures, t.sent
}

// recyclable reports whether every message sent was acknowledged before
// the deadline, so that the tracker's sendMem can serve another
// invocation: a Producer does not touch a message it reported delivered.
// One that failed may still be held (a Producer that purges reports what
// its client still holds, and the client lets go of it later), so an
// invocation with a failure leaves its memory to the garbage collector.
// It is called once wait and the invocation's transactions are done.
func (t *tracker) recyclable() bool {
	t.sendMu.Lock()
	sent, sealed := t.sent, t.sealed.Load()
	t.sendMu.Unlock()
	t.failMu.Lock()
	defer t.failMu.Unlock()
	return sealed && t.active.Load() == 0 && !t.abandoned && len(t.failures) == 0 && t.reported.Load() == int64(sent)
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
