package librdkafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/internal/txntimeout"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

var _ kafkalambda.Transactor = (*Producer)(nil)

// DefaultTransactionalIDPrefix is the prefix of the transactional ids of a
// Producer without WithTransactionalIDPrefix.
const DefaultTransactionalIDPrefix = "kafkalambda"

// WithTransactionalIDPrefix sets the prefix of the transactional.id of the
// Producer's transactional producers (kafkalambda.WithExactlyOnce; default
// DefaultTransactionalIDPrefix). Each is prefix-<environment>-<n>: a random
// id drawn once per Producer (so per execution environment), and the
// producer's number in its pool. Brokers with ACLs need the principal to
// have Write and Describe on the TransactionalId resources of that prefix
// (MSK IAM: kafka-cluster:AlterTransactionalId and DescribeTransactionalId
// on transactional-id/<cluster>/<uuid>/<prefix>*).
func WithTransactionalIDPrefix(prefix string) Option {
	return func(p *Producer) error {
		if prefix == "" {
			return fmt.Errorf("librdkafka: %w: empty transactional id prefix", ErrInvalidOption)
		}
		p.txnPrefix = prefix
		return nil
	}
}

// txnPool is a Producer's transactional producers, one per transaction in
// flight: an invocation has one per partition of its event, aws-lambda-go
// may run several invocations at once (AWS_LAMBDA_MAX_CONCURRENCY), and a
// transactional producer has one transaction at a time. It grows to the
// most transactions ever in flight together, and never shrinks.
type txnPool struct {
	mu   sync.Mutex
	free []*txnSlot // last in, first out: the warmest first
	all  []*txnSlot
	env  string // random, drawn at the first transaction
	// timeout is txnFallback's decision: 0 until the first transaction,
	// -1 for librdkafka's default.
	timeout time.Duration
	closed  bool
}

