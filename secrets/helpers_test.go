package secrets_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// Fake AWS credentials: the server checks the SigV4 shape, not the math.
const (
	testAccessKey = "AKIDSECRETSTEST"
	testSecretKey = "secretstest/secret/access/key"
	testRegion    = "us-east-1"
)

// newSMClient returns the real SDK client pointed at srv, with retries that
// suit tests: sdkAttempts attempts in all, millisecond backoff, no retry
// quota (the standard retryer's token bucket would turn a burst of injected
// faults into "retry quota exceeded").
func newSMClient(t testing.TB, srv *secretstest.Server, sdkAttempts int) *secretsmanager.Client {
	t.Helper()
	return secretsmanager.New(secretsmanager.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = sdkAttempts
			o.MaxBackoff = 5 * time.Millisecond
			o.RateLimiter = ratelimit.None
		}),
	})
}

// fastRetry keeps the loader's own backoff short in tests.
func fastRetry() secrets.LoaderOption {
	return secrets.WithRetry(secrets.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
}

// env is a fake environment for WithLookupEnv.
func env(kv ...string) func(string) (string, bool) {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// newLoader makes a Secrets Manager loader over srv, failing the test on error.
func newLoader(t testing.TB, srv *secretstest.Server, id string, opts ...secrets.LoaderOption) *secrets.Loader {
	t.Helper()
	base := []secrets.LoaderOption{
		secrets.WithSecretsManager(newSMClient(t, srv, 1), id),
		secrets.WithLookupEnv(env()),
		fastRetry(),
	}
	l, err := secrets.New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("secrets.New: %v", err)
	}
	return l
}

// logBuffer is a concurrency-safe buffer for a slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// debugLogger logs everything, as JSON, into a buffer.
func debugLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
