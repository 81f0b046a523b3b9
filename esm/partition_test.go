package esm

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// fetchState is a fetchControl that keeps the paused set as the Kafka
// client does.
type fetchState struct {
	mu     sync.Mutex
	paused map[tp]bool
	calls  int
}

func (f *fetchState) set(m map[string][]int32, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused == nil {
		f.paused = map[tp]bool{}
	}
	for topic, ps := range m {
		for _, p := range ps {
			f.paused[tp{topic, p}] = on
		}
	}
	f.calls++
}

func (f *fetchState) PauseFetchPartitions(m map[string][]int32) map[string][]int32 {
	f.set(m, true)
	return nil
}

func (f *fetchState) ResumeFetchPartitions(m map[string][]int32) { f.set(m, false) }

func (f *fetchState) isPaused(t tp) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused[t]
}

func recsAt(from, n int64) []*rec {
	out := make([]*rec, n)
	for i := range out {
		out[i] = &rec{raw: kafkalambda.RawRecord{Topic: "t", Offset: from + int64(i)}, size: 10}
	}
	return out
}

func bigRoom(n int) *room { return &room{maxCount: n, limit: 1 << 20} }

// A partition is in at most one batch at a time: while a batch holds it, it
// offers nothing and gives nothing, and its next batch starts where the
// last one ended.
func TestPartitionOneBatchInFlight(t *testing.T) {
	t.Parallel()
	fc := &fetchState{}
	lim := limits{records: 100, bytes: 1 << 20}
	ps := newPartState(tp{"t", 0}, nil)
	if n := ps.add(recsAt(0, 5), lim, fc); n != 5 {
		t.Fatalf("added %d of 5", n)
	}
	if n := ps.add(recsAt(3, 4), lim, fc); n != 2 {
		t.Fatalf("a refetch of 3..6 added %d, want 5 and 6 only", n)
	}
	p, ok := ps.take(bigRoom(4), lim, fc)
	if !ok || fmt.Sprint(offsets(p.recs)) != "[0 1 2 3]" || p.end != 4 {
		t.Fatalf("first batch %v end %d ok %v; want [0 1 2 3] end 4", offsets(p.recs), p.end, ok)
	}
	if b := ps.backlog(); b.records != 0 {
		t.Fatalf("offers %d records while in flight", b.records)
	}
	if _, ok := ps.take(bigRoom(4), lim, fc); ok {
		t.Fatal("a second batch took the partition while the first is in flight")
	}
	ps.land()
	ps.land() // landing twice is harmless (a dropped part, then the batch's end)
	if b := ps.backlog(); b.records != 3 {
		t.Fatalf("offers %d records after landing, want 3", b.records)
	}
	p, ok = ps.take(bigRoom(4), lim, fc)
	if !ok || fmt.Sprint(offsets(p.recs)) != "[4 5 6]" || p.end != 7 {
		t.Fatalf("second batch %v end %d ok %v; want [4 5 6] end 7", offsets(p.recs), p.end, ok)
	}
}

// A release waits for the batch in flight to land, and none after it takes
// the partition or adds to it.
func TestPartitionReleaseWaitsForLanding(t *testing.T) {
	t.Parallel()
	fc := &fetchState{}
	lim := limits{records: 100, bytes: 1 << 20}
	idle := newPartState(tp{"t", 1}, nil)
	select {
	case <-idle.release():
	default:
		t.Fatal("releasing a partition with no batch in flight waits")
	}

	ps := newPartState(tp{"t", 0}, nil)
	ps.add(recsAt(0, 4), lim, fc)
	if _, ok := ps.take(bigRoom(2), lim, fc); !ok {
		t.Fatal("nothing taken")
	}
	landed := ps.release()
	select {
	case <-landed:
		t.Fatal("the release went on while a batch holds the partition")
	default:
	}
	if !ps.isGone() || ps.add(recsAt(4, 1), lim, fc) != 0 {
		t.Fatal("a released partition takes records")
	}
	ps.land()
	<-landed
	if _, ok := ps.take(bigRoom(2), lim, fc); ok {
		t.Fatal("a released partition gave a batch")
	}
	if b := ps.backlog(); b != (backlog{}) {
		t.Fatalf("a released partition offers %+v", b)
	}
}

