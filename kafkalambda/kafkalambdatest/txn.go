package kafkalambdatest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

var _ kafkalambda.Transactor = (*MemProducer)(nil)

// TxnOp names a step of a MemProducer transaction, for MemProducer.FailTxn.
type TxnOp string

// The steps of a transaction.
const (
	TxnBegin    TxnOp = "begin"
	TxnProgress TxnOp = "progress"
	TxnCommit   TxnOp = "commit"
	TxnAbort    TxnOp = "abort"
)

// ErrCommitResponseLost is the error of a commit that MemProducer.LoseCommitResponses
// made succeed while reporting a failure, as a commit whose answer never
// reached the client does. It is the environment's fault.
var ErrCommitResponseLost = errors.New("kafkalambdatest: commit response lost")

// errAbortable is the error of a commit that cannot go through: a message
// of the transaction was not delivered (librdkafka says the transaction
// requires an abort).
var errAbortable = errors.New("kafkalambdatest: transaction requires abort: a message was not delivered")

type txnState string

const (
	txnOpen      txnState = "open"
	txnCommitted txnState = "committed"
	txnAborted   txnState = "aborted"
)

// txnBook is a MemProducer's transactional state, under its mu.
type txnBook struct {
	fault   func(TxnOp) error
	lose    int
	open    int
	commits int
	aborts  int
	aborted []kafkalambda.Message
	// progress is the committed offsets: group → topic → partition → offset.
	progress map[string]map[string]map[int32]int64
	// claims is each owner's open transactions, in the order they began.
	claims map[kafkalambda.TxnOwner][]*memTxn
	// waiting counts the Progress calls waiting on a claim; waitMore is
	// closed (and replaced) when one starts waiting.
	waiting  int
	waitMore chan struct{}
}

// memTxn is one transaction of a MemProducer.
type memTxn struct {
	p       *MemProducer
	state   txnState // under p.mu, as the rest
	failed  bool     // a message was not delivered: the commit fails
	written []kafkalambda.Message
	owner   kafkalambda.TxnOwner
	ended   chan struct{} // closed when it commits or aborts
}

// FailTxn makes each transaction step fail with fn's error when it is not
// nil for it (fn nil fails none). A failed begin opens no transaction; a
// failed progress read or commit leaves the transaction open, to be
// aborted; a failed abort still aborts it (as a transactional producer
// finishes an abort it was cut short in before its next transaction).
func (p *MemProducer) FailTxn(fn func(op TxnOp) error) {
	p.mu.Lock()
	p.txns.fault = fn
	p.mu.Unlock()
}

// LoseCommitResponses makes the next n commits go through and then report
// ErrCommitResponseLost: the transaction is committed, the invocation is
// told it is not.
func (p *MemProducer) LoseCommitResponses(n int) {
	p.mu.Lock()
	p.txns.lose = n
	p.mu.Unlock()
}

// OpenTxns returns how many transactions are open: begun and neither
// committed nor aborted.
func (p *MemProducer) OpenTxns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.txns.open
}

// TxnCounts returns how many transactions were committed and aborted.
func (p *MemProducer) TxnCounts() (commits, aborts int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.txns.commits, p.txns.aborts
}

// Aborted returns the messages of topic ("" for every topic) that were
// written in transactions that aborted: what only a read_uncommitted
// consumer would have seen.
func (p *MemProducer) Aborted(topic string) []kafkalambda.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []kafkalambda.Message
	for _, m := range p.txns.aborted {
		if topic == "" || m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Committed returns the offset committed for the partition in group by a
// transaction, or -1.
func (p *MemProducer) Committed(group, topic string, partition int32) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.txns.progress[group][topic][partition]; ok {
		return o
	}
	return -1
}

// SetCommitted sets the offset committed for the partition in group, as a
// transaction of an earlier invocation would have.
func (p *MemProducer) SetCommitted(group, topic string, partition int32, offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setProgress(group, []kafkalambda.PartitionOffset{{Topic: topic, Partition: partition, Offset: offset}})
}

func (p *MemProducer) setProgress(group string, offs []kafkalambda.PartitionOffset) {
	if p.txns.progress == nil {
		p.txns.progress = map[string]map[string]map[int32]int64{}
	}
	g := p.txns.progress[group]
	if g == nil {
		g = map[string]map[int32]int64{}
		p.txns.progress[group] = g
	}
	for _, o := range offs {
		if g[o.Topic] == nil {
			g[o.Topic] = map[int32]int64{}
		}
		g[o.Topic][o.Partition] = o.Offset
	}
}

// faultLocked returns FailTxn's error for op; p.mu is held.
func (p *MemProducer) faultLocked(op TxnOp) error {
	if p.txns.fault == nil {
		return nil
	}
	return p.txns.fault(op)
}

