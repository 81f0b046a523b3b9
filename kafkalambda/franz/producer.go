package franz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// ErrInvalidOption: NewProducer was given an option or argument it cannot
// use (the error that wraps it says which, prefixed "franz: "). It is the
// same sentinel as kafkalambda.ErrInvalidOption, which every package of the
// module exports under this name.
var ErrInvalidOption = invalid.ErrOption

var _ interface {
	kafkalambda.Producer
	kafkalambda.Warmer
} = (*Producer)(nil)

// Producer is the kafkalambda.Producer of a Lambda function over franz-go:
// one kgo client shared by every invocation of the execution environment,
// made on first use, reused while the function is warm.
//
// The client is created lazily on the first send (or Warm) from the config
// func given to NewProducer — which is where credentials come in, e.g. from
// the secrets package. A failed creation is not remembered: the next send
// tries again. A client that hits a fatal error (the idempotent producer
// refused its producer id, its sequence lost) or a broker authentication
// failure is replaced on the next send by a new one built from a fresh
// config; the old one is closed once its records are accounted for.
//
// Each record's outcome goes to the Delivery it was produced with; the
// handler counts them per invocation, so that one invocation's flush
// neither waits on nor counts another's records, even when several run at
// once in the process. A Producer is safe for concurrent use.
//
// It is also a kafkalambda.Transactor, for kafkalambda.WithExactlyOnce:
// see BeginTxn and the package doc.
type Producer struct {
	config     func(ctx context.Context) (map[string]any, error)
	log        *slog.Logger
	tokens     func(ctx context.Context) (string, time.Time, error)
	authFailed func()
	createWait time.Duration
	maxIdle    time.Duration
	txnPrefix  string

	// txns is the pool of transactional clients (exactly-once mode).
	txns txnPool

	mu     sync.Mutex
	closed bool
	live   []*generation // current and retiring, for Purge
	gens   atomic.Int64
	// cur is the client in use: written under mu, read without it by sends
	// that find it healthy.
	cur atomic.Pointer[generation]
}

// Option configures a Producer; NewProducer checks them.
type Option func(*Producer) error

// WithLogger sends franz-go's own log lines (at the logger's level; its
// debug lines only with the property debug set), producer errors and
// lifecycle events to l (by default they are discarded).
func WithLogger(l *slog.Logger) Option {
	return func(p *Producer) error {
		if l == nil {
			return fmt.Errorf("franz: %w: nil logger", ErrInvalidOption)
		}
		p.log = l
		return nil
	}
}

// WithOAuthBearerTokens answers SASL/OAUTHBEARER logins (sasl.mechanism
// OAUTHBEARER, e.g. Amazon MSK IAM) with tokens from source — the token and
// when it expires, as secrets.MSKIAM.Token returns them — called with a
// 10s timeout each time the client authenticates a connection, including
// the re-authentication before a session expires.
func WithOAuthBearerTokens(source func(ctx context.Context) (token string, expires time.Time, err error)) Option {
	return func(p *Producer) error {
		if source == nil {
			return fmt.Errorf("franz: %w: nil token source", ErrInvalidOption)
		}
		p.tokens = source
		return nil
	}
}

// WithAuthFailureHook calls fn when a broker rejects the producer's
// credentials, before the client is rebuilt from a fresh config: pass the
// secret cache's invalidation (e.g. a secrets loader's Invalidate) so that
// a rotated secret is picked up at once rather than after its TTL.
func WithAuthFailureHook(fn func()) Option {
	return func(p *Producer) error {
		if fn == nil {
			return fmt.Errorf("franz: %w: nil auth failure hook", ErrInvalidOption)
		}
		p.authFailed = fn
		return nil
	}
}

// WithMaxIdle replaces the client on the next send when it has been idle
// longer than d (default 4 minutes; 0 never replaces it).
//
// Lambda freezes the process between invocations. When it thaws, the
// client's TCP connections may have died silently in the meantime (a VPC
// network interface drops connections idle for 350s), and a request
// written to a dead connection waits for a timeout before it is retried —
// longer than many invocations have. A client that has been idle for long
// is therefore rebuilt, with fresh connections, rather than trusted.
func WithMaxIdle(d time.Duration) Option {
	return func(p *Producer) error {
		if d < 0 {
			return fmt.Errorf("franz: %w: negative max idle", ErrInvalidOption)
		}
		p.maxIdle = d
		return nil
	}
}

