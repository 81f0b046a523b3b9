package kafkalambda

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// trackerWithSends returns a tracker holding n sends of one partition's
// record, as send leaves them once the Producer has queued them, and a
// flag set when the tracker purges (its flush reached the deadline).
func trackerWithSends(n int) (*tracker, []*sendRef, *bool) {
	purged := new(bool)
	t := newTracker(func() { *purged = true }, new(sendMem))
	run := &partRun{pt: &Partition{Topic: "in", Partition: 0}, cur: 7}
	refs := make([]*sendRef, n)
	for i := range refs {
		ref := t.mem.ref()
		ref.msg = Message{Topic: "out"}
		ref.t, ref.run, ref.offset = t, run, run.cur
		t.sent++
		refs[i] = ref
	}
	return t, refs, purged
}

// The last report wakes a flush that is already waiting: the flush returns
// at once, with every message counted and none failed, and does not purge.
func TestTrackerLastReportWakesTheFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, refs, purged := trackerWithSends(3 * maxChunk) // several chunks
		var failures []sendFailure
		sent := -1
		var wg sync.WaitGroup
		wg.Go(func() { failures, sent = tr.wait(time.Now().Add(time.Minute)) })
		synctest.Wait() // the flush is waiting
		for _, ref := range refs {
			ref.Done(nil)
		}
		wg.Wait()
		if *purged || len(failures) != 0 || sent != len(refs) {
			t.Fatalf("purged %v, failures %v, sent %d; want no purge, none failed, %d sent", *purged, failures, sent, len(refs))
		}
	})
}

// Reports that race with the flush's start are counted whichever comes
// first: the flush never waits for a report that has already come.
func TestTrackerReportsRacingTheFlush(t *testing.T) {
	for range 200 {
		synctest.Test(t, func(t *testing.T) {
			tr, refs, purged := trackerWithSends(64)
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					for j := i; j < len(refs); j += 4 {
						refs[j].Done(nil)
					}
				})
			}
			failures, _ := tr.wait(time.Now().Add(time.Minute))
			wg.Wait()
			if *purged || len(failures) != 0 {
				t.Fatalf("purged %v, failures %v; want every report counted", *purged, failures)
			}
		})
	}
}

// At the deadline the flush purges and counts failed exactly the messages
// neither acknowledged nor already failed, once each.
func TestTrackerDeadlineCountsTheMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, refs, purged := trackerWithSends(20)
		refs[0].Done(nil)
		refs[1].Done(errors.New("rejected"))
		failures, sent := tr.wait(time.Now().Add(time.Second))
		if !*purged {
			t.Error("the flush did not purge at its deadline")
		}
		if sent != 20 || len(failures) != 19 {
			t.Fatalf("sent %d, %d failures; want 20 sent, 19 failed (all but the acknowledged one)", sent, len(failures))
		}
		for _, f := range failures {
			var re *RecordError
			if !errors.As(f.err, &re) || !errors.Is(f.err, ErrUndelivered) || re.Offset != 7 || re.Stage != StageSend {
				t.Fatalf("failure %v: want a *RecordError at StageSend for offset 7 wrapping ErrUndelivered", f.err)
			}
		}
		refs[2].Done(errors.New("purged")) // too late: already counted failed
		tr.failMu.Lock()
		defer tr.failMu.Unlock()
		if len(tr.failures) != 19 {
			t.Fatalf("a late report made the failures %d", len(tr.failures))
		}
	})
}
