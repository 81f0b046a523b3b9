package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// classifier is how a package that cannot import secrets (kafkalambda)
// finds the class: any value in the chain with this method.
type classifier interface{ FailureClass() string }

// Every row of the failure class table in doc.go, produced by the real
// loader against secretstest (Secrets Manager through the AWS SDK, and the
// extension protocol), or by the constructors.
func TestFailureClass(t *testing.T) {
	t.Parallel()
	const (
		envt = secrets.FailureEnvironment
		cfg  = secrets.FailureConfiguration
	)
	// sm reads secretID through the AWS SDK from a server holding body (no
	// secret when body is ""), after setup.
	sm := func(body string, setup func(*secretstest.Server), opts ...secrets.LoaderOption) func(*testing.T, context.Context) error {
		return func(t *testing.T, ctx context.Context) error {
			held := map[string]string{}
			if body != "" {
				held[secretID] = body
			}
			srv := secretstest.NewServer(t, held)
			if setup != nil {
				setup(srv)
			}
			_, err := newLoader(t, srv, secretID, opts...).KafkaConfig(ctx)
			return err
		}
	}
	ext := func(setup func(*secretstest.Server)) func(*testing.T, context.Context) error {
		return func(t *testing.T, ctx context.Context) error {
			srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
			setup(srv)
			_, err := extensionLoader(t, srv.Port(), srv.SessionToken(), secretID).KafkaConfig(ctx)
			return err
		}
	}
	fail := func(n int, f secretstest.Fault) func(*secretstest.Server) {
		return func(s *secretstest.Server) { s.FailNext(n, f) }
	}
	// Throttled until the deadline, without racing the clock: every backoff
	// (500 h to 1000 h, equal jitter) outlasts the 5 min deadline, so the
	// loader stops at its "no time left before the context deadline" check
	// after a real ThrottlingException, however slow the machine.
	// TestThrottlingStopsAtTheDeadline runs the clock.
	untilTheDeadline := secrets.WithRetry(secrets.RetryPolicy{MaxAttempts: 1 << 20, BaseDelay: 1000 * time.Hour, MaxDelay: 1000 * time.Hour})
	tests := []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		err   func(*testing.T, context.Context) error
		is    error // nil: the error matches no sentinel
		class string
	}{
		{name: "ResourceNotFoundException", err: sm("", nil), is: secrets.ErrNotFound, class: cfg},
		{name: "AccessDeniedException", err: sm(secretV1, fail(1, secretstest.AccessDenied)), is: secrets.ErrAccessDenied, class: cfg},
		{name: "DecryptionFailure", err: sm(secretV1, fail(1, secretstest.Decryption)), is: secrets.ErrAccessDenied, class: cfg},
		{name: "ThrottlingException until the deadline", err: sm(secretV1, fail(100, secretstest.Throttling), untilTheDeadline),
			ctx: func() (context.Context, context.CancelFunc) {
				// Generous: the test lasts one request, and the deadline
				// starts before the server is set up.
				return context.WithTimeout(context.Background(), 5*time.Minute)
			},
			is: secrets.ErrThrottled, class: envt},
		{name: "HTTP 500 InternalServiceError", err: sm(secretV1, fail(100, secretstest.InternalError)), is: secrets.ErrUnavailable, class: envt},
		{name: "HTTP 200 that is not the expected JSON", err: sm(secretV1, fail(100, secretstest.MalformedAnswer)), is: secrets.ErrUnavailable, class: envt},
		{name: "context deadline during the request", err: sm(secretV1, func(s *secretstest.Server) { s.SetLatency(time.Hour) }),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			is: context.DeadlineExceeded, class: envt},
		{name: "context canceled", err: sm(secretV1, nil),
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			is: context.Canceled, class: envt},
		{name: "an AWS error code without a sentinel", err: sm(secretV1, fail(1, secretstest.Fault("InvalidRequestException"))), class: cfg},
		{name: "malformed secret string", err: sm(`{"bootstrap.servers":"b:9092",`, nil), is: secrets.ErrMalformed, class: cfg},
		{name: "malformed key value", err: sm(`{"bootstrap.servers":"b:9092","sasl.jaas.config":"nonsense"}`, nil), is: secrets.ErrMalformed, class: cfg},
		{name: "missing key", err: sm(`{"sasl.username":"u","sasl.password":"p"}`, nil), is: secrets.ErrMissingKey, class: cfg},
		{name: "unknown librdkafka key", err: sm(`{"bootstrap.servers":"b:9092","not.a.librdkafka.key":"x"}`, nil), is: secrets.ErrUnknownKey, class: cfg},
		{name: "extension 404", err: ext(func(s *secretstest.Server) { s.Delete(secretID) }), is: secrets.ErrNotFound, class: cfg},
		{name: "extension AccessDeniedException", err: ext(fail(1, secretstest.AccessDenied)), is: secrets.ErrAccessDenied, class: cfg},
		{name: "extension throttled throughout", err: ext(fail(100, secretstest.Throttling)), is: secrets.ErrThrottled, class: envt},
		{name: "extension HTTP 500", err: ext(fail(100, secretstest.InternalError)), is: secrets.ErrUnavailable, class: envt},
		{name: "invalid option (New)", err: func(*testing.T, context.Context) error {
			_, err := secrets.New(secrets.WithTTL(-time.Second), secrets.WithEnv("X"))
			return err
		}, is: secrets.ErrInvalidOption, class: cfg},
		{name: "invalid option (NewMSKIAM)", err: func(*testing.T, context.Context) error {
			_, err := secrets.NewMSKIAM(secrets.WithLookupEnv(env(secrets.EnvBootstrapServers, "b:9098")))
			return err
		}, is: secrets.ErrInvalidOption, class: cfg},
	}
	sentinels := []error{secrets.ErrNotFound, secrets.ErrAccessDenied, secrets.ErrThrottled, secrets.ErrUnavailable,
		secrets.ErrMalformed, secrets.ErrMissingKey, secrets.ErrUnknownKey, secrets.ErrInvalidOption}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			err := tt.err(t, ctx)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not match %v", err, tt.is)
			}
			if tt.is == nil {
				for _, s := range sentinels {
					if errors.Is(err, s) {
						t.Errorf("error %v matches %v; want no sentinel", err, s)
					}
				}
			}
			var c classifier
			if !errors.As(fmt.Errorf("kafkalambda: producer config: %w", err), &c) {
				t.Fatalf("error %T %v has no FailureClass in its chain", err, err)
			}
			if got := c.FailureClass(); got != tt.class {
				t.Errorf("FailureClass() = %q; want %q (error: %v)", got, tt.class, err)
			}
		})
	}
}