// NewProducer returns a Producer whose kgo client is created from config
// on first use (see Producer). config returns librdkafka-style properties,
// as the secrets package maps them from a secret (or secrets.MSKIAM's
// KafkaConfig); they are translated to kgo options:
//
//   - bootstrap.servers (metadata.broker.list): the seed brokers;
//   - security.protocol PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL;
//     sasl.mechanism (sasl.mechanisms) PLAIN (the default), SCRAM-SHA-256,
//     SCRAM-SHA-512 with sasl.username and sasl.password, or OAUTHBEARER
//     with WithOAuthBearerTokens (sasl.oauthbearer.method default);
//   - ssl.ca.pem or ssl.ca.location (else the system's roots),
//     ssl.certificate.pem/.location with ssl.key.pem/.location (not
//     encrypted: ssl.key.password is not supported),
//     enable.ssl.certificate.verification, and
//     ssl.endpoint.identification.algorithm (https, the default, or none);
//   - acks (request.required.acks) and enable.idempotence: acks=all with
//     idempotence by default; with idempotence on, acks must be all;
//   - client.id, linger.ms (queue.buffering.max.ms), compression.type
//     (compression.codec), message.max.bytes (the largest record accepted;
//     a larger one is refused at Produce, the record's fault),
//     queue.buffering.max.messages (records awaiting acknowledgement before
//     Produce waits for room; default 100,000), queue.buffering.max.kbytes,
//     request.timeout.ms, delivery.timeout.ms (message.timeout.ms; default
//     none: the invocation's deadline bounds a send), retries
//     (message.send.max.retries), max.in.flight.requests.per.connection
//     (max.in.flight), connections.max.idle.ms,
//     socket.connection.setup.timeout.ms, metadata.max.age.ms
//     (topic.metadata.refresh.interval.ms), reconnect.backoff.ms,
//     allow.auto.create.topics (librdkafka's producer default, true),
//     transaction.timeout.ms (exactly-once mode's transactions; by default
//     the function's timeout plus 5 s, see package doc);
//   - partitioner murmur2_random or murmur2 (what the Producer does anyway),
//     statistics.interval.ms 0; debug (any value: franz-go's debug lines,
//     one per request, go to WithLogger's logger too);
//   - accepted and ignored, having no kgo counterpart that changes
//     behaviour: api.version.request, batch.num.messages,
//     broker.address.family, client.dns.lookup,
//     enable.metrics.push, log.connection.close,
//     reconnect.backoff.jitter.ms, reconnect.backoff.max.ms,
//     retry.backoff.ms, socket.keepalive.enable, socket.nagle.disable,
//     sticky.partitioning.linger.ms and confluent-kafka-go's go.* settings.
//
// Any other property is an error of class configuration that names it (the
// values are never quoted: they may be secrets), returned by the first
// send or by Warm — so by kafkalambda.Start at INIT.
//
// Whatever config says, records are partitioned as the Java clients and
// ksqlDB do (murmur2 of the key; records without a key stick to a
// partition per batch), as the librdkafka producer's murmur2_random does,
// so a key lands on the same partition with either producer; linger.ms is
// 0 unless set (an invocation ends by waiting for its last batch); and
// connections idle for a minute are closed (connections.max.idle.ms),
// before a frozen environment's network drops them.
func NewProducer(config func(ctx context.Context) (map[string]any, error), opts ...Option) (*Producer, error) {
	if config == nil {
		return nil, fmt.Errorf("franz: %w: nil producer config func", ErrInvalidOption)
	}
	p := &Producer{config: config, log: slog.New(slog.DiscardHandler), createWait: 10 * time.Second,
		maxIdle: 4 * time.Minute, txnPrefix: DefaultTransactionalIDPrefix}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// get returns the current client, held for one send (release it when the
// send gives up; the record's outcome releases it otherwise), creating it
// (again) if there is none or the current one is broken or idle too long.
func (p *Producer) get(ctx context.Context, now time.Time) (*generation, error) {
	for {
		g, err := p.current(ctx, now)
		if err != nil {
			return nil, err
		}
		if g.holds.Acquire() {
			return g, nil
		}
		// Retired between current and acquire: take its successor.
	}
}

// current returns the client in use; now is the time of the send, a clock
// read it shares with the record's timestamp.
func (p *Producer) current(ctx context.Context, now time.Time) (*generation, error) {
	if g := p.cur.Load(); g != nil && g.broken.Load() == nil {
		if p.maxIdle == 0 {
			return g, nil
		}
		if now := now.UnixNano(); time.Duration(now-g.lastUsed.Load()) <= p.maxIdle {
			g.touch(now)
			return g, nil
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("%w: closed", kafkalambda.ErrProducer)
	}
	if g := p.cur.Load(); g != nil {
		idle := time.Duration(time.Now().UnixNano() - g.lastUsed.Load())
		switch {
		case g.broken.Load() != nil:
		case p.maxIdle > 0 && idle > p.maxIdle && g.holds.Held() == 0:
			p.log.Info("kafkalambda: producer idle too long; replacing it to get fresh connections",
				"generation", g.id, "idle", idle)
		default:
			g.lastUsed.Store(time.Now().UnixNano())
			return g, nil
		}
		p.cur.Store(nil)
		go p.retire(g)
	}
	return p.create(ctx)
}

// create makes a new generation from a fresh config; p.mu is held.
func (p *Producer) create(ctx context.Context) (*generation, error) {
	g, err := p.newClient(ctx, nil)
	if err != nil {
		return nil, err
	}
	p.cur.Store(g)
	p.live = append(p.live, g)
	p.log.Info("kafkalambda: producer created", "generation", g.id)
	g.acquireID()
	return g, nil
}

// newClient makes a generation from a fresh config, with extra options
// (a transactional client's) before the config's, which win, and extra
// hooks.
func (p *Producer) newClient(ctx context.Context, extra []kgo.Opt, hooks ...kgo.Hook) (*generation, error) {
	cctx, cancel := context.WithTimeout(ctx, p.createWait)
	defer cancel()
	conf, err := p.config(cctx)
	if err != nil {
		// The config func's error says its class (a secrets.Error does);
		// one that does not is taken to be the environment's.
		return nil, fmt.Errorf("%w: config: %w", kafkalambda.ErrProducer, err)
	}
	cc, err := translate(conf, p.tokens)
	if err != nil {
		return nil, kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer,
			fmt.Errorf("franz: create: %w", err))
	}
	g := newGeneration(p, p.gens.Add(1), cc)
	opts := append([]kgo.Opt{
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(0),
		kgo.ConnIdleTimeout(time.Minute),
		kgo.DialTimeout(10 * time.Second),
		kgo.MaxBufferedRecords(cc.maxQueued),
		kgo.AllowAutoTopicCreation(),
		kgo.DisableClientMetrics(),
		kgo.WithLogger(newLogger(p.log, g.id, cc.debug)),
		kgo.WithHooks(append([]kgo.Hook{g}, hooks...)...),
	}, slices.Concat(extra, cc.opts)...)
	if cc.sasl != nil {
		opts = append(opts, kgo.SASL(g.logins.wrap(cc.sasl)))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer,
			fmt.Errorf("franz: create: %w", err))
	}
	g.cl = cl
	return g, nil
}

