package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/flight"
	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
)

// Loader reads one secret, caches it for a TTL, and maps it to a librdkafka
// producer config ([Loader.KafkaConfig]) and Schema Registry settings
// ([Loader.Registry]). Make one per secret in main, at cold start, and share
// it: all methods are safe for concurrent use.
//
// Caching: the first read fetches; later reads within the TTL are served
// from memory without locking. After the TTL (or [Loader.Invalidate]) the
// next read fetches again; concurrent readers wait for that one fetch
// instead of starting their own. A fetch that fails is not cached: its
// callers get the error (or retry it, see [RetryPolicy]) and the next read
// tries again. A secret that was fetched but does not map (malformed,
// missing or unknown keys) is cached like any other content, so that a
// broken secret does not multiply calls; fix it and call Invalidate, or
// wait for the TTL.
type Loader struct {
	src       source
	ttl       time.Duration
	log       *slog.Logger
	bootstrap string
	retry     retry.Policy

	now   func() time.Time // replaced in tests
	cur   atomic.Pointer[entry]
	group flight.Group[*document] // one fetch at a time, shared by the readers that want it
	mu    sync.Mutex              // orders Invalidate against storing a fetch
	gen   uint64                  // bumped by Invalidate; guarded by mu
}

// fetchKey is the one key of Loader.group: a Loader reads one secret.
const fetchKey = "fetch"

// entry is one cached fetch.
type entry struct {
	doc     *document
	expires time.Time
}

// New returns a Loader. Exactly one source option is required:
// [WithSecretsManager], [WithExtension], [WithFile] or [WithEnv]. New does
// no I/O; the first read fetches.
func New(opts ...LoaderOption) (*Loader, error) {
	st, err := loaderSettings(opts)
	if err != nil {
		return nil, err
	}
	if st.source == nil {
		return nil, optionError("", "no source: use WithSecretsManager, WithExtension, WithFile or WithEnv")
	}
	if st.httpClient != nil && st.sourceName != "WithExtension" {
		return nil, optionError("WithHTTPClient", "applies to WithExtension only")
	}
	src, err := st.source(st)
	if err != nil {
		return nil, err
	}
	l := &Loader{
		src:       src,
		ttl:       st.ttl,
		log:       st.logger,
		bootstrap: st.bootstrap,
		now:       time.Now,
	}
	l.retry = retry.Policy{
		Attempts: st.retry.MaxAttempts,
		Initial:  st.retry.BaseDelay,
		Max:      st.retry.MaxDelay,
		OnRetry: func(attempt int, err error, backoff time.Duration) {
			l.log.Warn("secrets: fetch failed, retrying",
				slog.String("secret", l.src.id()),
				slog.Int("attempt", attempt),
				slog.Duration("backoff", backoff),
				slog.String("error", err.Error()))
		},
	}
	return l, nil
}

// KafkaConfig returns a librdkafka producer config built from the secret: a
// new map on every call, which the caller may change. Its shape is the
// config func that librdkafka.NewProducer (package kafkalambda/librdkafka) takes:
//
//	producer, err := librdkafka.NewProducer(loader.KafkaConfig, librdkafka.WithAuthFailureHook(loader.Invalidate))
//
// The map holds sasl.password in clear text (librdkafka needs it so): log it
// only through [Redact]. Errors are [*Error]s matching ErrNotFound,
// ErrAccessDenied, ErrThrottled, ErrUnavailable (fetching), or ErrMalformed,
// ErrMissingKey, ErrUnknownKey (mapping), or a context error.
func (l *Loader) KafkaConfig(ctx context.Context) (map[string]any, error) {
	d, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	if d.kafkaErr != nil {
		return nil, d.kafkaErr
	}
	return maps.Clone(d.kafka), nil
}

// Registry returns the Schema Registry settings from the secret. Errors are
// as for [Loader.KafkaConfig]; a secret without schema.registry.url gives
// ErrMissingKey.
func (l *Loader) Registry(ctx context.Context) (Registry, error) {
	d, err := l.get(ctx)
	if err != nil {
		return Registry{}, err
	}
	return d.registry, d.registryErr
}

// Invalidate drops the cached secret: the next read fetches it again. Call
// it when the credentials were refused (a broker authentication failure),
// before building a new client from a fresh [Loader.KafkaConfig]. A fetch
// that is in flight when Invalidate is called still answers its callers but
// is not cached; a read after Invalidate does not wait for it.
func (l *Loader) Invalidate() {
	l.mu.Lock()
	l.gen++
	l.cur.Store(nil)
	l.group.Forget(fetchKey) // later readers do not join the fetch in flight
	l.mu.Unlock()
	l.log.Info("secrets: cache invalidated", slog.String("secret", l.src.id()))
}

