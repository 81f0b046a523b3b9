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
