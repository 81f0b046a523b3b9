package esm

import (
	"cmp"
	"slices"
)

// PartitionProgress is where the mapping stands in one partition assigned
// to it, for progress displays: see (*Mapping).Progress. Offsets are -1
// where not known yet.
type PartitionProgress struct {
	Topic     string
	Partition int32
	// HighWatermark is the partition's end offset (the offset the next
	// record written to it gets) as reported by the last fetch that
	// returned records of it; -1 before such a fetch. It is not refreshed
	// while nothing new is fetched, nor while the partition's fetching is
	// paused (two batches buffered), so it may be behind the broker's.
	HighWatermark int64
	// Position is the processed position: every record before it was
	// handled (processed by the function, given up to the on-failure
	// destination, discarded or filtered out), and it is what the next
	// commit commits. Before any record is handled in this assignment it
	// is the offset of the first record fetched; -1 before that.
	Position int64
	// Committed is the last offset the mapping committed for the
	// partition in this assignment and the broker acknowledged; -1 none.
	Committed int64
	// Buffered counts records fetched and not yet taken into a batch;
	// InFlight is set while a batch holding records of the partition is
	// invoked.
	Buffered int
	InFlight bool
}

// Lag is how far the mapping is behind in the partition: HighWatermark
// minus Position, never negative; -1 when either is unknown. It counts
// offsets, so on a compacted topic or one with transaction markers it is
// an upper bound of the records left.
func (p PartitionProgress) Lag() int64 {
	if p.HighWatermark < 0 || p.Position < 0 {
		return -1
	}
	return max(0, p.HighWatermark-p.Position)
}

// Progress returns a snapshot of the partitions assigned to the mapping at
// the time of the call, sorted by topic, then partition: none before the
// first assignment. Once Run has stopped, after its last commit, it
// returns the partitions as they were then, for a final summary (the
// group has released them). It is safe to call at any time, from any
// goroutine, and waits for nothing but each partition's lock, held
// briefly; each partition's figures are read together, not all partitions
// at one instant. Stats holds the counters over the mapping's life.
func (m *Mapping) Progress() []PartitionProgress {
	if final := m.final.Load(); final != nil {
		return slices.Clone(*final)
	}
	pss := m.parts.all()
	out := make([]PartitionProgress, 0, len(pss))
	for _, ps := range pss {
		if p, ok := ps.progress(); ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b PartitionProgress) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// sawHighWatermark records the high watermark a fetch reported.
func (ps *partState) sawHighWatermark(hwm int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.hwm = max(ps.hwm, hwm)
}

// progress returns ps's figures; ok is false when it is gone.
func (ps *partState) progress() (p PartitionProgress, ok bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.gone {
		return PartitionProgress{}, false
	}
	pos := ps.done
	if pos < 0 {
		pos = ps.first
	}
	return PartitionProgress{
		Topic: ps.tp.topic, Partition: ps.tp.partition,
		HighWatermark: ps.hwm, Position: pos, Committed: ps.committed,
		Buffered: len(ps.buf), InFlight: ps.inFlight,
	}, true
}
