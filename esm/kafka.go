package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
)

// connect waits until a broker answers, for up to the connect timeout: a
// cluster that cannot be reached or refuses the credentials fails Run with
// a clear error instead of a silent wait. An authentication failure fails
// at once. The pings are paced by retry.Do (250 ms doubling to 2 s,
// jittered).
func (m *Mapping) connect(stopCtx context.Context) error {
	// The connect timeout is the only deadline of the retries: a deadline
	// of Run's context is a stop (Run returns nil), not a reason to give
	// up a backoff early with an error.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(stopCtx), m.set.connectTimeout)
	defer cancel()
	defer context.AfterFunc(stopCtx, cancel)()
	p := retry.Policy{Attempts: math.MaxInt, Initial: 250 * time.Millisecond, Max: 2 * time.Second,
		OnRetry: func(_ int, err error, _ time.Duration) { m.log.Warn("esm: cannot reach the brokers yet", "err", err) }}
	err := retry.Do(ctx, p, func(ctx context.Context) (bool, error) {
		err := m.cl.Ping(ctx)
		if err != nil && isFatal(err) {
			return false, fmt.Errorf("%w: %w", ErrKafka, err)
		}
		return true, err
	})
	var gaveUp *retry.Error
	switch {
	case !errors.As(err, &gaveUp):
		return err // nil, or refused
	case stopCtx.Err() != nil:
		return nil // stopped before connecting: not a failure
	}
	cause := gaveUp.Last // the last ping's failure, rather than the timeout
	if cause == nil {
		cause = gaveUp.Reason
	}
	return fmt.Errorf("%w: no broker of %s answered within %v (check the address, TLS and SASL settings): %w",
		ErrKafka, strings.Join(m.cfg.Brokers, ","), m.set.connectTimeout, cause)
}

// isFatal reports whether an error while connecting means the cluster will
// not serve this client: the credentials or permissions refused, or a
// connection closed before its first answer (a TLS or SASL mismatch, or a
// broker that closes on bad credentials).
func isFatal(err error) bool {
	var eof *kgo.ErrFirstReadEOF
	return refused(err) || errors.As(err, &eof)
}

// refused reports whether a fetch error means the cluster refuses this
// client's credentials or permissions: retrying would not help. Once
// connected, a connection closed before its first answer is not such an
// error — a broker restarting behind a load balancer does that — and is
// retried.
func refused(err error) bool {
	for _, e := range []error{kerr.SaslAuthenticationFailed, kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism,
		kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (m *Mapping) allParts() []*partState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*partState, 0, len(m.parts))
	for _, ps := range m.parts {
		out = append(out, ps)
	}
	return out
}

// commit commits the handled offsets of pss and returns how many handled
// records the broker's acknowledgement covers. A failed commit is logged and
// counted; the offsets stay pending and go with the next commit.
func (m *Mapping) commit(ctx context.Context, pss []*partState, includeGone bool) int {
	if m.set.progress != nil {
		defer m.set.progress()
	}
	type snap struct {
		ps  *partState
		off int64
		n   int
	}
	var snaps []snap
	offsets := map[string]map[int32]kgo.EpochOffset{}
	m.mu.Lock()
	for _, ps := range pss {
		if (ps.gone && !includeGone) || ps.done <= ps.committed {
			continue
		}
		snaps = append(snaps, snap{ps, ps.done, ps.pending})
		if offsets[ps.tp.topic] == nil {
			offsets[ps.tp.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[ps.tp.topic][ps.tp.partition] = kgo.EpochOffset{Epoch: -1, Offset: ps.done}
	}
	m.mu.Unlock()
	if len(snaps) == 0 {
		return 0
	}
	failed := map[tp]error{}
	var reqErr error
	m.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
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
	m.mu.Lock()
	for _, s := range snaps {
		if reqErr != nil || failed[s.ps.tp] != nil {
			continue
		}
		s.ps.committed = max(s.ps.committed, s.off)
		s.ps.pending -= s.n
		n += s.n
	}
	m.mu.Unlock()
	m.stats.committed.Add(int64(n))
	if reqErr != nil || len(failed) > 0 {
		m.stats.commitErrors.Add(1)
		m.log.Warn("esm: commit failed; retried with the next commit", "err", errors.Join(reqErr, joinMap(failed)))
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

// kgoLogger sends franz-go's warnings and errors (and, when the logger is
// at Debug, its informational messages) to the mapping's logger.
type kgoLogger struct {
	l     *slog.Logger
	level kgo.LogLevel
}

func newKgoLogger(l *slog.Logger) kgoLogger {
	ctx := context.Background()
	switch {
	case l.Enabled(ctx, slog.LevelDebug):
		return kgoLogger{l, kgo.LogLevelInfo}
	case l.Enabled(ctx, slog.LevelWarn):
		return kgoLogger{l, kgo.LogLevelWarn}
	}
	return kgoLogger{l, kgo.LogLevelNone}
}

func (k kgoLogger) Level() kgo.LogLevel { return k.level }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	sl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		sl = slog.LevelError
	case kgo.LogLevelWarn:
		sl = slog.LevelWarn
	}
	k.l.Log(context.Background(), sl, "kafka: "+msg, keyvals...)
}
