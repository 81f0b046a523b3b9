package franz

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafkalambda/kafka-lambda-go/internal/txntimeout"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

var _ kafkalambda.Transactor = (*Producer)(nil)

// DefaultTransactionalIDPrefix is the prefix of the transactional ids of a
// Producer without WithTransactionalIDPrefix: the librdkafka producer's.
const DefaultTransactionalIDPrefix = "kafkalambda"

// WithTransactionalIDPrefix sets the prefix of the transactional ids of
// the Producer's transactional clients (kafkalambda.WithExactlyOnce;
// default DefaultTransactionalIDPrefix). Each is
// prefix-<environment>-<n>: a random id drawn once per Producer (so per
// execution environment), and the client's number in its pool — the ids
// the librdkafka producer uses. Brokers with ACLs need the principal to
// have Write and Describe on the TransactionalId resources of that prefix
// (MSK IAM: kafka-cluster:AlterTransactionalId and DescribeTransactionalId
// on transactional-id/<cluster>/<uuid>/<prefix>*).
func WithTransactionalIDPrefix(prefix string) Option {
	return func(p *Producer) error {
		if prefix == "" {
			return fmt.Errorf("franz: %w: empty transactional id prefix", ErrInvalidOption)
		}
		p.txnPrefix = prefix
		return nil
	}
}

// txnPool is a Producer's transactional clients, one per transaction in
// flight: an invocation has one per partition of its event, aws-lambda-go
// may run several invocations at once (AWS_LAMBDA_MAX_CONCURRENCY), and a
// transactional client has one transaction at a time. It grows to the
// most transactions ever in flight together, and never shrinks.
type txnPool struct {
	mu   sync.Mutex
	free []*txnSlot // last in, first out: the warmest first
	all  []*txnSlot
	env  string // random, drawn at the first transaction
	// timeout is txnTimeout's decision: 0 until the first transaction.
	timeout time.Duration
	closed  bool
}

// txnSlot is one transactional client of the pool, under one
// transactional id for the life of the Producer: a client that fails, idles
// too long, or cannot finish a transaction is replaced by a new one with the
// same id, whose InitProducerId fences the old one and has the coordinator
// abort what it left open.
type txnSlot struct {
	id string
	c  *txnClient // nil until made, and after it was retired
}

// txnClient is one transactional kgo client.
type txnClient struct {
	g *generation
	// ends counts the EndTxn requests the client wrote: how a
	// transaction's end tells whether kgo ended it (see txn.end).
	ends atomic.Int64
}

// OnBrokerWrite implements kgo.HookBrokerWrite: it counts EndTxn requests.
func (c *txnClient) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	if key == int16(kmsg.EndTxn) {
		c.ends.Add(1)
	}
}

// take returns a free slot, or a new one.
func (p *Producer) take() (*txnSlot, error) {
	pool := &p.txns
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.closed {
		return nil, fmt.Errorf("%w: closed", kafkalambda.ErrProducer)
	}
	if n := len(pool.free); n > 0 {
		s := pool.free[n-1]
		pool.free = pool.free[:n-1]
		return s, nil
	}
	if pool.env == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		pool.env = hex.EncodeToString(b)
	}
	s := &txnSlot{id: fmt.Sprintf("%s-%s-%d", p.txnPrefix, pool.env, len(pool.all))}
	pool.all = append(pool.all, s)
	return s, nil
}

// put returns s to the pool; after Close, it closes s's client.
func (p *Producer) put(s *txnSlot) {
	p.txns.mu.Lock()
	if !p.txns.closed {
		p.txns.free = append(p.txns.free, s)
		p.txns.mu.Unlock()
		return
	}
	p.txns.mu.Unlock()
	if c := s.c; c != nil {
		s.c = nil
		go c.g.cl.Close()
	}
}

// replace retires s's client: a new one is made at its next use.
func (p *Producer) replace(s *txnSlot, why string) {
	if s.c == nil {
		return
	}
	p.log.Info("kafkalambda: transactional producer replaced", "transactional_id", s.id, "generation", s.c.g.id, "why", why)
	go p.retire(s.c.g)
	s.c = nil
}