// The partition's paused flag and the client's paused set agree once the
// fetcher and the runner are quiet, however their adds and takes interleave:
// each pause or resume is decided and made under the partition's lock.
func TestPartitionPauseInStepWithClient(t *testing.T) {
	t.Parallel()
	for round := range 50 {
		fc := &fetchState{}
		lim := limits{records: 4, bytes: 1 << 20}
		ps := newPartState(tp{"t", 0}, nil)
		const total = 200
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the fetcher: a client keeps fetching a paused partition's in-flight fetch
			defer wg.Done()
			for off := int64(0); off < total; off += 3 {
				ps.add(recsAt(off, min(3, total-off)), lim, fc)
			}
		}()
		taken := 0
		for taken < total {
			if p, ok := ps.take(bigRoom(2), lim, fc); ok {
				taken += len(p.recs)
				ps.land()
			} else {
				runtime.Gosched() // the fetcher's turn
			}
		}
		wg.Wait()
		ps.mu.Lock()
		paused := ps.paused
		ps.mu.Unlock()
		if paused != fc.isPaused(ps.tp) {
			t.Fatalf("round %d: the partition says paused=%v, the client %v", round, paused, fc.isPaused(ps.tp))
		}
		if paused {
			t.Fatalf("round %d: paused with an empty buffer: never fetched again", round)
		}
	}
}

// The commit position: a commit sends what is done and covers the records
// handled so far; a gone partition is committed only on its release.
func TestPartitionCommitPosition(t *testing.T) {
	t.Parallel()
	ps := newPartState(tp{"t", 0}, nil)
	if _, _, ok := ps.toCommit(false, false); ok {
		t.Fatal("nothing done, yet something to commit")
	}
	ps.complete(5, 5)
	ps.handled(1) // given up out of a batch whose part finishes later
	ps.complete(3, 0)
	off, n, ok := ps.toCommit(false, false)
	if !ok || off != 5 || n != 6 {
		t.Fatalf("to commit %d covering %d (%v); want 5 covering 6", off, n, ok)
	}
	ps.complete(8, 3) // finished while the commit was in flight
	ps.committedTo(off, n)
	if off, n, ok = ps.toCommit(false, false); !ok || off != 8 || n != 3 {
		t.Fatalf("to commit %d covering %d (%v); want 8 covering 3", off, n, ok)
	}
	ps.release()
	if _, _, ok := ps.toCommit(false, false); ok {
		t.Fatal("a gone partition is committed by a runner")
	}
	if off, _, ok := ps.toCommit(true, false); !ok || off != 8 {
		t.Fatalf("the release commits %d (%v), want 8", off, ok)
	}
}

// A runner's commit is tracked from its snapshot to its end: a release
// waits for it (commitSettled), and the records it covers are not behind,
// while those handled after its snapshot are.
func TestPartitionCommitInFlight(t *testing.T) {
	t.Parallel()
	ps := newPartState(tp{"t", 0}, nil)
	isClosed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	if !isClosed(ps.commitSettled()) || ps.behind() {
		t.Fatal("a fresh partition has a commit in flight, or records behind")
	}
	ps.complete(5, 5)
	if !ps.behind() {
		t.Fatal("handled records not committed are not behind")
	}
	off, n, ok := ps.toCommit(false, true)
	if !ok || off != 5 || n != 5 {
		t.Fatalf("to commit %d covering %d (%v); want 5 covering 5", off, n, ok)
	}
	settled := ps.commitSettled()
	if isClosed(settled) || ps.behind() {
		t.Fatal("the commit in flight is not waited for, or its records are behind")
	}
	ps.complete(7, 2) // the next batch, while the commit is in flight
	if !ps.behind() {
		t.Fatal("records handled after the commit's snapshot are not behind")
	}
	ps.committedTo(off, n)
	ps.commitEnded()
	if !isClosed(settled) || !isClosed(ps.commitSettled()) {
		t.Fatal("the commit ended, yet a release still waits")
	}
	if off, n, ok = ps.toCommit(false, false); !ok || off != 7 || n != 2 {
		t.Fatalf("to commit %d covering %d (%v); want 7 covering 2", off, n, ok)
	}
	ps.commitEnded() // an untracked commit has nothing to end
	if !isClosed(ps.commitSettled()) {
		t.Fatal("an untracked commit is waited for")
	}
}
