package kafkalambda

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"time"
)

// Option configures a Handler. Options are checked by NewHandler, which
// reports the first invalid one as an error wrapping ErrInvalidOption. A
// nil Option is ignored.
type Option func(*config) error

type config struct {
	policy         FailurePolicy
	concurrency    int
	producer       Producer
	logger         *slog.Logger
	margin         time.Duration
	noDeadlineWait time.Duration
	// envItemFailures reports failures that are not the record's fault as
	// item failures instead of failing the invocation.
	envItemFailures bool
	initCheck       time.Duration
	tel             *telemetry // WithTracing, WithMetrics; nil without
	// exactlyOnce is WithExactlyOnce's progress group; "" when off.
	exactlyOnce string
}

func defaultConfig() config {
	return config{
		policy:         FailBatch(),
		concurrency:    1,
		logger:         LambdaLogger(os.Stderr, os.Getenv),
		margin:         500 * time.Millisecond,
		noDeadlineWait: 30 * time.Second,
		initCheck:      5 * time.Second,
	}
}

// WithFailurePolicy sets what a record failure does: FailBatch (the
// default), ReportItemFailures or DeadLetter.
func WithFailurePolicy(p FailurePolicy) Option {
	return func(c *config) error {
		if p.kind == policyDeadLetter && p.topic == "" && p.fn == nil {
			return fmt.Errorf("kafkalambda: %w: DeadLetter needs a topic, DeadLetterFunc a func", ErrInvalidOption)
		}
		c.policy = p
		return nil
	}
}

// WithConcurrency processes up to n partitions of an event at the same
// time (default 1: one after the other). Records of one partition are
// always processed one at a time, in offset order; Process must be safe
// for concurrent use when n > 1.
func WithConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("kafkalambda: %w: concurrency %d < 1", ErrInvalidOption, n)
		}
		c.concurrency = n
		return nil
	}
}

// WithProducer gives the handler the shared producer its Outputs send
// through (and DeadLetter writes with): librdkafka.NewProducer's in a
// function, any Producer in tests. At the end of each invocation the
// handler waits for the brokers to acknowledge every record sent during
// it; see Handler.Invoke. Without it, the handler sends nothing.
func WithProducer(p Producer) Option {
	return func(c *config) error {
		if isNil(p) {
			return fmt.Errorf("kafkalambda: %w: nil producer", ErrInvalidOption)
		}
		c.producer = p
		return nil
	}
}

// WithLogger sets the logger for failed records and the outcome of
// invocations that did not simply succeed (nothing is logged per
// successful record; a successful invocation logs at DEBUG). The default
// is LambdaLogger(os.Stderr, os.Getenv): failures show in the function's
// logs, in the format and at the level Lambda's advanced logging controls
// set. WithLogger(slog.New(slog.DiscardHandler)) silences the handler. It
// never writes to the global logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("kafkalambda: %w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// WithDeadlineMargin sets how long before the Lambda deadline the handler
// stops processing and flushing, so that it can still return its answer
// (default 500ms). Process gets a ctx whose deadline is the Lambda
// deadline minus this margin.
func WithDeadlineMargin(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("kafkalambda: %w: negative deadline margin", ErrInvalidOption)
		}
		c.margin = d
		return nil
	}
}

// WithFlushTimeout bounds the flush of an invocation whose ctx has no
// deadline (outside Lambda, e.g. in tests); default 30s. Under Lambda the
// deadline bounds it.
func WithFlushTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("kafkalambda: %w: flush timeout must be positive", ErrInvalidOption)
		}
		c.noDeadlineWait = d
		return nil
	}
}

// WithEnvironmentItemFailures reports failures that are not the record's
// fault (the environment's or the operator's: see FailureClass) as batch
// item failures — the record and the rest of its partition — instead of
// failing the invocation. By default such a failure fails the invocation,
// so that Lambda's Errors metric counts it and alarms can fire; with this
// option the invocation succeeds with item failures and only the handler's
// ERROR log line says what happened. It needs ReportItemFailures or a
// DeadLetter policy (and a mapping with ReportBatchItemFailures);
// NewHandler rejects it with FailBatch.
func WithEnvironmentItemFailures() Option {
	return func(c *config) error {
		c.envItemFailures = true
		return nil
	}
}

// WithInitCheck bounds the check Start makes before the first invocation
// (Handler.Check; default 5s); 0 skips it. Only Start checks: a handler
// started some other way (lambda.Start, tests) is checked only if you call
// Check yourself.
func WithInitCheck(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("kafkalambda: %w: negative init check timeout", ErrInvalidOption)
		}
		c.initCheck = d
		return nil
	}
}

// isNil reports whether v is nil or an interface holding a nil pointer (a
// typed nil), which would panic on first use.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
