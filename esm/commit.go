package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committer commits partitions' commit positions to the consumer group.
// It holds no state of its own: each partition's lock guards what is to be
// committed and what was, and the Kafka client orders the commits.
type committer struct {
	stats    *counters
	log      *slog.Logger
	progress func()    // tests only (WithProgress): after each commit tried
	caughtUp *caughtUp // WithStopWhenCaughtUp; set by Run before the client starts
}

// commit commits the handled offsets of pss through cl and returns how many
// handled records the broker's acknowledgement covers, which it counts in
// Stats.RecordsCommitted. A failed commit is logged and counted; the offsets
// stay pending and go with the next commit. A partition gone (revoked or
// lost) is committed only with includeGone.
func (c *committer) commit(ctx context.Context, cl *kgo.Client, pss []*partState, includeGone bool) int {
	n := c.send(ctx, cl, c.prepare(pss, includeGone, false))
	c.counted(n)
	return n
}

// counted adds n to Stats.RecordsCommitted once what the commit covered is
// reported, and tells the test hook.
func (c *committer) counted(n int) {
	c.stats.committed.Add(int64(n))
	if c.progress != nil {
		c.progress()
	}
}

// commitSnap is one partition's part of a commit: the position sent and
// the handled records it covers.
type commitSnap struct {
	ps  *partState
	off int64
	n   int
}

// pendingCommit is a commit prepared from its partitions' positions, to be
// sent once.
type pendingCommit struct {
	snaps   []commitSnap
	tracked bool // the partitions are marked as having it in flight (partState.toCommit)
}

// prepare snapshots the commit positions of pss that moved since their
// last acknowledged commit; nil when none did. With track, each partition
// in it is marked as having a commit in flight until send ends, which a
// release of the partition waits for (partState.commitSettled).
func (c *committer) prepare(pss []*partState, includeGone, track bool) *pendingCommit {
	var pc *pendingCommit
	for _, ps := range pss {
		off, n, ok := ps.toCommit(includeGone, track)
		if !ok {
			continue
		}
		if pc == nil {
			pc = &pendingCommit{tracked: track}
		}
		pc.snaps = append(pc.snaps, commitSnap{ps, off, n})
	}
	return pc
}

// send commits pc (nothing when nil) and returns how many handled records
// the broker's acknowledgement covers, without counting them: the caller
// calls counted. The partitions' commit marks, if any, are cleared once it
// has recorded the outcome.
func (c *committer) send(ctx context.Context, cl *kgo.Client, pc *pendingCommit) int {
	if pc == nil {
		return 0
	}
	snaps := pc.snaps
	if pc.tracked {
		defer func() {
			for _, s := range snaps {
				s.ps.commitEnded()
			}
		}()
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, s := range snaps {
		if offsets[s.ps.tp.topic] == nil {
			offsets[s.ps.tp.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[s.ps.tp.topic][s.ps.tp.partition] = kgo.EpochOffset{Epoch: -1, Offset: s.off}
	}
	failed := map[tp]error{}
	var reqErr error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			reqErr = err
			return
		}
		// OffsetCommit v10+ responses name topics by id only.
		names := map[[16]byte]string{}
		for _, t := range req.Topics {
			names[t.TopicID] = t.Topic
		}
		answered := map[tp]bool{}
		for _, t := range resp.Topics {
			name := t.Topic
			if name == "" {
				name = names[t.TopicID]
			}
			for _, p := range t.Partitions {
				answered[tp{name, p.Partition}] = true
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					failed[tp{name, p.Partition}] = err
				}
			}
		}
		for _, s := range snaps {
			if !answered[s.ps.tp] {
				failed[s.ps.tp] = errors.New("no answer for the partition")
			}
		}
	})
	n := 0
	for _, s := range snaps {
		if reqErr != nil || failed[s.ps.tp] != nil {
			continue
		}
		s.ps.committedTo(s.off, s.n)
		c.caughtUp.committed(s.ps.tp, s.off)
		n += s.n
	}
	if reqErr != nil || len(failed) > 0 {
		c.stats.commitErrors.Add(1)
		c.log.Warn("esm: commit failed; retried with the next commit", "err", errors.Join(reqErr, joinMap(failed)))
	}
	return n
}

func joinMap(errs map[tp]error) error {
	var out []error
	for k, err := range errs {
		out = append(out, fmt.Errorf("%s: %w", where(k.topic, k.partition), err))
	}
	return errors.Join(out...)
}