// txnSlot is one transactional producer of the pool, under one
// transactional.id for the life of the Producer: a producer that fails
// fatally, idles too long or cannot finish a transaction is replaced by a
// new one with the same id, whose InitTransactions fences the old one and
// has the coordinator abort what it left open.
type txnSlot struct {
	id string
	g  *generation // nil until made, and after it was retired
	// unfinished: the last transaction's commit or abort did not finish.
	unfinished bool
	// init: g's InitTransactions, under way or to be resumed; nil once g
	// is initialized.
	init  *initCall
	admin *kafka.AdminClient // g's, for Progress
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

// put returns s to the pool, or closes its producer when the pool is
// closed.
func (p *Producer) put(s *txnSlot) {
	p.txns.mu.Lock()
	if p.txns.closed {
		p.txns.mu.Unlock()
		go closeSlot(s)
		return
	}
	p.txns.free = append(p.txns.free, s)
	p.txns.mu.Unlock()
}

// replace retires s's producer: a new one is made at its next use.
func (p *Producer) replace(s *txnSlot, why string) {
	if s.g == nil {
		return
	}
	p.log.Info("kafkalambda: transactional producer replaced", "transactional_id", s.id, "generation", s.g.id, "why", why)
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	go p.retire(s.g)
	s.g, s.unfinished, s.init = nil, false, nil
}

// ready makes s's producer usable for a new transaction: a new one when it
// has none, or it failed fatally, its last transaction sent and did not
// commit (see txn.Abort), or it idled too long (InitTransactions); the
// previous transaction finished (aborted) when it was cut short, or the
// producer replaced when that fails too.
func (p *Producer) ready(ctx context.Context, s *txnSlot) error {
	if g := s.g; g != nil {
		idle := time.Duration(time.Now().UnixNano() - g.lastUsed.Load())
		switch {
		case g.broken.Load() != nil:
			p.replace(s, "failed")
		case g.sentOpen.Load():
			// Its last transaction was handed messages and did not
			// commit: aborted (or to be), under an epoch the next one
			// must not reuse (see txn.Abort).
			p.replace(s, "its last transaction sent and did not commit")
		case p.maxIdle > 0 && idle > p.maxIdle && s.init == nil:
			// Not while its init is under way: a frozen environment's
			// init is resumed, not thrown away.
			p.replace(s, "idle")
		case s.unfinished:
			if _, err := within(ctx, g, func() error { return g.p.AbortTransaction(ctx) }); err != nil {
				p.replace(s, "the last transaction could not be aborted: "+err.Error())
			} else {
				s.unfinished = false
			}
		}
	}
	if s.g == nil {
		g, err := p.newGeneration(ctx, p.txnFallback(ctx), kafka.ConfigMap{"transactional.id": s.id}, true)
		if err != nil {
			return err
		}
		s.g, s.init = g, startInit(g)
	}
	if s.init != nil {
		return p.awaitInit(ctx, s)
	}
	return nil
}

// initTimeout bounds one InitTransactions call; one that times out is
// resumed by the next (awaitInit).
const initTimeout = txntimeout.Min

// initCall is a transactional producer's InitTransactions (find the
// transaction coordinator, get the producer id and epoch, which fences the
// id's earlier producer and settles what it left open), run apart from the
// invocation that needs it. librdkafka's init is resumable: a call that
// times out ("retry call to resume") leaves its progress for the next call.
// So an init that outlasts one invocation's deadline — a starved CPU, a
// coordinator moving — is taken up where it stands by the slot's next
// transaction, instead of being thrown away with its producer and begun
// again from the connection up, which under load may never finish.
type initCall struct {
	done  chan struct{}
	err   error
	stuck time.Time // when the call, not returned by then, is taken as stuck
}

// initStuckGrace is how long past its timeout an init call may take to
// return before it is taken as stuck: librdkafka's calls do not always heed
// their timeout (see within), and a slot whose init never returns would
// fail every transaction that takes it.
const initStuckGrace = 2 * time.Second

// startInit starts g's InitTransactions, bounded by initTimeout.
func startInit(g *generation) *initCall {
	c := &initCall{done: make(chan struct{}), stuck: time.Now().Add(initTimeout + initStuckGrace)}
	if !g.enter() {
		c.err = fmt.Errorf("%w: transaction: the producer is closing", kafkalambda.ErrProducer)
		close(c.done)
		return c
	}
	go func() {
		defer close(c.done)
		defer g.calls.Done()
		ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
		defer cancel()
		c.err = g.p.InitTransactions(ctx)
	}()
	return c
}

// awaitInit waits, within ctx, for s's producer to be initialized: its
// init call returning nil, or, after one that timed out or met a retriable
// error, the call that resumes it. At ctx's end the init stays under way
// for the slot's next transaction. Another error (fatal, fenced, refused)
// replaces the producer.
func (p *Producer) awaitInit(ctx context.Context, s *txnSlot) error {
	for {
		stuck := time.NewTimer(time.Until(s.init.stuck))
		select {
		case <-s.init.done:
			stuck.Stop()
		case <-stuck.C:
			err := fmt.Errorf("librdkafka: init transactions %w", errStuck)
			s.g.breakWith(err)
			p.replace(s, "init transactions did not return")
			return txnError("init transactions", err)
		case <-ctx.Done():
			stuck.Stop()
			return txnError("init transactions", fmt.Errorf("under way at the deadline, resumed by the next transaction: %w", ctx.Err()))
		}
		err := s.init.err
		if err == nil {
			s.init = nil
			p.log.Info("kafkalambda: transactional producer created", "transactional_id", s.id, "generation", s.g.id)
			return nil
		}
		var ke kafka.Error
		if !errors.As(err, &ke) || !(ke.IsRetriable() || ke.Code() == kafka.ErrTimedOut) || ke.IsFatal() {
			s.g.breakWith(err)
			p.replace(s, "init transactions failed: "+err.Error())
			return txnError("init transactions", err)
		}
		// Resume, after a pause: librdkafka retries within a call, so an
		// error that returns at once is not worth calling again at once.
		timer := time.NewTimer(initResumePause)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
		s.init = startInit(s.g)
		if ctx.Err() != nil {
			return txnError("init transactions", fmt.Errorf("%w; resumed by the next transaction", err))
		}
	}
}

// initResumePause is the pause before an init that failed is resumed.
const initResumePause = 100 * time.Millisecond

// txnFallback returns the transactional producers' transaction.timeout.ms
// when the config func does not set it: txntimeout.For the first
// transaction this Producer began; librdkafka's 60 s without a deadline.
// It is decided once, so that a producer made late in an invocation (a
// replacement) gets the same.
func (p *Producer) txnFallback(ctx context.Context) kafka.ConfigMap {
	p.txns.mu.Lock()
	defer p.txns.mu.Unlock()
	if p.txns.timeout == 0 {
		p.txns.timeout = -1
		if d, ok := txntimeout.For(ctx); ok {
			p.txns.timeout = d
		}
	}
	if p.txns.timeout < 0 {
		return nil
	}
	return kafka.ConfigMap{"transaction.timeout.ms": int(p.txns.timeout.Milliseconds())}
}

// settleWait bounds how long settle keeps trying to replace a producer
// left with a transaction open; past it the slot goes back to the pool,
// and its next use makes the producer (fencing the old one) or the
// coordinator aborts the transaction at its timeout (txnFallback).
const settleWait = 90 * time.Second

// settle makes a new producer for s, whose old one (retired) was left with
// a transaction open (a call given up on, a commit that may be under way):
// under the same transactional id, its InitTransactions fences the old one
// and has the coordinator settle the transaction (abort it, or complete a
// commit it got) at once. It tries again while the brokers cannot be
// reached, then returns s to the pool.
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
// producer from the pool (making it on first use, or after a failure:
// InitTransactions), begins a transaction on it, reads owner's progress,
// and claims the partition: it sends that progress to the transaction as
// the owner's offset (TxnOffsetCommit), pending until the transaction ends.
// While it is pending, another transaction's progress read of the partition
// — an attempt that follows this one, in any execution environment — waits
// (require_stable): this transaction commits, and that one reads what it
// did, or it aborts (here, or at the coordinator's transaction timeout when
// this environment is gone), and that one reads what was before. The
// transaction is the invocation's alone until its Commit succeeds or its
// Abort returns.
func (p *Producer) BeginTxn(ctx context.Context, owner kafkalambda.TxnOwner) (kafkalambda.Txn, error) {
	s, err := p.take()
	if err != nil {
		return nil, err
	}
	if err := p.ready(ctx, s); err != nil {
		p.put(s)
		return nil, err
	}
	if err := s.g.p.BeginTransaction(); err != nil {
		p.replace(s, "begin failed: "+err.Error())
		p.put(s)
		return nil, txnError("begin", err)
	}
	s.g.lastUsed.Store(time.Now().UnixNano())
	t := &txn{p: p, s: s, g: s.g, owner: owner}
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

// claim is the offset the transaction claims its partition with: the
// progress read, or 0 when there is none (committed, it says nothing was
// done before the partition's start).
func (t *txn) claim() int64 { return max(t.next, 0) }

// txn is one invocation's transaction on a pooled producer.
type txn struct {
	p     *Producer
	s     *txnSlot
	g     *generation
	owner kafkalambda.TxnOwner
	next  int64 // the owner's progress, read at the begin (-1: none)
	ended bool  // committed, or Abort called: the slot is back in the pool
	// abandoned: a call into librdkafka did not return by its deadline;
	// the producer is broken and left to it (see within).
	abandoned bool
}

// stuckGrace is how long past its ctx's deadline a transactional call may
// take to return before it is abandoned.
const stuckGrace = 50 * time.Millisecond

// errStuck: a librdkafka transactional call did not return by its deadline.
var errStuck = errors.New("did not return by its deadline; the transactional producer is replaced")

// within runs op, a librdkafka transactional call given ctx's deadline, and
// returns its error, or gives up on it shortly after the deadline.
// librdkafka's send_offsets_to_transaction does not always heed its timeout
// (confluentinc/librdkafka#5456: with the group coordinator unreachable it
// blocks until it is back; the soak met it), and the invocation must end by
// its deadline. A call given up on leaves the producer unusable (its next
// transactional call would conflict with the one still running), so the
// producer is broken: the slot's next transaction replaces it, under the
// same transactional id, which fences it.
func (t *txn) within(ctx context.Context, op func() error) error {
	stuck, err := within(ctx, t.g, op)
	if stuck {
		t.abandoned = true
		t.g.breakWith(txnError("stuck", err))
	}
	return err
}

// within runs op, a librdkafka call on g given ctx's deadline, and returns
// its error; or, when it has not returned shortly after the deadline, stuck
// true and an error wrapping errStuck, leaving op to finish on its own: g
// is not closed until it has (g.calls).
func within(ctx context.Context, g *generation, op func() error) (stuck bool, err error) {
	if !g.enter() {
		return false, fmt.Errorf("%w: transaction: the producer is closing", kafkalambda.ErrProducer)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		defer g.calls.Done()
		return false, op()
	}
	done := make(chan error, 1)
	go func() {
		defer g.calls.Done()
		done <- op()
	}()
	timer := time.NewTimer(time.Until(deadline) + stuckGrace)
	defer timer.Stop()
	select {
	case err := <-done:
		return false, err
	case <-timer.C:
		return true, fmt.Errorf("librdkafka: transactional call %w", errStuck)
	}
}

// Produce implements kafkalambda.Txn.
func (t *txn) Produce(ctx context.Context, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	if !t.g.holds.Acquire() {
		return fmt.Errorf("%w: the transactional producer was replaced", kafkalambda.ErrProducer)
	}
	// Marked before librdkafka may take the message: an abort that
	// follows, whatever path it takes, replaces the producer.
	t.g.sentOpen.Store(true)
	return t.p.produceOn(ctx, t.g, m, d)
}

// Purge implements kafkalambda.Txn: it purges this transaction's
// producer only.
func (t *txn) Purge() {
	t.g.purgeNow()
}

// Progress implements kafkalambda.Txn. The owner's partition's progress
// is the one read as the transaction began, before it claimed the
// partition; others are read now (read).
func (t *txn) Progress(ctx context.Context, group string, parts []kafkalambda.PartitionOffset) ([]int64, error) {
	next := make([]int64, len(parts))
	for i, pt := range parts {
		if group == t.owner.Group && pt.Topic == t.owner.Topic && pt.Partition == t.owner.Partition {
			next[i] = t.next
			continue
		}
		n, err := t.read(ctx, group, pt.Topic, pt.Partition)
		if err != nil {
			return nil, err
		}
		next[i] = n
	}
	return next, nil
}

// read returns the offset committed in group for the partition (-1 for
// none), with an OffsetFetch that requires stable offsets (KIP-447): while
// a transaction with offsets for it is pending, the brokers answer
// UNSTABLE_OFFSET_COMMIT, and read asks again until it ends or ctx does. A
// group that does not exist has no progress.
func (t *txn) read(ctx context.Context, group, topic string, partition int32) (int64, error) {
	if t.s.admin == nil {
		a, err := kafka.NewAdminClientFromProducer(t.g.p)
		if err != nil {
			return 0, kafkalambda.Classified(kafkalambda.ClassEnvironment, kafkalambda.ErrProducer, fmt.Errorf("progress: %w", err))
		}
		t.s.admin = a
	}
	req := kafka.ConsumerGroupTopicPartitions{Group: group, Partitions: []kafka.TopicPartition{{Topic: &topic, Partition: partition}}}
	wait := 10 * time.Millisecond
	for {
		next, unstable, err := t.fetch(ctx, req)
		if err != nil || !unstable {
			return next, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return 0, kafkalambda.Classified(kafkalambda.ClassEnvironment, kafkalambda.ErrProducer,
				fmt.Errorf("progress of group %s for %s-%d: a transaction with offsets for it is still pending: %w", group, topic, partition, ctx.Err()))
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// fetch reads the progress of req's one partition once; unstable reports
// offsets pending in a transaction.
func (t *txn) fetch(ctx context.Context, req kafka.ConsumerGroupTopicPartitions) (next int64, unstable bool, err error) {
	res, err := t.s.admin.ListConsumerGroupOffsets(ctx, []kafka.ConsumerGroupTopicPartitions{req},
		kafka.SetAdminRequireStableOffsets(true))
	if code(err) == kafka.ErrGroupIDNotFound {
		return -1, false, nil
	}
	if err != nil {
		return 0, false, txnError("progress of group "+req.Group, err)
	}
	want := req.Partitions[0]
	next = -1
	for _, g := range res.ConsumerGroupsTopicPartitions {
		for _, tp := range g.Partitions {
			if tp.Topic == nil || *tp.Topic != *want.Topic || tp.Partition != want.Partition {
				continue
			}
			switch c := code(tp.Error); {
			case c == kafka.ErrUnstableOffsetCommit:
				unstable = true
			case c == kafka.ErrGroupIDNotFound:
			case tp.Error != nil:
				return 0, false, txnError(fmt.Sprintf("progress of group %s for %s-%d", req.Group, *tp.Topic, tp.Partition), tp.Error)
			case tp.Offset >= 0:
				next = int64(tp.Offset)
			}
		}
	}
	return next, unstable, nil
}

// Commit implements kafkalambda.Txn: the offsets are sent to the
// transaction for group as a consumer group member of generation -1 (a
// group that no consumer joins; TxnOffsetCommit) — replacing the claim
// BeginTxn sent, which stands when there are none — then the transaction
// is committed. Retriable errors are retried until ctx ends; an error that
// requires an abort is returned for the handler's Abort; a fatal one
// breaks the producer, which the slot's next transaction replaces.
func (t *txn) Commit(ctx context.Context, group string, offsets []kafkalambda.PartitionOffset) error {
	if t.ended {
		return fmt.Errorf("%w: commit of an ended transaction", kafkalambda.ErrProducer)
	}
	if len(offsets) > 0 {
		if err := t.send(ctx, group, offsets); err != nil {
			return err
		}
	}
	if err := t.retry(ctx, func() error {
		return t.within(ctx, func() error { return t.g.p.CommitTransaction(ctx) })
	}); err != nil {
		t.unsettled(err)
		return txnError("commit", err)
	}
	t.ended = true
	t.g.sentOpen.Store(false)
	t.g.lastUsed.Store(time.Now().UnixNano())
	t.p.put(t.s)
	return nil
}

// send sends offsets for group to the transaction (TxnOffsetCommit).
func (t *txn) send(ctx context.Context, group string, offsets []kafkalambda.PartitionOffset) error {
	md, err := kafka.NewTestConsumerGroupMetadata(group)
	if err != nil {
		return txnError("progress metadata", err)
	}
	tps := make([]kafka.TopicPartition, len(offsets))
	for i := range offsets {
		tps[i] = kafka.TopicPartition{Topic: &offsets[i].Topic, Partition: offsets[i].Partition,
			Offset: kafka.Offset(offsets[i].Offset)}
	}
	if err := t.retry(ctx, func() error {
		return t.within(ctx, func() error { return t.g.p.SendOffsetsToTransaction(ctx, tps, md) })
	}); err != nil {
		t.unsettled(err)
		return txnError("send the progress to the transaction", err)
	}
	return nil
}

// unsettled handles a commit step that failed: unless librdkafka says the
// transaction requires an abort (then Abort aborts it), the commit may still
// be under way (a timeout), and aborting under it is not a transition
// librdkafka allows; the producer is left to it and replaced before the
// slot's next transaction, whose InitTransactions has the coordinator
// settle this one (complete a commit it got, or abort).
func (t *txn) unsettled(err error) {
	var ke kafka.Error
	if errors.As(err, &ke) && ke.TxnRequiresAbort() {
		return
	}
	if !t.abandoned {
		t.abandoned = true
		t.g.breakWith(txnError("commit unsettled", err))
	}
}

// retry calls op until it succeeds, fails other than retriably, or ctx
// ends; a fatal error breaks the producer.
func (t *txn) retry(ctx context.Context, op func() error) error {
	for {
		err := op()
		var ke kafka.Error
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &ke):
			return err
		case ke.IsFatal():
			t.g.breakWith(txnError("fatal", err))
			return err
		case ke.TxnRequiresAbort() || !ke.IsRetriable() || ctx.Err() != nil:
			return err
		}
		timer := time.NewTimer(20 * time.Millisecond)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return err
		}
	}
}

// Abort implements kafkalambda.Txn. Whatever its result the producer goes
// back to the pool: one whose transaction sent is replaced before the
// slot's next transaction; one whose abort did not finish, and that sent
// nothing, aborts again before it, and is replaced if that fails too.
func (t *txn) Abort(ctx context.Context) error {
	if t.ended {
		return nil
	}
	t.ended = true
	if t.abandoned {
		// The transaction stays open at the coordinator, holding back
		// what read_committed consumers of its partitions see, until it
		// is fenced: replace its producer now, within ctx if the brokers
		// answer, else in the background (not at the slot's next use, nor
		// at the transaction's timeout).
		t.p.replace(t.s, "a transaction was left open")
		if err := t.p.ready(ctx, t.s); err != nil {
			go t.p.settle(t.s)
		} else {
			t.p.put(t.s)
		}
		return txnError("abort", errors.New("not aborted here: its producer was replaced, which fences it and settles the transaction"))
	}
	defer t.p.put(t.s)
	if t.g.sentOpen.Load() {
		// After an abort librdkafka may send the next transaction's
		// records under the same producer epoch and sequence numbers as
		// this one's, which the brokers take for this one's aborted
		// writes (they deduplicate by producer epoch and sequence):
		// acknowledged with their offsets, and lost. The soak found such
		// records: their only copy before an ABORT marker of the
		// producer, and the next COMMIT marker of the same producer and
		// epoch with no data of its own on the partition. So a producer
		// whose transaction was handed a message and aborted is not used
		// again: the next transaction makes a new one, whose
		// InitTransactions bumps the epoch. The mark is the producer's
		// (generation.sentOpen), not this transaction's, and ready
		// checks it too: no abort, whatever its path, lets a producer
		// that sent begin again.
		defer t.g.breakWith(txnError("aborted with sends", errors.New("a transaction that sent was aborted: a new producer epoch before the next")))
	}
	err := t.within(ctx, func() error { return t.g.p.AbortTransaction(ctx) })
	if err == nil {
		return nil
	}
	var ke kafka.Error
	if errors.As(err, &ke) && ke.IsFatal() {
		t.g.breakWith(txnError("fatal", err))
	} else {
		t.s.unfinished = true
	}
	return txnError("abort", err)
}

// txnCloseWait bounds how long Close waits for the transactional
// producers to close.
const txnCloseWait = 5 * time.Second

// closeTxns closes the pool's producers, all at once, and waits for them
// up to txnCloseWait; Close calls it. Their transactions have ended (Close
// comes after the invocations); one cut short is aborted by the
// coordinator at its timeout. librdkafka's destroy of a producer can block
// for long (brokers unreachable): the process is shutting down, so one
// that takes longer is left to finish on its own. A slot not in the pool —
// a transaction's, or one being settled in the background — is its
// owner's: put closes it when the owner gives it back.
func (p *Producer) closeTxns() {
	p.txns.mu.Lock()
	p.txns.closed = true
	free := p.txns.free
	p.txns.free = nil
	p.txns.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range free {
		wg.Go(func() { closeSlot(s) })
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

// closeSlot closes s's producer, once no call is running on it; the
// caller owns s.
func closeSlot(s *txnSlot) {
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	if g := s.g; g != nil {
		s.g, s.init = nil, nil
		g.drain() // no purge: its transaction may be in any state (see retire)
		g.p.Close()
		<-g.done
	}
}

// code returns err's librdkafka error code, or ErrNoError.
func code(err error) kafka.ErrorCode {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Code()
	}
	return kafka.ErrNoError
}

// txnError wraps a transactional error of librdkafka with its class: the
// brokers refusing the transactional id or the group (authorization) is
// the operator's fault; the rest (timeouts, coordinators moving, fencing,
// aborts) the environment's.
func txnError(op string, err error) error {
	class := kafkalambda.ClassEnvironment
	switch code(err) {
	case kafka.ErrTransactionalIDAuthorizationFailed, kafka.ErrGroupAuthorizationFailed,
		kafka.ErrClusterAuthorizationFailed, kafka.ErrTopicAuthorizationFailed:
		class = kafkalambda.ClassConfiguration
	}
	return kafkalambda.Classified(class, kafkalambda.ErrProducer, fmt.Errorf("transaction: %s: %w", op, err))
}