// SecretID names the secret: its name or ARN, file:<path> or env:<NAME>.
func (l *Loader) SecretID() string { return l.src.id() }

// String describes the loader without its contents, so that printing a
// Loader cannot leak the cached secret.
func (l *Loader) String() string {
	return fmt.Sprintf("secrets.Loader{source: %s, secret: %q, ttl: %s}", l.src.kind(), l.src.id(), l.ttl)
}

// Format prints [Loader.String] for every verb.
func (l *Loader) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(l.String())) }

// get returns the cached document or fetches it.
func (l *Loader) get(ctx context.Context) (*document, error) {
	if e := l.cur.Load(); e != nil && l.now().Before(e.expires) {
		return e.doc, nil
	}
	doc, err := l.fetchRetrying(ctx)
	if err != nil {
		return nil, newError("fetch", l.src.id(), "", err)
	}
	return doc, nil
}

// fetchOnce fetches the secret once, parses it and caches it, unless
// another caller cached it meanwhile or Invalidate was called since it
// started. It runs inside l.group.
func (l *Loader) fetchOnce(ctx context.Context) (*document, error) {
	// Another caller may have fetched since this one found no entry.
	if e := l.cur.Load(); e != nil && l.now().Before(e.expires) {
		return e.doc, nil
	}
	l.mu.Lock()
	gen := l.gen
	l.mu.Unlock()

	start := time.Now()
	r, err := l.src.fetch(ctx)
	if err != nil {
		return nil, err
	}
	doc := parseDocument(l.src.id(), r.data, l.bootstrap)
	fetched := l.now()
	e := &entry{doc: doc, expires: fetched.Add(l.ttl - jitter(l.ttl))}

	l.mu.Lock()
	stored := l.gen == gen
	if stored {
		l.cur.Store(e)
	}
	l.mu.Unlock()

	attrs := []any{
		slog.String("source", l.src.kind()),
		slog.String("secret", l.src.id()),
		slog.String("version", r.version),
		slog.Duration("took", time.Since(start)),
		slog.Time("expires", e.expires),
		slog.Bool("cached", stored),
	}
	if doc.kafkaErr != nil {
		attrs = append(attrs, slog.String("kafka_error", doc.kafkaErr.Error()))
	}
	l.log.Info("secrets: secret loaded", attrs...)
	return doc, nil
}

// jitter returns a random duration in [0, ttl/10).
func jitter(ttl time.Duration) time.Duration {
	if ttl < 10 {
		return 0
	}
	return rand.N(ttl / 10)
}

// fetchRetrying fetches, retrying throttled and unavailable answers through
// retry.Do (exponential backoff, equal jitter) within the context deadline.
// Concurrent callers share each attempt (flight.Group, as serde's registry
// calls do): one caller giving up does not end a fetch that another still
// waits for, and each waits only as long as its own ctx allows.
func (l *Loader) fetchRetrying(ctx context.Context) (*document, error) {
	var doc *document
	err := retry.Do(ctx, l.retry, func(ctx context.Context) (bool, error) {
		d, err := l.group.Do(ctx, fetchKey, l.fetchOnce)
		switch {
		case err == nil:
			doc = d
			return false, nil
		case ctx.Err() != nil:
			// This caller's context ended while it waited for the
			// fetch: after a retry, Do reports what made the loader
			// retry (its last failure), not the deadline alone.
			return true, ctx.Err()
		case errors.Is(err, ErrThrottled) || errors.Is(err, ErrUnavailable):
			return true, err
		}
		return false, err
	})
	if err != nil {
		return nil, gaveUp(err)
	}
	return doc, nil
}

// gaveUp words the error of a fetch that retry.Do gave up on; other errors
// are returned as they are.
func gaveUp(err error) error {
	var re *retry.Error
	switch {
	case !errors.As(err, &re):
		return err
	case re.Reason == retry.ErrAttempts:
		return fmt.Errorf("after %d attempts: %w", re.Attempts, re.Last)
	case re.Reason == retry.ErrNoTime:
		return fmt.Errorf("after %d attempts, no time left before the context deadline: %w", re.Attempts, re.Last)
	case re.Last != nil:
		// The context ended during a backoff or a retry: the cause is
		// what made the loader retry, not the deadline alone.
		return fmt.Errorf("after %d attempts: %w (%w)", re.Attempts, re.Last, re.Reason)
	case re.Attempts == 0:
		return re.Reason
	}
	return fmt.Errorf("waiting for the fetch: %w", re.Reason)
}
