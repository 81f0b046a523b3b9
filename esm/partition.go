package esm

import (
	"sync"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

// rec is one fetched record, converted to the event's model. Once taken
// into a batch it belongs to that batch's runner: invokes and schema, and
// the key and value the schema integration rewrites, change on its
// goroutine only.
type rec struct {
	ps      *partState
	raw     kafkalambda.RawRecord
	origKey []byte // the key as in Kafka, for the on-failure record
	size    int    // upper bound of its bytes in an event, comma included
	arrived time.Time
	invokes int  // invocations it was part of
	schema  bool // schema metadata applied
}

// fetchControl pauses and resumes the fetching of partitions: the Kafka
// client's methods of the same names. Both are quick and never wait on the
// mapping, so a partition calls them under its own lock, which keeps the
// client's paused set and the partition's paused flag in step.
type fetchControl interface {
	PauseFetchPartitions(map[string][]int32) map[string][]int32
	ResumeFetchPartitions(map[string][]int32)
}

// limits bound what a partition buffers before its fetching pauses: two
// batches' worth of records or of bytes.
type limits struct {
	records, bytes int
}

// partState is one assigned partition: the records fetched and not yet in a
// batch, the offset expected next from a fetch, whether a batch holds it (at
// most one does), and its commit position. Its lock guards every field but
// tp, key and owner, which are set before it is shared; it is never held
// while waiting, and nothing else is locked under it but the Kafka client's
// pause state.
//
// The commit position moves in two steps: a runner completes records (done
// rises to the offset below which every record is handled, pending counts
// the handled records not yet covered by an acknowledged commit), and a
// commit the broker acknowledged moves committed up to what it snapshot.
type partState struct {
	tp    tp
	key   string  // "<topic>-<partition>", the event's records key
	owner *runner // the runner that takes its batches

	mu        sync.Mutex
	buf       []*rec // fetched, not yet in a batch
	bufBytes  int
	paused    bool          // its fetching is paused: the buffer was full
	gone      bool          // revoked or lost
	inFlight  bool          // a batch holds records of it
	idle      chan struct{} // closed when the batch in flight ends; nil when none is
	next      int64         // offset expected next from a fetch; -1 before the first
	done      int64         // commit position: every record before it is handled; -1 none
	committed int64         // last commit the broker acknowledged; -1 none
	pending   int           // handled records not yet covered by an acknowledged commit
	sending   int64         // position of the last runner's commit in flight; -1 none
	sends     int           // runners' commits in flight (a runner has one at most)
	sent      chan struct{} // closed when they have ended; nil when none is in flight
	first     int64         // offset of the first record fetched; -1 before it (Progress)
	hwm       int64         // high watermark of the last fetch with records; -1 before it (Progress)
}

func newPartState(t tp, owner *runner) *partState {
	return &partState{tp: t, key: where(t.topic, t.partition), owner: owner, next: -1, done: -1, committed: -1, sending: -1, first: -1, hwm: -1}
}

func (ps *partState) only() map[string][]int32 {
	return map[string][]int32{ps.tp.topic: {ps.tp.partition}}
}

// full reports whether the buffer holds enough that fetching should pause.
// ps.mu is held.
func (ps *partState) full(lim limits) bool {
	return len(ps.buf) >= lim.records || ps.bufBytes >= lim.bytes
}

// add appends fetched records to the buffer, skipping those it holds
// already (a refetch after a pause), and pauses fetching when the buffer is
// full. It returns how many it added; none when the partition is gone.
func (ps *partState) add(recs []*rec, lim limits, fc fetchControl) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.gone {
		return 0
	}
	added := 0
	for _, rc := range recs {
		if ps.next >= 0 && rc.raw.Offset < ps.next {
			continue
		}
		ps.next = rc.raw.Offset + 1
		if ps.first < 0 {
			ps.first = rc.raw.Offset
		}
		rc.ps = ps
		ps.buf = append(ps.buf, rc)
		ps.bufBytes += rc.size
		added++
	}
	if !ps.paused && ps.full(lim) {
		ps.paused = true
		fc.PauseFetchPartitions(ps.only())
	}
	return added
}

// backlog is what a partition offers to its runner's next batch.
type backlog struct {
	records, bytes int
	oldest         time.Time // when the oldest buffered record arrived
	uncommitted    bool      // handled records wait for a commit
}

// backlog returns what ps offers to a batch: nothing when it is gone or
// held by a batch in flight.
func (ps *partState) backlog() backlog {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.gone {
		return backlog{}
	}
	b := backlog{uncommitted: ps.done > ps.committed}
	if ps.inFlight || len(ps.buf) == 0 {
		return b
	}
	b.records, b.bytes, b.oldest = len(ps.buf), ps.bufBytes, ps.buf[0].arrived
	return b
}

// room is the space left in a batch being composed.
type room struct {
	count, size     int // the batch so far: records, and bytes beyond the envelope
	maxCount, limit int // BatchSize, and the bytes an event has beyond its envelope
	blocked         bool
}

// closed reports whether the batch takes no more records: it is full, or a
// partition's first record did not fit (later partitions wait for the next
// batch rather than overtake it).
func (r *room) closed() bool {
	return r.blocked || r.count >= r.maxCount || r.size > r.limit
}