// BeginTxn implements kafkalambda.Transactor: the transaction claims its
// owner until it ends: the Progress of a later transaction of the owner
// waits for it (AwaitProgressWaiting tells when one does).
func (p *MemProducer) BeginTxn(ctx context.Context, owner kafkalambda.TxnOwner) (kafkalambda.Txn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", kafkalambda.ErrProducer, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("%w: closed", kafkalambda.ErrProducer)
	}
	if err := p.faultLocked(TxnBegin); err != nil {
		return nil, err
	}
	t := &memTxn{p: p, state: txnOpen, owner: owner, ended: make(chan struct{})}
	if p.txns.claims == nil {
		p.txns.claims = map[kafkalambda.TxnOwner][]*memTxn{}
	}
	p.txns.claims[owner] = append(p.txns.claims[owner], t)
	p.txns.open++
	return t, nil
}

// endLocked marks t, open, ended; p.mu is held.
func (p *MemProducer) endLocked(t *memTxn, state txnState) {
	t.state = state
	p.txns.open--
	close(t.ended)
	c := p.txns.claims[t.owner]
	c = slices.DeleteFunc(c, func(x *memTxn) bool { return x == t })
	if len(c) == 0 {
		delete(p.txns.claims, t.owner)
	} else {
		p.txns.claims[t.owner] = c
	}
}

// abortLocked aborts t, open; p.mu is held.
func (p *MemProducer) abortLocked(t *memTxn) {
	p.endLocked(t, txnAborted)
	p.txns.aborts++
	p.txns.aborted = append(p.txns.aborted, t.written...)
	t.written = nil
}

// AwaitProgressWaiting returns once a transaction's Progress is waiting on
// an earlier transaction of its owner, or when ctx ends.
func (p *MemProducer) AwaitProgressWaiting(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.txns.waiting > 0 {
			p.mu.Unlock()
			return nil
		}
		if p.txns.waitMore == nil {
			p.txns.waitMore = make(chan struct{})
		}
		more := p.txns.waitMore
		p.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// earlier returns the open transaction of t's owner that began before t,
// or nil; p.mu is held.
func (p *MemProducer) earlier(t *memTxn) *memTxn {
	for _, x := range p.txns.claims[t.owner] {
		if x == t {
			return nil
		}
		return x
	}
	return nil
}

// Produce implements kafkalambda.Txn, with MemProducer's faults.
func (t *memTxn) Produce(ctx context.Context, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	return t.p.produce(ctx, m, d, t)
}

// Purge implements kafkalambda.Txn: the transaction's held messages fail
// with ErrPurged.
func (t *memTxn) Purge() { t.p.purge(t) }

// Progress implements kafkalambda.Txn.
func (t *memTxn) Progress(ctx context.Context, group string, parts []kafkalambda.PartitionOffset) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, kafkalambda.Transient(err)
	}
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.faultLocked(TxnProgress); err != nil {
		return nil, err
	}
	for x := p.earlier(t); x != nil; x = p.earlier(t) {
		p.txns.waiting++
		if p.txns.waitMore != nil {
			close(p.txns.waitMore)
			p.txns.waitMore = nil
		}
		p.mu.Unlock()
		var err error
		select {
		case <-x.ended:
		case <-ctx.Done():
			err = ctx.Err()
		}
		p.mu.Lock()
		p.txns.waiting--
		if err != nil {
			return nil, kafkalambda.Transient(fmt.Errorf("progress of %s: an earlier transaction is still open: %w", t.owner, err))
		}
	}
	out := make([]int64, len(parts))
	for i, pt := range parts {
		out[i] = -1
		if o, ok := p.txns.progress[group][pt.Topic][pt.Partition]; ok {
			out[i] = o
		}
	}
	return out, nil
}

// Commit implements kafkalambda.Txn. It fails, leaving the transaction to
// be aborted, when a message of it was not delivered or is still held.
func (t *memTxn) Commit(ctx context.Context, group string, offsets []kafkalambda.PartitionOffset) error {
	if err := ctx.Err(); err != nil {
		return kafkalambda.Transient(err)
	}
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.state != txnOpen {
		return fmt.Errorf("%w: commit of a transaction that is %s", kafkalambda.ErrProducer, t.state)
	}
	if err := p.faultLocked(TxnCommit); err != nil {
		return err
	}
	if t.failed || slices.ContainsFunc(p.held, func(h heldMessage) bool { return h.txn == t }) {
		return kafkalambda.Transient(errAbortable)
	}
	p.endLocked(t, txnCommitted)
	p.txns.commits++
	p.acked = append(p.acked, t.written...)
	t.written = nil
	p.setProgress(group, offsets)
	if p.txns.lose > 0 {
		p.txns.lose--
		return kafkalambda.Transient(ErrCommitResponseLost)
	}
	return nil
}

// Abort implements kafkalambda.Txn. It aborts the transaction even when
// FailTxn makes it report an error. Aborting a transaction that is already
// committed or aborted does nothing: a commit whose response was lost
// stays committed.
func (t *memTxn) Abort(ctx context.Context) error {
	t.p.purge(t)
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.state != txnOpen {
		return nil
	}
	p.abortLocked(t)
	if err := ctx.Err(); err != nil {
		return kafkalambda.Transient(err)
	}
	return p.faultLocked(TxnAbort)
}