// ready makes s's client usable for a new transaction: a new one when it
// has none, or it broke (a fatal error, a transaction it could not end, an
// abort after sends) or idled too long; and its producer id loaded within
// ctx — InitProducerId, which for a new client fences the one it replaces
// and has the coordinator settle what that one left open.
func (p *Producer) ready(ctx context.Context, s *txnSlot) error {
	if c := s.c; c != nil {
		idle := time.Duration(time.Now().UnixNano() - c.g.lastUsed.Load())
		switch {
		case c.g.broken.Load() != nil:
			p.replace(s, (*c.g.broken.Load()).Error())
		case p.maxIdle > 0 && idle > p.maxIdle:
			p.replace(s, "idle")
		}
	}
	if s.c == nil {
		c := &txnClient{}
		g, err := p.newClient(ctx, p.txnOptions(ctx, s.id), c)
		if err != nil {
			return err
		}
		c.g = g
		s.c = c
		p.log.Info("kafkalambda: transactional producer created", "transactional_id", s.id, "generation", g.id)
	}
	// Loaded here, under ctx, rather than by BeginTransaction, which
	// waits for it without a deadline. A load cut short by ctx is tried
	// again at the next begin, on the same client and its connections (a
	// new client would start over); one the brokers refused replaces it.
	if err := retry(ctx, func() error { _, _, err := producerID(ctx, s.c.g.cl); return err }); err != nil {
		if ctx.Err() == nil {
			p.replace(s, "no producer id: "+err.Error())
		}
		return txnError("init transactions", err)
	}
	return nil
}

// producerID returns cl's producer id and epoch, loading it within ctx
// when it has none, or reloading it after an error.
func producerID(ctx context.Context, cl *kgo.Client) (int64, int16, error) {
	id, epoch, err := cl.ProducerID(ctx)
	if err == nil && id < 0 {
		err = fmt.Errorf("%w: the brokers gave no producer id (too old for transactions?)", kafkalambda.ErrProducer)
	}
	return id, epoch, err
}

// txnOptions are a transactional client's kgo options, before the config's
// (so transaction.timeout.ms in the config wins over txnTimeout's).
//
// The client speaks the transaction protocol of Kafka before 4.0 (KIP-890
// part 2 off: AddPartitionsToTxn and AddOffsetsToTxn, no epoch bump per
// transaction), as librdkafka does: a transaction's offsets are sent by
// the Producer itself (AddOffsetsToTxn, TxnOffsetCommit: kgo sends them
// only for a consumer group it is a member of) and, when kgo has nothing of
// its own to end, so is its EndTxn, which must not move the producer epoch
// under kgo.
func (p *Producer) txnOptions(ctx context.Context, id string) []kgo.Opt {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
	v.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	v.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	return []kgo.Opt{
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(p.txnTimeout(ctx)),
		kgo.MaxVersions(v),
	}
}

// txnTimeout returns the transactional clients' transaction timeout when
// the config func does not set transaction.timeout.ms: txntimeout.For the
// first transaction this Producer began (librdkafka's default without a
// deadline, not kgo's 40 s). It is decided once, so that a client made late
// in an invocation (a replacement) gets the same.
func (p *Producer) txnTimeout(ctx context.Context) time.Duration {
	p.txns.mu.Lock()
	defer p.txns.mu.Unlock()
	if p.txns.timeout == 0 {
		p.txns.timeout, _ = txntimeout.For(ctx)
	}
	return p.txns.timeout
}

// settleWait bounds how long settle keeps trying to replace a client left
// with a transaction open; past it the slot goes back to the pool, and its
// next use makes the client (fencing the old one) or the coordinator aborts
// the transaction at its timeout (txnTimeout).
const settleWait = 90 * time.Second

// settle makes a new client for s, whose old one (retired) was left with a
// transaction open (a call given up on, an end that failed): under the same
// transactional id, its InitProducerId fences the old one and has the
// coordinator settle the transaction at once. It tries again while the
// brokers cannot be reached, then returns s to the pool.
func (p *Producer) settle(s *txnSlot) {
	defer p.put(s)
	until := time.Now().Add(settleWait)
	for wait := 100 * time.Millisecond; time.Now().Before(until); wait = min(2*wait, 2*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := p.ready(ctx, s)
		cancel()
		if err == nil {
			return
		}
		p.txns.mu.Lock()
		closed := p.txns.closed
		p.txns.mu.Unlock()
		if closed {
			return
		}
		timer := time.NewTimer(wait)
		<-timer.C
	}
}

