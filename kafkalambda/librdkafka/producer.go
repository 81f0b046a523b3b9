package librdkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/internal/holds"
	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// ErrInvalidOption: NewProducer was given an option or argument it cannot
// use (the error that wraps it says which, prefixed "librdkafka: "). It is
// the same sentinel as kafkalambda.ErrInvalidOption, which every package of
// the module exports under this name.
var ErrInvalidOption = invalid.ErrOption

var _ interface {
	kafkalambda.Producer
	kafkalambda.Warmer
} = (*Producer)(nil)

// Producer is the kafkalambda.Producer of a Lambda function: one librdkafka
// producer shared by every invocation of the execution environment, made on
// first use, reused while the function is warm.
//
// It wraps one librdkafka producer — the librdkafka confluent-kafka-go
// links, driven through librdkafka's C API (see rdClient) — created lazily
// on the first send from the config func given to NewProducer, which is
// where credentials come in, e.g. from the secrets package. A failed
// creation is not remembered: the next send tries again. A producer that
// hits a fatal error (idempotence) or a broker authentication failure is
// replaced on the next send by a new one built from a fresh config; the
// old one is closed once its messages are accounted for.
//
// Each message's delivery report goes to the done func it was produced
// with; the handler counts them per invocation, so that one invocation's
// flush neither waits on nor counts another's messages, even when several
// run at once in the process. A Producer is safe for concurrent use.
type Producer struct {
	config     func(ctx context.Context) (map[string]any, error)
	log        *slog.Logger
	tokens     func(ctx context.Context) (string, time.Time, error)
	authFailed func()
	createWait time.Duration
	maxIdle    time.Duration

	mu     sync.Mutex
	closed bool
	live   []*generation // current and retiring, for Purge
	gens   atomic.Int64
	// cur is the librdkafka producer in use: written under mu, read
	// without it by sends that find it healthy.
	cur atomic.Pointer[generation]

	// The transactional producers (kafkalambda.Transactor; txn.go).
	txnPrefix string
	txns      txnPool

	// purgeWaiting, when set (by tests), is called when a send begins to
	// wait for a deadline purge (awaitPurge).
	purgeWaiting func()
}

// Option configures a Producer; NewProducer checks them and reports the
// first invalid one as an error wrapping ErrInvalidOption. A nil Option is
// ignored.
type Option func(*Producer) error

// WithLogger sends librdkafka's own log lines, producer errors and
// lifecycle events to l (by default they are discarded; librdkafka never
// writes to stderr on its own through this package).
func WithLogger(l *slog.Logger) Option {
	return func(p *Producer) error {
		if l == nil {
			return fmt.Errorf("librdkafka: %w: nil logger", ErrInvalidOption)
		}
		p.log = l
		return nil
	}
}

// WithOAuthBearerTokens answers librdkafka's OAUTHBEARER token refresh
// requests (sasl.mechanism OAUTHBEARER, e.g. Amazon MSK IAM) with tokens
// from source — the token and when it expires, as secrets.MSKIAM.Token
// returns them — called with a 10s timeout each time librdkafka asks: at
// creation and before each token expires, including right after a thaw.
func WithOAuthBearerTokens(source func(ctx context.Context) (token string, expires time.Time, err error)) Option {
	return func(p *Producer) error {
		if source == nil {
			return fmt.Errorf("librdkafka: %w: nil token source", ErrInvalidOption)
		}
		p.tokens = source
		return nil
	}
}

// WithAuthFailureHook calls fn when a broker rejects the producer's
// credentials, before the producer is rebuilt from a fresh config: pass
// the secret cache's invalidation (e.g. a secrets loader's Invalidate) so
// that a rotated secret is picked up at once rather than after its TTL.
func WithAuthFailureHook(fn func()) Option {
	return func(p *Producer) error {
		if fn == nil {
			return fmt.Errorf("librdkafka: %w: nil auth failure hook", ErrInvalidOption)
		}
		p.authFailed = fn
		return nil
	}
}