// retire closes a replaced client once no send holds it any more (the
// invocations' flushes purge what is left at their deadlines), or after a
// minute, purging what is left then.
func (p *Producer) retire(g *generation) {
	if g.holds.Retire(time.Minute) > 0 {
		g.purge(errRetired)
	}
	g.cl.Close() // fails what kgo still holds
	p.mu.Lock()
	p.live = slices.DeleteFunc(p.live, func(x *generation) bool { return x == g })
	p.mu.Unlock()
	p.log.Info("kafkalambda: producer closed", "generation", g.id)
}

// Purge gives up every record the producer holds, buffered or in flight,
// in every client still alive: their Deliveries get errPurged at once
// (with the cause behind it), and what kgo has not sent yet is dropped
// (its context canceled). A record already written may still be stored by
// the broker: what it acknowledges later is ignored. The handler calls
// Purge when an invocation's flush reaches its deadline. It does not wait.
//
// kgo may hold a purged record's key, value and headers until its request
// completes; they are only read.
func (p *Producer) Purge() {
	p.mu.Lock()
	live := slices.Clone(p.live)
	p.mu.Unlock()
	for _, g := range live {
		g.purge(errPurged)
	}
}

// Close flushes what is buffered (for up to 5s) and closes the client,
// and the transactional clients of exactly-once mode (their transactions
// ended, as the handler ends them before an invocation returns). Sends
// and transactions after Close fail with ErrProducer. The handler's Close calls it
// (Start, on SIGTERM); it is safe to call more than once.
func (p *Producer) Close() {
	p.mu.Lock()
	g := p.cur.Swap(nil)
	p.closed = true
	p.mu.Unlock()
	p.closeTxns()
	if g == nil {
		return
	}
	// A broken client's records were all reported failed when it broke
	// (and kgo may hold one it never fails: see acquireID): no flush.
	if g.broken.Load() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.cl.Flush(ctx); err != nil {
			p.log.Warn("kafkalambda: producer closed with records still buffered", "buffered", g.cl.BufferedProduceRecords())
		}
	}
	g.cl.Close()
}

