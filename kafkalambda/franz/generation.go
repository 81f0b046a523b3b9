package franz

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/internal/holds"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// generation is one kgo client. It is replaced, not repaired, after a
// fatal or authentication error.
type generation struct {
	id  int64
	p   *Producer
	cl  *kgo.Client
	cfg *clientConfig

	// promise is g.onPromise, made once: a method value per record would
	// allocate.
	promise func(*kgo.Record, error)
	// slots holds one token per record awaiting its outcome, up to
	// queue.buffering.max.messages.
	slots chan struct{}
	// scope is what Purge cancels: the context of the records sent since
	// the last purge.
	scope atomic.Pointer[scope]
	// list links the records awaiting their outcome, for Purge.
	listMu sync.Mutex
	list   pending // sentinel of a circular list

	broken atomic.Pointer[error]
	// lastCause is the last error that says why the brokers cannot be
	// used (a refused connection, a TLS or SASL failure), which a purge
	// or a timeout does not say.
	lastCause atomic.Pointer[error]
	// holds counts the sends that hold this generation: from the moment
	// get hands it out until the record's outcome, or until the send gives
	// up. retire closes the client only when none is left.
	holds    *holds.Holds
	lastUsed atomic.Int64 // unix nanoseconds of the last send or outcome
	logins   logins
}

// touchEvery is how stale lastUsed may get before a send or an outcome
// moves it: writing it on every one of a burst of sends and outcomes only
// bounces its cache line between their goroutines, and idleness is
// measured in seconds or minutes.
const touchEvery = time.Millisecond

// touch records a use of g at now (unix nanoseconds).
func (g *generation) touch(now int64) {
	if time.Duration(now-g.lastUsed.Load()) >= touchEvery {
		g.lastUsed.Store(now)
	}
}

type scope struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newScope() *scope {
	ctx, cancel := context.WithCancel(context.Background())
	return &scope{ctx: ctx, cancel: cancel}
}

func newGeneration(p *Producer, id int64, cc *clientConfig) *generation {
	g := &generation{id: id, p: p, cfg: cc, slots: make(chan struct{}, cc.maxQueued), holds: holds.New()}
	g.promise = g.onPromise
	g.scope.Store(newScope())
	g.list.next, g.list.prev = &g.list, &g.list
	g.lastUsed.Store(time.Now().UnixNano())
	return g
}

// pending is one record awaiting its outcome. It is the kgo record's
// context (its embedded Context is the purge scope's), which is how the
// promise finds it: one allocation per send.
type pending struct {
	context.Context
	rec        kgo.Record
	d          kafkalambda.Delivery
	reported   atomic.Bool
	prev, next *pending
}

func (g *generation) link(pd *pending) {
	g.listMu.Lock()
	pd.prev, pd.next = g.list.prev, &g.list
	g.list.prev.next = pd
	g.list.prev = pd
	g.listMu.Unlock()
}

func (g *generation) unlink(pd *pending) {
	g.listMu.Lock()
	if pd.next != nil {
		pd.prev.next, pd.next.prev = pd.next, pd.prev
		pd.prev, pd.next = nil, nil
	}
	g.listMu.Unlock()
}

// onPromise is kgo's report of one record: kgo calls promises one at a
// time, in order per partition.
func (g *generation) onPromise(r *kgo.Record, err error) {
	pd := r.Context.(*pending)
	g.unlink(pd)
	<-g.slots
	if len(g.slots) == 0 { // the last outcome of a burst
		g.touch(time.Now().UnixNano())
	}
	if err != nil {
		g.observe(err)
	}
	if pd.reported.CompareAndSwap(false, true) {
		pd.d.Done(g.failure(err))
	}
	g.holds.Release()
}

// purge reports every record awaiting its outcome as failed with why, in
// the order they were sent, then cancels their context so that kgo drops
// those it has not sent (and reports them, too late to count). Records
// sent from now on have a new context.
func (g *generation) purge(why error) {
	old := g.scope.Swap(newScope())
	defer old.cancel()
	var purged []*pending
	g.listMu.Lock()
	for pd := g.list.next; pd != &g.list; pd = pd.next {
		purged = append(purged, pd)
	}
	g.listMu.Unlock()
	for _, pd := range purged {
		if pd.reported.CompareAndSwap(false, true) {
			pd.d.Done(g.failure(why))
		}
	}
}

