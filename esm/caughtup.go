package esm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// caughtUp watches commits for WithStopWhenCaughtUp: it knows, per
// partition of the mapping's topics, the end offset seen when Run started,
// and calls stop once the group's committed offset of every one of them
// has reached it. The committer tells it each offset the broker
// acknowledged. Its lock guards left.
type caughtUp struct {
	stop func()

	mu   sync.Mutex
	left map[tp]int64 // partitions not caught up yet: their end offset at start
}

// newCaughtUp lists the end offsets of topics and where the group starts in
// each partition (its committed offset, else the starting position), and
// returns a watcher of the partitions not already at their end. When every
// partition is, it calls stop at once.
func newCaughtUp(ctx context.Context, cl *kgo.Client, cfg *Config, stop func()) (*caughtUp, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, cfg.Topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: list end offsets of %v: %w", ErrKafka, cfg.Topics, err)
	}
	var starts kadm.ListedOffsets
	switch cfg.StartingPosition {
	case Latest:
		starts = ends
	case AtTimestamp:
		starts, err = adm.ListOffsetsAfterMilli(ctx, cfg.StartingTimestamp.UnixMilli(), cfg.Topics...)
	default:
		starts, err = adm.ListStartOffsets(ctx, cfg.Topics...)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: list start offsets of %v: %w", ErrKafka, cfg.Topics, err)
	}
	committed, err := adm.FetchOffsets(ctx, cfg.Group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // a new group: nothing committed
	}
	if err != nil {
		return nil, fmt.Errorf("%w: fetch the offsets of group %s: %w", ErrKafka, cfg.Group, err)
	}
	w := &caughtUp{stop: stop, left: map[tp]int64{}}
	ends.Each(func(end kadm.ListedOffset) {
		at := int64(-1)
		if s, ok := starts.Lookup(end.Topic, end.Partition); ok {
			at = s.Offset
		}
		if c, ok := committed.Lookup(end.Topic, end.Partition); ok && c.Err == nil && c.At >= 0 {
			at = c.At
		}
		if at < end.Offset {
			w.left[tp{end.Topic, end.Partition}] = end.Offset
		}
	})
	if len(w.left) == 0 {
		stop()
	}
	return w, nil
}

// committed tells w that the group's offset of t is now off.
func (w *caughtUp) committed(t tp, off int64) {
	if w == nil {
		return
	}
	w.mu.Lock()
	end, ok := w.left[t]
	if ok && off >= end {
		delete(w.left, t)
	}
	done := ok && len(w.left) == 0
	w.mu.Unlock()
	if done {
		w.stop()
	}
}