// WithMaxIdle replaces the librdkafka producer on the next send when it
// has been idle longer than d (default 4 minutes; 0 never replaces it).
//
// Lambda freezes the process between invocations. When it thaws, the
// producer's TCP connections may have died silently in the meantime (a VPC
// network interface drops connections idle for 350s), and a request written
// to a dead connection waits for librdkafka's request timeout (30s) before
// it is retried — longer than many invocations have. A producer that has
// been idle for long is therefore rebuilt, with fresh connections, rather
// than trusted.
func WithMaxIdle(d time.Duration) Option {
	return func(p *Producer) error {
		if d < 0 {
			return fmt.Errorf("librdkafka: %w: negative max idle", ErrInvalidOption)
		}
		p.maxIdle = d
		return nil
	}
}

// Defaults set on every librdkafka producer unless the config func sets
// them: durability (acks=all, idempotence), the partitioner Java clients
// and ksqlDB use (so keyed records land on the same partitions), and
// settings for an environment that is frozen between invocations: idle
// connections closed before the network drops them, keepalive, short
// reconnect backoff and connection setup timeout, no log line per closed
// idle connection, and no client metrics pushed to the brokers (KIP-714: a
// request and a timer per producer that a short-lived function does not
// need). linger.ms is 0: an invocation ends by waiting for its last
// batch, so lingering to fill it only adds to every invocation; records sent
// in a burst still batch while earlier requests are in flight.
//
// reconnect.backoff.ms (20) also sets how long librdkafka waits between two
// connections it opens on its own (max(11, reconnect.backoff.ms/2) ms): a new
// producer connects to a bootstrap server, learns the brokers, closes that
// connection and opens the next when the first record needs a partition
// leader — which waited out the rest of 25 ms with the earlier 50: 15-17
// ms of a cold start's first send, and of the first send after WithMaxIdle
// replaced the producer. A broker that stays down is still tried at doubling
// intervals up to reconnect.backoff.max.ms.
func producerDefaults() kafka.ConfigMap {
	return kafka.ConfigMap{
		"acks":                               "all",
		"enable.idempotence":                 true,
		"partitioner":                        "murmur2_random",
		"socket.keepalive.enable":            true,
		"connections.max.idle.ms":            60000,
		"reconnect.backoff.ms":               20,
		"reconnect.backoff.max.ms":           1000,
		"socket.connection.setup.timeout.ms": 10000,
		"log.connection.close":               false,
		"enable.metrics.push":                false,
		"linger.ms":                          0,
	}
}