// Warm creates the client now, unless it exists, instead of on the first
// send; it returns the creation's error (the next use retries), which is
// where an unsupported or invalid property shows. It is the check
// kafkalambda.Start makes at INIT.
//
// It also starts, in the background, what the first send would otherwise
// wait for: connecting to a broker and acquiring the idempotent producer's
// id. Call it in main, after NewProducer, to move that into the function's
// INIT phase.
func (p *Producer) Warm(ctx context.Context) error {
	// Creating the client starts acquiring its producer id (acquireID).
	_, err := p.current(ctx, time.Now())
	return err
}

// Produce queues m (kafkalambda.Producer); d gets its outcome. When
// queue.buffering.max.messages records await their acknowledgement, it
// waits for room until ctx ends. A message larger than message.max.bytes
// is refused at once: the record's fault. The kgo record points at m's
// topic, key, value and headers.
func (p *Producer) Produce(ctx context.Context, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	// One clock read serves the idle check and the record's timestamp
	// (kgo reads the clock for a record that has none).
	now := time.Now()
	g, err := p.get(ctx, now)
	if err != nil {
		return err
	}
	if err := p.produceOn(ctx, g, m, d, now); err != nil {
		return err
	}
	if g.broken.Load() != nil {
		// g broke since get handed it out, and the purge that fails what
		// it holds may have looked before m was linked: purge again, as
		// kgo may never fail m (see acquireID).
		go g.purge(errBroken)
	}
	return nil
}

// produceOn queues m on g, which the caller holds (g.holds): the hold is
// released with m's outcome, or here when m is not queued. now, when not
// zero, is the time of the send: the record's timestamp unless it waits
// for room (kgo stamps a record without one).
func (p *Producer) produceOn(ctx context.Context, g *generation, m *kafkalambda.Message, d kafkalambda.Delivery, now time.Time) error {
	if size := messageSize(m); size > g.cfg.maxMessage {
		g.holds.Release()
		return kafkalambda.Classified(kafkalambda.ClassRecord, kafkalambda.ErrProducer,
			fmt.Errorf("produce to %s: %w: the message takes %d bytes, more than message.max.bytes (%d)",
				m.Topic, ErrMessageTooLarge, size, g.cfg.maxMessage))
	}
	select {
	case g.slots <- struct{}{}:
	default:
		now = time.Time{} // stamped when it is queued, after the wait
		select {
		case g.slots <- struct{}{}:
		case <-ctx.Done():
			g.holds.Release()
			return kafkalambda.Classified(kafkalambda.ClassEnvironment, kafkalambda.ErrProducer,
				fmt.Errorf("produce to %s: local queue full: %w", m.Topic, ctx.Err()))
		}
	}
	pd := &pending{Context: g.scope.Load().ctx, d: d}
	pd.rec = kgo.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Timestamp: now, Context: pd}
	if len(m.Headers) > 0 {
		pd.rec.Headers = kgoHeaders(m.Headers)
	}
	g.link(pd)
	// pd is the record's context: the purge scope's, which Purge cancels.
	g.cl.Produce(pd, &pd.rec, g.promise)
	return nil
}

// messageSize is an upper bound of the bytes m takes in a record batch of
// its own: the batch header, the record's framing and varints, its key,
// value and headers.
func messageSize(m *kafkalambda.Message) int {
	n := recordOverhead + 15 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

var (
	// ErrMessageTooLarge: a message is larger than message.max.bytes and
	// was not queued. It is the record's fault: the same record fails the
	// same way on every retry.
	ErrMessageTooLarge = errors.New("franz: message too large")

	errPurged  = errors.New("purged: not acknowledged when the invocation's flush reached its deadline")
	errRetired = errors.New("purged: the producer was replaced and its records not acknowledged within a minute")
)

// kgo.RecordHeader and kafkalambda.Header are the same struct: the
// conversion below does not compile if either changes.
var _ = kgo.RecordHeader(kafkalambda.Header{})

// kgoHeaders returns hs as kgo record headers, without a copy: the two
// types have the same fields, kgo only reads a record's headers, and m
// (with its headers) is kept until its Delivery is done.
func kgoHeaders(hs []kafkalambda.Header) []kgo.RecordHeader {
	return unsafe.Slice((*kgo.RecordHeader)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}
