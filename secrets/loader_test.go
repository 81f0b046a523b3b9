package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

const (
	secretID  = "kafka/prod"
	secretV1  = `{"bootstrap.servers":"b-1:9092","sasl.username":"alice","sasl.password":"pw-one","sasl.mechanism":"PLAIN","security.protocol":"SASL_SSL"}`
	secretV2  = `{"bootstrap.servers":"b-1:9092","sasl.username":"alice","sasl.password":"pw-two","sasl.mechanism":"PLAIN","security.protocol":"SASL_SSL"}`
	gsv       = secretstest.OpGetSecretValue
	extension = secretstest.OpExtensionGet
)

func password(t *testing.T, l *secrets.Loader) string {
	t.Helper()
	cfg, err := l.KafkaConfig(context.Background())
	if err != nil {
		t.Fatalf("KafkaConfig: %v", err)
	}
	return cfg["sasl.password"].(string)
}

func TestSecretsManagerSecretString(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	l := newLoader(t, srv, secretID)
	if got := password(t, l); got != "pw-one" {
		t.Fatalf("sasl.password = %q", got)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests; want 1", len(reqs))
	}
	if r := reqs[0]; r.Op != gsv || r.SecretID != secretID || r.AccessKeyID != testAccessKey || r.Region != testRegion || r.Status != 200 {
		t.Fatalf("request = %+v; want a SigV4-signed GetSecretValue for %s in %s", r, secretID, testRegion)
	}
}

func TestSecretsManagerSecretBinaryAndARN(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, nil)
	srv.PutBinary(secretID, []byte(secretV1))
	arn := "arn:aws:secretsmanager:us-east-1:" + secretstest.Account + ":secret:" + secretID + "-AbCdEf"
	if got := password(t, newLoader(t, srv, arn)); got != "pw-one" {
		t.Fatalf("sasl.password = %q", got)
	}
}

func TestSecretsManagerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     secretstest.Fault
		faults    int
		sdk       int // SDK attempts
		want      error
		wantCalls int
	}{
		{name: "not found", fault: secretstest.NotFound, faults: 1, sdk: 1, want: secrets.ErrNotFound, wantCalls: 1},
		{name: "access denied, not retried", fault: secretstest.AccessDenied, faults: 1, sdk: 3, want: secrets.ErrAccessDenied, wantCalls: 1},
		{name: "KMS decryption failure", fault: secretstest.Decryption, faults: 1, sdk: 1, want: secrets.ErrAccessDenied, wantCalls: 1},
		{name: "throttled until the attempts run out", fault: secretstest.Throttling, faults: 100, sdk: 2, want: secrets.ErrThrottled, wantCalls: 8},
		{name: "server errors until the attempts run out", fault: secretstest.InternalError, faults: 100, sdk: 1, want: secrets.ErrUnavailable, wantCalls: 4},
		{name: "answers that are not JSON until the attempts run out", fault: secretstest.MalformedAnswer, faults: 100, sdk: 1, want: secrets.ErrUnavailable, wantCalls: 4},
		{name: "throttled, then recovers in the loader's retries", fault: secretstest.Throttling, faults: 2, sdk: 1, wantCalls: 3},
		{name: "throttled, then recovers in the SDK's retries", fault: secretstest.Throttling, faults: 2, sdk: 3, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
			srv.FailNext(tt.faults, tt.fault)
			l, err := secrets.New(secrets.WithSecretsManager(newSMClient(t, srv, tt.sdk), secretID), fastRetry())
			if err != nil {
				t.Fatal(err)
			}
			_, err = l.KafkaConfig(context.Background())
			checkErr(t, err, tt.want, "")
			if err != nil && !strings.HasPrefix(err.Error(), `secrets: fetch "kafka/prod": `) {
				t.Errorf("message %q does not start with the op and secret id", err)
			}
			if got := srv.Calls(gsv); got != tt.wantCalls {
				t.Errorf("%d GetSecretValue calls; want %d", got, tt.wantCalls)
			}
		})
	}
}