// NewProducer returns a Producer whose librdkafka producer is created from
// config on first use (see Producer). config returns librdkafka properties
// (bootstrap.servers and security settings); they are added to the
// defaults (acks=all, enable.idempotence=true, partitioner=murmur2_random,
// connection settings for Lambda) and override them. Values are read as
// confluent-kafka-go reads them: a string, bool, int, a slice of those or
// a fmt.Stringer, and a map for default.topic.config. Properties beginning
// "go." (confluent-kafka-go's own) are ignored, and log.queue is the
// Producer's: librdkafka's log lines go to WithLogger's logger.
func NewProducer(config func(ctx context.Context) (map[string]any, error), opts ...Option) (*Producer, error) {
	if config == nil {
		return nil, fmt.Errorf("librdkafka: %w: nil producer config func", ErrInvalidOption)
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

// generation is one librdkafka producer. It is replaced, not repaired,
// after a fatal or authentication error.
type generation struct {
	id int64
	// The librdkafka producer: c for the shared producer (librdkafka's C
	// API driven directly, rdclient.go), p for a transactional one
	// (confluent-kafka-go's, for its transaction API).
	c       *rdClient
	p       *kafka.Producer
	broken  atomic.Pointer[error]
	lastErr atomic.Pointer[error] // the last error librdkafka reported
	// lastCause is the last error librdkafka reported that says why the
	// brokers cannot be used (a connection refused, a TLS or SASL failure,
	// an unknown topic), which a later "all brokers down" or a purge does
	// not say.
	lastCause atomic.Pointer[error]
	// holds counts the sends that hold this generation: from the moment
	// get hands it out until the message's delivery report, or until the
	// send gives up. retire closes the producer only when none is left.
	holds    *holds.Holds
	lastUsed atomic.Int64  // unix nanoseconds of the last send or report
	waiters  atomic.Int32  // sends waiting for room in the local queue
	space    chan struct{} // poked on delivery reports while waiters > 0
	done     chan struct{} // closed when the event loop ends
	// acked: the brokers acknowledge writes (acks is not 0), so the
	// delivery report of a written message carries its offset.
	acked bool
	// calls are the calls into librdkafka in flight that a close must
	// wait for (librdkafka's destroy under a running call is not safe):
	// transactional calls and purges; enter and drain.
	calls   sync.WaitGroup
	callMu  sync.Mutex
	closing bool // drain began: no call enters any more
	// txn: a transactional producer (txnSlot's), which is never purged
	// but by its transaction's own Purge (see retire).
	txn bool
	// sentOpen: a transactional producer's open transaction was handed a
	// message (set before librdkafka takes it; cleared by a commit that
	// succeeded). Such a producer never begins another transaction after
	// an abort: see txn.Abort.
	sentOpen atomic.Bool

	// purging is the latest deadline purge of g still running, nil when
	// none is (see Producer.Purge): sends wait for it to end. purgeMu
	// orders the purges (each waits for the one before it).
	purging atomic.Pointer[purgeRun]
	purgeMu sync.Mutex
	// purge gives up what g holds, queued or in flight, and returns when
	// every broker thread has (librdkafka's blocking purge).
	purge func()
}

// purgeRun is one deadline purge of a generation; done is closed when it
// has returned.
type purgeRun struct{ done chan struct{} }

// enter registers a transactional call or a purge on g, and reports false
// when g is being closed (the call must not be made).
func (g *generation) enter() bool {
	g.callMu.Lock()
	defer g.callMu.Unlock()
	if g.closing {
		return false
	}
	g.calls.Add(1)
	return true
}

// drain stops calls from entering, and waits for those in flight.
func (g *generation) drain() {
	g.callMu.Lock()
	g.closing = true
	g.callMu.Unlock()
	g.calls.Wait()
}

func (g *generation) poke() {
	if g.waiters.Load() == 0 {
		return
	}
	select {
	case g.space <- struct{}{}:
	default:
	}
}

// touchEvery is how stale lastUsed may get before a send or a report
// moves it: writing it on every one of a burst of sends and reports only
// bounces its cache line between their threads, and idleness is measured
// in seconds or minutes.
const touchEvery = time.Millisecond

// touch records a use of g at now (unix nanoseconds).
func (g *generation) touch(now int64) {
	if time.Duration(now-g.lastUsed.Load()) >= touchEvery {
		g.lastUsed.Store(now)
	}
}

func (g *generation) breakWith(err error) bool {
	return g.broken.CompareAndSwap(nil, &err)
}

// get returns the current librdkafka producer, held for one send (release
// it when the send gives up; the delivery report releases it otherwise),
// creating it (again) if there is none or the current one is broken or
// idle too long.
func (p *Producer) get(ctx context.Context) (*generation, error) {
	for {
		g, err := p.current(ctx)
		if err != nil {
			return nil, err
		}
		if run := g.purging.Load(); run != nil {
			if err := p.awaitPurge(ctx, g, run); err != nil {
				return nil, err
			}
			continue // g may have been replaced meanwhile
		}
		if g.holds.Acquire() {
			return g, nil
		}
		// Retired between current and acquire: take its successor.
	}
}

func (p *Producer) current(ctx context.Context) (*generation, error) {
	if g := p.cur.Load(); g != nil && g.broken.Load() == nil {
		if p.maxIdle == 0 {
			return g, nil
		}
		if now := time.Now().UnixNano(); time.Duration(now-g.lastUsed.Load()) <= p.maxIdle {
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

// create makes a new generation from a fresh config and makes it the
// current one; p.mu is held.
func (p *Producer) create(ctx context.Context) (*generation, error) {
	g, err := p.newGeneration(ctx, nil, nil, false)
	if err != nil {
		return nil, err
	}
	p.cur.Store(g)
	p.live = append(p.live, g)
	p.log.Info("kafkalambda: producer created", "generation", g.id)
	return g, nil
}

// newGeneration makes a librdkafka producer from the config func's
// properties, over the package's defaults and fallback (properties the
// config func may set otherwise), under extra (properties it may not): a
// confluent-kafka-go Producer when txn (the transactional producers), an
// rdClient otherwise.
func (p *Producer) newGeneration(ctx context.Context, fallback, extra kafka.ConfigMap, txn bool) (*generation, error) {
	cctx, cancel := context.WithTimeout(ctx, p.createWait)
	defer cancel()
	conf, err := p.config(cctx)
	if err != nil {
		// The config func's error says its class (a secrets.Error does);
		// one that does not is taken to be the environment's.
		return nil, fmt.Errorf("%w: config: %w", kafkalambda.ErrProducer, err)
	}
	if _, ok := conf["transactional.id"]; ok {
		// A transactional.id from the config would turn the shared producer
		// transactional (its sends then fail with a state error nobody can
		// act on) or be overridden in exactly-once mode: either way not what
		// the operator meant. The Producer owns transactional ids.
		return nil, kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer,
			errors.New("config sets transactional.id: the producer owns transactional ids "+
				"(kafkalambda.WithExactlyOnce with WithTransactionalIDPrefix); remove the key"))
	}
	cm := producerDefaults()
	for k, v := range fallback {
		cm[k] = v
	}
	for k, v := range conf {
		cm[k] = v
	}
	for k, v := range extra {
		cm[k] = v
	}
	if err := checkSoftwareStrings(cm); err != nil {
		return nil, kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer, err)
	}
	if v, ok := cm["delivery.report.only.error"]; ok && strings.TrimSpace(fmt.Sprint(v)) != "false" {
		// Flush-at-end counts every message's report: without the
		// successes' reports an invocation would wait for its deadline
		// and fail, whatever was delivered.
		return nil, kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer,
			errors.New("config sets delivery.report.only.error: flush-at-end needs every message's delivery report; remove the key"))
	}
	for k := range cm {
		if strings.HasPrefix(k, "go.") {
			delete(cm, k) // confluent-kafka-go's own: the Producer sets them
		}
	}
	g := &generation{id: p.gens.Add(1), space: make(chan struct{}, 1),
		holds: holds.New(), done: make(chan struct{}), acked: acksRequired(cm), txn: txn}
	if txn {
		cm["go.delivery.reports"] = true
		cm["go.delivery.report.fields"] = "none"
		cm["go.logs.channel.enable"] = true
		// confluent-kafka-go's default channels hold a million entries each:
		// zeroing their 24 MB took 30 ms of every cold start. The events
		// channel is drained continuously and librdkafka queues behind it; the
		// produce channel is not used.
		cm["go.events.channel.size"] = 10000
		cm["go.produce.channel.size"] = 1
		g.p, err = kafka.NewProducer(&cm)
	} else {
		g.c, err = newRDClient(cm)
	}
	if err != nil {
		// librdkafka names the property it rejects; the config's values
		// are not part of its message.
		return nil, kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer,
			fmt.Errorf("create: %w", err))
	}
	g.purge = func() { g.purgeWith(kafka.PurgeQueue | kafka.PurgeInFlight) }
	g.lastUsed.Store(time.Now().UnixNano())
	if g.c != nil {
		go p.serve(g)
	} else {
		go p.logs(g)
		go p.events(g)
	}
	return g, nil
}

// purgeWith purges g's librdkafka producer with librdkafka's flags.
func (g *generation) purgeWith(flags int) {
	if g.c != nil {
		g.c.purge(flags)
		return
	}
	_ = g.p.Purge(flags)
}

// closeClient closes g's librdkafka producer, once its event loop has
// served what came before, and waits for the loop to end.
func (g *generation) closeClient() {
	if g.c != nil {
		g.c.close()
	} else {
		g.p.Close()
	}
	<-g.done
}

// flush waits up to timeout for g's messages to be reported, and returns
// how many are left.
func (g *generation) flush(timeout time.Duration) int {
	if g.c != nil {
		return g.c.flush(timeout)
	}
	return g.p.Flush(int(timeout.Milliseconds()))
}

// checkSoftwareStrings refuses a client.software.name or
// client.software.version without an ASCII letter or digit (before any NUL
// byte, where C's copy of it ends), empty ones included. librdkafka 2.11.1
// sanitizes these in place, first skipping everything up to a letter or
// digit without stopping at the string's end: with none it reads past the
// string and copies what it finds there back over it and beyond, which
// corrupts the C heap (the process aborts, later and elsewhere). The value
// is read as confluent-kafka-go hands it to librdkafka (a string, or a
// fmt.Stringer's String; a bool or an int always has a letter or digit).
// The error names the property, not its value.
func checkSoftwareStrings(cm kafka.ConfigMap) error {
	for _, k := range []string{"client.software.name", "client.software.version"} {
		var s string
		switch v := cm[k].(type) {
		case nil, bool, int:
			continue
		case string:
			s = v
		case fmt.Stringer:
			s = v.String()
		default:
			continue // confluent-kafka-go refuses the type itself
		}
		s, _, _ = strings.Cut(s, "\x00")
		if !strings.ContainsFunc(s, func(r rune) bool {
			return ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		}) {
			return fmt.Errorf("config sets %s to a value without an ASCII letter or digit (before any NUL byte), which librdkafka "+
				"cannot read safely; set it to e.g. the function's name, or remove it", k)
		}
	}
	return nil
}

// acksRequired reports whether cm has the brokers acknowledge writes:
// acks (or its alias request.required.acks, which wins when both are set)
// is not 0 — default.topic.config's when it sets it, which overrides the
// top level's (see configure).
func acksRequired(cm map[string]kafka.ConfigValue) bool {
	if tc, ok := configMap(cm["default.topic.config"]); ok {
		if required, set := acksIn(tc); set {
			return required
		}
	}
	if required, set := acksIn(cm); set {
		return required
	}
	return true
}

// acksIn reports whether the acks cm sets require acknowledgements, and
// whether it sets any.
func acksIn(cm map[string]kafka.ConfigValue) (required, set bool) {
	for _, k := range []string{"request.required.acks", "acks"} {
		if v, ok := cm[k]; ok {
			return strings.TrimSpace(fmt.Sprint(v)) != "0", true
		}
	}
	return false, false
}

// retire closes a replaced producer once no send holds it any more (the
// invocations' flushes purge what is left at their deadlines), or after a
// minute, purging what is left then.
func (p *Producer) retire(g *generation) {
	// A transactional call still running first: librdkafka's purge under
	// a commit or abort in progress can trip its transaction state
	// machine (an assertion that ends the process). The shared producer
	// has none, and keeps taking deadline purges while its sends finish.
	if g.txn {
		g.drain()
	}
	left := g.holds.Retire(time.Minute)
	g.drain()
	if left > 0 && !g.txn {
		// Not a transactional producer's: it is retired with its
		// transaction in any state (a commit given up on, an abort cut
		// short), where a purge can trip the same assertion; closing it
		// fails what it holds, and the next producer of its id fences
		// what it left open.
		g.purgeWith(kafka.PurgeQueue | kafka.PurgeInFlight)
	}
	g.closeClient()
	p.mu.Lock()
	p.live = slices.DeleteFunc(p.live, func(x *generation) bool { return x == g })
	p.mu.Unlock()
	p.log.Info("kafkalambda: producer closed", "generation", g.id)
}

// Purge gives up every message the producer holds, queued or in flight, in
// every librdkafka producer still alive: their done funcs get librdkafka's
// purge error (with the cause behind it). The handler calls it when an
// invocation's flush reaches its deadline, so that nothing it gave up is
// delivered afterwards. It does not wait.
//
// librdkafka's broker threads each empty their own queues, when they next
// serve their ops: a purge that does not wait for them (non-blocking) can
// empty a queue after the next invocation has begun, and fail that
// invocation's messages too. So the purge runs blocking, in the
// background, and a send made while it runs waits for it to return
// (awaitPurge): what is produced afterwards is not touched by it.
func (p *Producer) Purge() {
	p.mu.Lock()
	live := slices.Clone(p.live)
	p.mu.Unlock()
	for _, g := range live {
		g.purgeInBackground()
	}
}

// purgeWait bounds how long a send waits for a deadline purge of its
// producer to return (a broker thread serves its ops between its own
// blocking calls, such as a DNS lookup). Past it the producer is replaced:
// a new one does not wait, and the old one is closed once the purge has
// returned.
const purgeWait = time.Second

// purgeInBackground starts a blocking purge of g, after the purges started
// before it, and returns at once; sends wait for it (see Purge). A
// generation being closed is not purged: Close fails what it still holds.
func (g *generation) purgeInBackground() {
	if !g.enter() {
		return
	}
	g.purgeMu.Lock()
	prev := g.purging.Load()
	run := &purgeRun{done: make(chan struct{})}
	g.purging.Store(run)
	g.purgeMu.Unlock()
	go func() {
		defer g.calls.Done()
		if prev != nil {
			<-prev.done
		}
		g.purge()
		close(run.done)
		g.purging.CompareAndSwap(run, nil)
	}()
}

// awaitPurge waits for the deadline purge run of g to return before a send
// uses g, for up to purgeWait; past it g is broken, to be replaced by the
// next get. It fails only when ctx ends first.
func (p *Producer) awaitPurge(ctx context.Context, g *generation, run *purgeRun) error {
	if p.purgeWaiting != nil {
		p.purgeWaiting()
	}
	timer := time.NewTimer(purgeWait)
	defer timer.Stop()
	select {
	case <-run.done:
	case <-timer.C:
		err := kafkalambda.Classified(kafkalambda.ClassEnvironment, kafkalambda.ErrProducer,
			fmt.Errorf("a purge at an earlier invocation's deadline had not returned after %v", purgeWait))
		if g.breakWith(err) {
			p.log.Warn("kafkalambda: producer purge did not return; replacing the producer", "generation", g.id, "waited", purgeWait)
		}
	case <-ctx.Done():
		return kafkalambda.Classified(kafkalambda.ClassEnvironment, kafkalambda.ErrProducer,
			fmt.Errorf("waiting for a purge at an earlier invocation's deadline: %w", ctx.Err()))
	}
	return nil
}

// purgeNow purges g without waiting for its broker threads (after a fatal
// or authentication error, g is being replaced), unless g is being closed.
func (g *generation) purgeNow() {
	if g.enter() {
		g.purgeWith(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
		g.calls.Done()
	}
}

// Close flushes what is queued (for up to 5s) and closes the librdkafka
// producer. Sends after Close fail with ErrProducer. The handler's Close
// calls it (Start, on SIGTERM); it is safe to call more than once.
func (p *Producer) Close() {
	p.closeTxns()
	p.mu.Lock()
	g := p.cur.Swap(nil)
	p.closed = true
	p.mu.Unlock()
	if g == nil {
		return
	}
	g.drain() // a deadline purge still running: librdkafka's destroy under it is not safe
	if n := g.flush(5 * time.Second); n > 0 {
		p.log.Warn("kafkalambda: producer closed with messages still queued", "queued", n)
	}
	g.closeClient()
}

// Warm creates the librdkafka producer now, unless it exists, instead of on
// the first send; it returns the creation's error (the next use retries).
// It is the check kafkalambda.Start makes at INIT.
//
// Call it in main, after NewProducer, to move the producer's start into the
// function's INIT phase, which provisioned concurrency keeps off the
// request path: connecting to the brokers and — for the idempotent producer
// — acquiring a producer id, which librdkafka first tries 500 ms after
// creation, so that the first send of a cold start often waits that long.
func (p *Producer) Warm(ctx context.Context) error {
	_, err := p.current(ctx)
	return err
}

// errQueueFull reports librdkafka's local queue being full.
func errQueueFull(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && ke.Code() == kafka.ErrQueueFull
}

// Produce queues m (kafkalambda.Producer); d gets its delivery report. A
// full local queue is waited on until there is room or ctx ends. librdkafka
// copies m's key, value and headers before Produce returns; d waits in the
// producer's table under the id the message carries (see slots).
func (p *Producer) Produce(ctx context.Context, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	g, err := p.get(ctx)
	if err != nil {
		return err
	}
	return p.produceOn(ctx, g, m, d)
}

// produceOn is Produce on g, which the send holds (acquire): the delivery
// report releases it, or produceOn does when it gives up.
func (p *Producer) produceOn(ctx context.Context, g *generation, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	var km *kafka.Message // a transactional producer's
	if g.c == nil {
		km = &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &m.Topic, Partition: kafka.PartitionAny},
			Key:            m.Key,
			Value:          m.Value,
			Opaque:         d,
		}
		if len(m.Headers) > 0 {
			km.Headers = kafkaHeaders(m.Headers)
		}
	}
	err := g.produce(m, d, km)
	switch {
	case err == nil:
		return nil
	case errQueueFull(err):
		return p.produceWhenRoom(ctx, g, m, d, km)
	}
	g.holds.Release()
	return kafkalambda.Classified(produceClass(err), kafkalambda.ErrProducer, fmt.Errorf("produce to %s: %w", m.Topic, err))
}