func (g *generation) breakWith(err error) bool {
	return g.broken.CompareAndSwap(nil, &err)
}

// observe looks at a record's error: a fatal one breaks the generation
// (the next send builds a new client) and fails what it holds now rather
// than at the deadline.
func (g *generation) observe(err error) {
	if !isFatal(err) {
		return
	}
	g.fatal(err)
}

// acquireID starts acquiring the idempotent producer's id in the
// background, as soon as the client exists rather than on its first
// drain, and breaks g if the brokers refuse it fatally
// (CLUSTER_AUTHORIZATION_FAILED: no IdempotentWrite permission).
//
// kgo does fail what it buffers when InitProducerID fails fatally, but it
// can miss a record it is partitioning at that moment: the first records
// to a topic new to the client wait for its metadata, and the metadata
// update puts them in their partitions' buffers, which starts the drain
// that asks for the id, before it publishes the partitions. If the refusal
// comes back first (likelier on a busy machine), kgo's sweep of what it
// buffers sees neither the partitions nor the records waiting for them,
// and the record has no outcome until the invocation's deadline purges it
// as the environment's fault. kgo keeps a fatal refusal as the client's
// producer id for good: the call here, made before or after the drain's,
// gets it either way (one request: kgo serializes them and keeps the
// answer), and fails what g holds at once, as the operator's fault.
func (g *generation) acquireID() {
	if !g.cfg.idempotent {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, err := g.cl.ProducerID(ctx); err != nil {
			if isFatal(err) {
				g.fatal(err)
				return
			}
			g.p.log.Debug("kafkalambda: producer id not acquired ahead of the first send", "generation", g.id, "error", err.Error())
		}
	}()
}

// fatal breaks the generation with err, a fatal error.
func (g *generation) fatal(err error) {
	class := fatalClass(err)
	e := kafkalambda.Classified(class, kafkalambda.ErrProducer, fmt.Errorf("fatal error: %w", err))
	if g.breakWith(e) {
		g.p.log.Error("kafkalambda: producer failed fatally; it will be replaced", "generation", g.id, "error", err.Error())
		go g.purge(errBroken)
	}
}

// OnBrokerConnect implements kgo.HookBrokerConnect: a failed connection is
// the cause kept for the records that time out or are purged; refused
// credentials or an untrusted broker certificate break the generation (it
// is rebuilt from a fresh config, after the auth failure hook).
func (g *generation) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	addr := net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	login := g.logins.failed(addr)
	if login && !IsAuthFailure(err) {
		err = fmt.Errorf("SASL authentication failed: the broker ended the login: %w", err)
	}
	e := fmt.Errorf("connect to %s: %w", addr, err)
	g.lastCause.Store(&e)
	auth, cert := login || IsAuthFailure(err), isCertificateFailure(err)
	if !auth && !cert {
		g.p.log.Warn("kafkalambda: producer error", "generation", g.id, "error", e.Error())
		return
	}
	what := "authentication failed"
	if cert {
		what = "broker certificate not trusted"
	}
	broken := kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer, fmt.Errorf("%s: %w", what, e))
	if g.breakWith(broken) {
		g.p.log.Error("kafkalambda: brokers rejected the producer's credentials or certificate; it will be rebuilt from a fresh config",
			"generation", g.id, "error", e.Error())
		if g.p.authFailed != nil {
			g.p.authFailed()
		}
		go g.purge(errBroken)
	}
}

// failure is what Done gets for a record's outcome: nil when it was
// acknowledged; otherwise the error, classified (deliveryClass), with what
// broke the client or the last connection error behind a purge or a
// timeout, which "purged" alone does not say.
func (g *generation) failure(err error) error {
	if err == nil {
		return nil
	}
	var broken error
	if b := g.broken.Load(); b != nil {
		broken = *b
	}
	class := deliveryClass(err, broken)
	if broken != nil {
		err = fmt.Errorf("%w (%w)", err, broken)
	} else if c := g.lastCause.Load(); c != nil {
		err = fmt.Errorf("%w (last broker error: %w)", err, *c)
	}
	return kafkalambda.Classified(class, nil, err)
}