// Throttling is retried with backoff, but never past the context deadline.
// The loop runs on synctest's fake clock, against the real SDK client whose
// HTTP client answers every request in process with a ThrottlingException
// (as secretstest does; the failure-class test covers it over a socket):
// the count of attempts and the return at the deadline are exact however
// busy the machine is.
func TestThrottlingStopsAtTheDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		client := inProcessClient(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			return throttled(r), nil
		})
		l, err := secrets.New(
			secrets.WithSecretsManager(client, secretID),
			secrets.WithRetry(secrets.RetryPolicy{MaxAttempts: 1000, BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond}),
		)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = l.KafkaConfig(ctx)
		took := time.Since(start) // fake time: only the backoffs count
		if !errors.Is(err, secrets.ErrThrottled) {
			t.Fatalf("error = %v; want ErrThrottled", err)
		}
		if took > 300*time.Millisecond {
			t.Fatalf("returned after %v with a 300ms deadline", took)
		}
		// Backoffs of at most 40 ms leave room for 7 attempts in 300 ms.
		if n := calls.Load(); n < 7 {
			t.Fatalf("only %d attempts in 300ms with a 10-40ms backoff", n)
		}
		t.Logf("%d attempts in %v", calls.Load(), took)
	})
}

// inProcessClient is the real SDK client, without its own retries, whose
// requests do answers in process: no socket, so it runs in a synctest
// bubble.
func inProcessClient(do httpFunc) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		BaseEndpoint: aws.String("http://secretsmanager.invalid"),
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   do,
	})
}

// httpFunc is an in-process HTTP client for the SDK.
type httpFunc func(*http.Request) (*http.Response, error)

func (f httpFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// throttled is the answer secretstest gives with a Throttling fault.
func throttled(r *http.Request) *http.Response {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Errortype", "ThrottlingException")
	h.Set("X-Amzn-Requestid", "in-process")
	body := `{"__type":"ThrottlingException","message":"Rate exceeded"}`
	return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

// The deadline may fall while a retry is on the wire: the error still names
// what made the loader retry. The first request is throttled, the second
// is answered only when its context ends: the deadline falls mid-request
// on synctest's clock, whatever the load (a 300 ms deadline over 100 ms
// requests on a socket missed even the first answer under load).
func TestThrottlingThenDeadlineMidRequest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		l, err := secrets.New(
			secrets.WithSecretsManager(inProcessClient(func(r *http.Request) (*http.Response, error) {
				if calls.Add(1) == 1 {
					return throttled(r), nil
				}
				<-r.Context().Done()
				return nil, r.Context().Err()
			}), secretID),
			secrets.WithRetry(secrets.RetryPolicy{MaxAttempts: 1000, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}),
		)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		_, err = l.KafkaConfig(ctx)
		if !errors.Is(err, secrets.ErrThrottled) || calls.Load() != 2 {
			t.Fatalf("error = %v after %d requests; want ErrThrottled (what made it retry until the deadline) after 2", err, calls.Load())
		}
	})
}