// produce queues m on g: with the client's own calls, or, for a
// transactional producer, as km through confluent-kafka-go.
func (g *generation) produce(m *kafkalambda.Message, d kafkalambda.Delivery, km *kafka.Message) error {
	if g.c != nil {
		return g.c.produce(m, d)
	}
	return g.p.Produce(km, nil)
}

// produceWhenRoom is produceOn once librdkafka's local queue was full: it
// tries again whenever a delivery report may have made room, until ctx
// ends.
func (p *Producer) produceWhenRoom(ctx context.Context, g *generation, m *kafkalambda.Message, d kafkalambda.Delivery, km *kafka.Message) error {
	// Registered as a waiter before trying again, so that no delivery
	// report between that try and the wait goes unseen. A waiter that
	// leaves passes the wake-up on: space may be left that the one delivery
	// report it consumed does not announce to the others.
	g.waiters.Add(1)
	defer g.waiters.Add(-1)
	defer g.poke()
	wait := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	giveUp := func(err error) error {
		g.holds.Release()
		return kafkalambda.Classified(kafkalambda.ClassEnvironment, kafkalambda.ErrProducer, err)
	}
	for {
		err := g.produce(m, d, km)
		switch {
		case err == nil:
			return nil
		case !errQueueFull(err):
			g.holds.Release()
			return kafkalambda.Classified(produceClass(err), kafkalambda.ErrProducer, fmt.Errorf("produce to %s: %w", m.Topic, err))
		}
		select {
		case <-g.space:
		case <-timer.C:
			return giveUp(fmt.Errorf("local queue full until the deadline: %w", err))
		case <-ctx.Done():
			return giveUp(fmt.Errorf("local queue full: %w", ctx.Err()))
		}
	}
}

// kafka.Header and kafkalambda.Header are the same struct: the conversion
// below does not compile if either changes.
var _ = kafka.Header(kafkalambda.Header{})

// kafkaHeaders returns hs as confluent-kafka-go headers, without a copy:
// the two types have the same fields, and Produce only reads the headers
// (it copies them into librdkafka's message before it returns).
func kafkaHeaders(hs []kafkalambda.Header) []kafka.Header {
	return unsafe.Slice((*kafka.Header)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}