// BeginTxn implements kafkalambda.Transactor: it takes a transactional
// client from the pool (making it on first use, or after a failure, with
// InitProducerId), begins a transaction on it, reads owner's progress, and
// claims the partition: it sends that progress to the transaction as the
// owner's offset (AddOffsetsToTxn, TxnOffsetCommit), pending until the
// transaction ends. While it is pending, another transaction's progress
// read of the partition — an attempt that follows this one, in any
// execution environment — waits (require_stable): this transaction
// commits, and that one reads what it did, or it aborts (here, or at the
// coordinator's transaction timeout when this environment is gone), and
// that one reads what was before. The transaction is the invocation's
// alone until its Commit succeeds or its Abort returns.
//
// A client whose transaction was handed records and aborted is not used
// again, as with the librdkafka producer: the slot's next transaction makes
// a new client, whose InitProducerId bumps the epoch. Brokers deduplicate
// by producer id, epoch and sequence number, so a transaction that sends
// under an aborted one's epoch and sequence numbers is acknowledged with
// the aborted write's offsets, and commits nothing. kgo means to keep its
// sequence numbers across an abort, but the soak (-tags franz) lost a
// record all the same: its settlement's only copy before an ABORT marker
// of its client, and the next COMMIT marker of the same producer id and
// epoch with no data of its own. The path: a produce request held at the
// broker while the connections drop leaves kgo unsure whether the batch
// was written; kgo sends it again, takes a retriable error answer to that
// retry for the batch's outcome, fails the batch at the abort and rewinds
// its sequence number — but the held request is written. A new epoch after
// every abort that sent leaves no such case, whatever kgo knew.
// TestTransactionsAfterAnUnsureWrite reproduces that path and fails on a
// client kept across the abort; TestTransactionsNewEpochAfterAnAbortThatSent
// checks the replacement; TestTransactionsAfterAPurge holds a purged send
// at the broker across the abort.
func (p *Producer) BeginTxn(ctx context.Context, owner kafkalambda.TxnOwner) (kafkalambda.Txn, error) {
	s, err := p.take()
	if err != nil {
		return nil, err
	}
	if err := p.ready(ctx, s); err != nil {
		p.put(s)
		return nil, err
	}
	c := s.c
	if err := c.g.cl.BeginTransaction(); err != nil {
		p.replace(s, "begin failed: "+err.Error())
		p.put(s)
		return nil, txnError("begin", err)
	}
	c.g.lastUsed.Store(time.Now().UnixNano())
	t := &txn{p: p, s: s, c: c, g: c.g, owner: owner, pid: -1}
	next, err := t.read(ctx, owner.Group, owner.Topic, owner.Partition)
	if err == nil {
		t.next = next
		err = t.send(ctx, owner.Group, []kafkalambda.PartitionOffset{{Topic: owner.Topic, Partition: owner.Partition, Offset: t.claim()}})
	}
	if err != nil {
		_ = t.Abort(ctx)
		return nil, fmt.Errorf("claim %s: %w", owner, err)
	}
	return t, nil
}

// txnCloseWait bounds how long Close waits for the transactional clients
// to close.
const txnCloseWait = 5 * time.Second

// closeTxns closes the pool's free clients, all at once, and waits for
// them up to txnCloseWait; Close calls it. Their transactions have ended
// (Close comes after the invocations); one cut short is aborted by the
// coordinator at its timeout. A slot still in use (a client being replaced
// in the background) closes its client when it is put back.
func (p *Producer) closeTxns() {
	p.txns.mu.Lock()
	p.txns.closed = true
	free := p.txns.free
	p.txns.free = nil
	p.txns.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range free {
		if c := s.c; c != nil {
			s.c = nil
			wg.Go(c.g.cl.Close)
		}
	}
	closed := make(chan struct{})
	go func() { wg.Wait(); close(closed) }()
	timer := time.NewTimer(txnCloseWait)
	defer timer.Stop()
	select {
	case <-closed:
	case <-timer.C:
		p.log.Warn("kafkalambda: transactional producers still closing; not waiting longer", "waited", txnCloseWait)
	}
}