func TestCacheServesWarmReads(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	srv.SetLatency(20 * time.Millisecond)
	l := newLoader(t, srv, secretID)

	// A cold start with many concurrent readers makes one call.
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 50 {
		wg.Go(func() {
			if _, err := l.KafkaConfig(context.Background()); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	for range 100 {
		if _, err := l.Registry(context.Background()); !errors.Is(err, secrets.ErrMissingKey) {
			t.Fatalf("Registry: %v; want ErrMissingKey (the secret has no registry)", err)
		}
	}
	if failed.Load() > 0 {
		t.Fatalf("%d readers failed", failed.Load())
	}
	if n := srv.Calls(gsv); n != 1 {
		t.Fatalf("%d GetSecretValue calls for 150 reads; want 1", n)
	}
}

func TestRotationIsPickedUpAfterTheTTL(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	l := newLoader(t, srv, secretID, secrets.WithTTL(time.Minute))
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	secrets.SetClock(l, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	if got := password(t, l); got != "pw-one" {
		t.Fatalf("first read: %q", got)
	}
	srv.PutString(secretID, secretV2) // rotation
	advance(50 * time.Second)         // < 90% of the TTL: still cached whatever the jitter
	if got := password(t, l); got != "pw-one" {
		t.Fatalf("read within the TTL: %q; want the cached pw-one", got)
	}
	advance(10 * time.Second) // at the TTL
	if got := password(t, l); got != "pw-two" {
		t.Fatalf("read after the TTL: %q; want the rotated pw-two", got)
	}
	if n := srv.Calls(gsv); n != 2 {
		t.Fatalf("%d calls; want 2", n)
	}
}

func TestFailedFetchIsNotCached(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	srv.FailNext(1, secretstest.AccessDenied)
	l := newLoader(t, srv, secretID)
	if _, err := l.KafkaConfig(context.Background()); !errors.Is(err, secrets.ErrAccessDenied) {
		t.Fatalf("first read: %v; want ErrAccessDenied", err)
	}
	if got := password(t, l); got != "pw-one" {
		t.Fatalf("second read: %q", got)
	}
}

func TestInvalidateForcesAFreshFetch(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	l := newLoader(t, srv, secretID)
	if got := password(t, l); got != "pw-one" {
		t.Fatal(got)
	}
	srv.PutString(secretID, secretV2)
	l.Invalidate() // e.g. the broker refused pw-one
	if got := password(t, l); got != "pw-two" {
		t.Fatalf("after Invalidate: %q; want pw-two", got)
	}
	if got := password(t, l); got != "pw-two" || srv.Calls(gsv) != 2 {
		t.Fatalf("third read: %q after %d calls; want pw-two from the cache", got, srv.Calls(gsv))
	}
}

// A fetch that started before Invalidate answers its caller but is not
// cached: its data may predate the rotation that caused the Invalidate.
func TestInvalidateDuringAFetch(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	srv.SetLatency(100 * time.Millisecond)
	l := newLoader(t, srv, secretID)
	done := make(chan error, 1)
	go func() {
		_, err := l.KafkaConfig(context.Background())
		done <- err
	}()
	waitInFlight(t, srv, gsv)
	l.Invalidate()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv.SetLatency(0)
	password(t, l)
	if n := srv.Calls(gsv); n != 2 {
		t.Fatalf("%d calls; want 2 (the invalidated fetch must not be cached)", n)
	}
}

// A read after Invalidate does not join a fetch that started before it: it
// fetches anew instead of waiting for data that may predate the rotation.
func TestInvalidateDoesNotJoinTheFetchInFlight(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	srv.SetLatency(time.Hour) // the first fetch answers only when its context ends
	l := newLoader(t, srv, secretID)
	bg, stop := context.WithCancel(context.Background())
	t.Cleanup(stop) // runs before the server's cleanup: ends the slow request
	go func() { _, _ = l.KafkaConfig(bg) }()
	waitInFlight(t, srv, gsv)
	srv.PutString(secretID, secretV2)
	l.Invalidate()
	srv.SetLatency(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := l.KafkaConfig(ctx)
	if err != nil {
		t.Fatalf("read after Invalidate: %v; want a fresh fetch, not a wait for the one in flight", err)
	}
	if got := cfg["sasl.password"]; got != "pw-two" || srv.Calls(gsv) != 2 {
		t.Fatalf("read after Invalidate: %q after %d calls; want pw-two from a second call", got, srv.Calls(gsv))
	}
}

func TestMappingErrorsAreCachedUntilInvalidate(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: `{"bootstrap.servers":"x","not.a.key":"y"}`})
	l := newLoader(t, srv, secretID)
	for range 3 {
		if _, err := l.KafkaConfig(context.Background()); !errors.Is(err, secrets.ErrUnknownKey) {
			t.Fatalf("error = %v; want ErrUnknownKey", err)
		}
	}
	if n := srv.Calls(gsv); n != 1 {
		t.Fatalf("%d calls for a broken secret; want 1", n)
	}
	srv.PutString(secretID, secretV1) // fixed
	l.Invalidate()
	if got := password(t, l); got != "pw-one" {
		t.Fatal(got)
	}
}

// The other fetch is held until the test ends it, after the assertions: a
// caller that waited for it could not return at all, so no clock is read.
// The minute is only a guard against hanging until the test binary's
// timeout; a loaded machine answers a 30ms deadline far sooner.
func TestWaitingForAnotherFetchHonoursTheContext(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	srv.SetLatency(time.Hour) // ends early when bg is canceled
	l := newLoader(t, srv, secretID)
	bg, stop := context.WithCancel(context.Background())
	t.Cleanup(stop) // runs before the server's cleanup: ends the slow request
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		_, _ = l.KafkaConfig(bg)
	}()
	waitInFlight(t, srv, gsv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		_, err := l.KafkaConfig(ctx)
		waited <- err
	}()
	select {
	case err := <-waited:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v; want context.DeadlineExceeded", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a caller with a 30ms deadline still waits for the other fetch a minute later")
	}
	select {
	case <-fetched:
		t.Fatal("the other fetch ended before the test let it: the check proves nothing")
	default:
	}
}

// heldClient answers GetSecretValue with secretV1 once release is closed,
// or with its context's error when that ends first, counting both.
type heldClient struct {
	calls, canceled atomic.Int32
	release         chan struct{}
}

func (c *heldClient) client() secrets.GetSecretValueAPIClient {
	return funcClient(func(ctx context.Context, _ *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
		c.calls.Add(1)
		select {
		case <-c.release:
			return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(secretV1), VersionId: aws.String("v1")}, nil
		case <-ctx.Done():
			c.canceled.Add(1)
			return nil, ctx.Err()
		}
	})
}