// take moves records from the buffer into a batch, from the oldest on, as
// many as rm has room for: a record too large for an event on its own is
// taken alone, into an empty batch. It marks ps in flight, resumes its
// fetching if the buffer is no longer full, and returns the part; ok is
// false, and nothing is taken, when ps is gone, in flight or has nothing
// buffered, or when its first record does not fit (rm is then blocked).
func (ps *partState) take(rm *room, lim limits, fc fetchControl) (p part, ok bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.gone || ps.inFlight || len(ps.buf) == 0 {
		return part{}, false
	}
	k, taken := 0, 0
	for k < len(ps.buf) && rm.count < rm.maxCount {
		add := ps.buf[k].size
		if k == 0 {
			add += len(ps.key) + 8 // "<key>":[],
		}
		if rm.count > 0 && rm.size+add > rm.limit {
			break
		}
		rm.size += add
		taken += ps.buf[k].size
		rm.count++
		k++
		if rm.size > rm.limit {
			break
		}
	}
	if k == 0 {
		rm.blocked = true
		return part{}, false
	}
	p = part{ps: ps, recs: ps.buf[:k:k], end: ps.buf[k-1].raw.Offset + 1}
	ps.buf = ps.buf[k:]
	if len(ps.buf) == 0 {
		ps.buf = nil
	}
	ps.bufBytes -= taken
	ps.inFlight, ps.idle = true, make(chan struct{})
	if ps.paused && !ps.full(lim) {
		ps.paused = false
		fc.ResumeFetchPartitions(ps.only())
	}
	return p, true
}

// land ends the batch in flight on ps, if any: its next batch may be taken,
// and a release waiting for it goes on.
func (ps *partState) land() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.inFlight {
		ps.inFlight = false
		close(ps.idle)
		ps.idle = nil
	}
}

// complete moves the commit position up to upTo (it never moves down) and
// counts n more records handled, to be covered by the next commit.
func (ps *partState) complete(upTo int64, n int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.done = max(ps.done, upTo)
	ps.pending += n
}

// handled counts n more records handled without moving the commit
// position: records given up out of a batch whose part finishes later.
func (ps *partState) handled(n int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.pending += n
}

// isGone reports whether ps was revoked or lost.
func (ps *partState) isGone() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.gone
}

// release marks ps gone and drops its buffer: no batch takes it any more.
// It returns a channel closed when its batch in flight ends (one already
// closed when none is).
func (ps *partState) release() <-chan struct{} {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.gone = true
	ps.buf, ps.bufBytes = nil, 0
	if ps.inFlight {
		return ps.idle
	}
	idle := make(chan struct{})
	close(idle)
	return idle
}

// toCommit returns the commit position to send and the handled records it
// covers; ok is false when there is nothing new to commit, or ps is gone
// and includeGone is not set. With track, ps has a commit in flight from
// then until commitEnded, which commitSettled waits for; a runner's
// commits are tracked so that a release waits for them, and a runner has
// at most one in flight.
func (ps *partState) toCommit(includeGone, track bool) (off int64, n int, ok bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if (ps.gone && !includeGone) || ps.done <= ps.committed {
		return 0, 0, false
	}
	if track {
		if ps.sends == 0 {
			ps.sent = make(chan struct{})
		}
		ps.sends++
		ps.sending = ps.done
	}
	return ps.done, ps.pending, true
}

// commitEnded ends a tracked commit in flight on ps, acknowledged or not.
func (ps *partState) commitEnded() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.sends == 0 {
		return
	}
	if ps.sends--; ps.sends == 0 {
		close(ps.sent)
		ps.sent, ps.sending = nil, -1
	}
}

// commitSettled returns a channel closed once no tracked commit of ps is
// in flight (one already closed when none is).
func (ps *partState) commitSettled() <-chan struct{} {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.sent != nil {
		return ps.sent
	}
	settled := make(chan struct{})
	close(settled)
	return settled
}

// behind reports whether ps has handled records that neither an
// acknowledged commit nor the commit in flight covers.
func (ps *partState) behind() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return !ps.gone && ps.done > max(ps.committed, ps.sending)
}

// committedTo records that the broker acknowledged a commit of off, which
// covered n handled records.
func (ps *partState) committedTo(off int64, n int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.committed = max(ps.committed, off)
	ps.pending -= n
}

// assignment is the partitions assigned to the mapping. Its lock guards the
// map only; the group's callbacks change it, the fetch loop and the final
// commit read it.
type assignment struct {
	mu    sync.Mutex
	parts map[tp]*partState
}

func (a *assignment) get(t tp) *partState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.parts[t]
}

func (a *assignment) put(ps *partState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.parts == nil {
		a.parts = map[tp]*partState{}
	}
	a.parts[ps.tp] = ps
}

// remove removes ps, unless a newer state of its partition replaced it.
func (a *assignment) remove(ps *partState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.parts[ps.tp] == ps {
		delete(a.parts, ps.tp)
	}
}

func (a *assignment) all() []*partState {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*partState, 0, len(a.parts))
	for _, ps := range a.parts {
		out = append(out, ps)
	}
	return out
}