// The caller that started a fetch gives up while another waits for it: the
// fetch goes on and answers the other caller, with one request; once every
// caller has given up, the fetch is canceled.
func TestAFetchOutlivesTheCallerThatStartedIt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		held := &heldClient{release: make(chan struct{})}
		l, err := secrets.New(secrets.WithSecretsManager(held.client(), secretID))
		if err != nil {
			t.Fatal(err)
		}
		first, cancelFirst := context.WithCancel(t.Context())
		firstErr := make(chan error, 1)
		go func() {
			_, err := l.KafkaConfig(first)
			firstErr <- err
		}()
		synctest.Wait()
		type answer struct {
			cfg map[string]any
			err error
		}
		second := make(chan answer, 1)
		go func() {
			cfg, err := l.KafkaConfig(t.Context())
			second <- answer{cfg, err}
		}()
		synctest.Wait()
		cancelFirst()
		if err := <-firstErr; !errors.Is(err, context.Canceled) {
			t.Errorf("first caller: %v; want context.Canceled", err)
		}
		synctest.Wait()
		if held.canceled.Load() != 0 {
			t.Error("the fetch was canceled while a caller still waited for it")
		}
		close(held.release)
		if a := <-second; a.err != nil || a.cfg["sasl.password"] != "pw-one" || held.calls.Load() != 1 {
			t.Fatalf("second caller got %v after %d requests; want pw-one from the one request", a.err, held.calls.Load())
		}

		// Nobody waits any more: the fetch ends.
		l.Invalidate()
		held.release = make(chan struct{})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := l.KafkaConfig(ctx)
			done <- err
		}()
		synctest.Wait()
		cancel()
		<-done
		synctest.Wait()
		if held.calls.Load() != 2 || held.canceled.Load() != 1 {
			t.Fatalf("%d requests, %d canceled; want the second one canceled when its only caller gave up",
				held.calls.Load(), held.canceled.Load())
		}
	})
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, nil)
	client := newSMClient(t, srv, 1)
	tests := []struct {
		name string
		opts []secrets.LoaderOption
	}{
		{"no source", nil},
		{"two sources", []secrets.LoaderOption{secrets.WithFile("a.json"), secrets.WithEnv("X")}},
		{"nil client", []secrets.LoaderOption{secrets.WithSecretsManager(nil, "x")}},
		{"empty secret id", []secrets.LoaderOption{secrets.WithSecretsManager(client, "")}},
		{"zero TTL", []secrets.LoaderOption{secrets.WithEnv("X"), secrets.WithTTL(0)}},
		{"HTTP client without the extension", []secrets.LoaderOption{secrets.WithEnv("X"), secrets.WithHTTPClient(nil)}},
		{"HTTP client with another source", []secrets.LoaderOption{secrets.WithEnv("X"), secrets.WithHTTPClient(&http.Client{})}},
		{"bad extension port", []secrets.LoaderOption{secrets.WithExtension("x"), secrets.WithLookupEnv(env(secrets.EnvExtensionPort, "http"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secrets.New(tt.opts...)
			checkErr(t, err, secrets.ErrInvalidOption, "")
		})
	}
}

func TestPrintingALoaderShowsNoSecret(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	l := newLoader(t, srv, secretID)
	password(t, l) // fill the cache
	want := l.String()
	if strings.Contains(want, "pw-one") || !strings.Contains(want, secretID) {
		t.Fatalf("String() = %s; want the secret id and no value", want)
	}
	// fmt prints the fields of a struct it does not know how to format but
	// only the address behind a nested pointer, so "no pw-one" alone could
	// not fail: every verb must print String.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%20v"} {
		if s := fmt.Sprintf(verb, l); s != want || strings.Contains(s, "pw-one") || !strings.Contains(s, secretID) {
			t.Errorf("Sprintf(%s, loader) = %s; want %s", verb, s, want)
		}
	}
}

// waitInFlight waits until srv has received a request of kind op.
func waitInFlight(t *testing.T, srv *secretstest.Server, op secretstest.Op) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard, not a wait
	defer cancel()
	if err := srv.WaitCalls(ctx, op, 1); err != nil {
		t.Fatalf("no %s request arrived: %v", op, err)
	}
}
