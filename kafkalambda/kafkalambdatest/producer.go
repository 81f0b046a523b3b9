package kafkalambdatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// ErrPurged is the delivery error of a message MemProducer.Purge gave up.
// It is the environment's fault (kafkalambda.ClassEnvironment), as a purge
// at an invocation's deadline is.
var ErrPurged = errors.New("kafkalambdatest: purged")

var _ interface {
	kafkalambda.Producer
	kafkalambda.Warmer
} = (*MemProducer)(nil)

// MemProducer is an in-memory kafkalambda.Producer with fault controls, so
// that a handler's failure policies and its flush-at-end can be tested
// without a broker, in milliseconds. By default it acknowledges every
// message at once (done is called before Produce returns) and keeps it;
// Refuse, Fail and Hold change that. It is safe for concurrent use; the
// zero value is not: use NewMemProducer.
type MemProducer struct {
	mu      sync.Mutex
	acked   []kafkalambda.Message
	held    []heldMessage
	holding bool
	refuse  func(*kafkalambda.Message) error
	fail    func(*kafkalambda.Message) error
	warm    error
	closed  bool
	txns    txnBook // transactions: see txn.go
	// heldMore is closed (and replaced) when a message is held.
	heldMore chan struct{}
}

type heldMessage struct {
	m   kafkalambda.Message
	d   kafkalambda.Delivery
	txn *memTxn // the transaction it was produced in, or nil
}

// NewMemProducer returns a MemProducer that acknowledges everything.
func NewMemProducer() *MemProducer { return &MemProducer{} }

// Refuse makes Produce return fn's error for each message it is not nil
// for: the message is not queued, as librdkafka refuses one too large for
// message.max.bytes. fn nil refuses nothing.
func (p *MemProducer) Refuse(fn func(m *kafkalambda.Message) error) {
	p.mu.Lock()
	p.refuse = fn
	p.mu.Unlock()
}

// Fail makes the delivery of each message fail with fn's error when it is
// not nil for it, as a broker's rejection or a timeout does. fn nil fails
// nothing.
func (p *MemProducer) Fail(fn func(m *kafkalambda.Message) error) {
	p.mu.Lock()
	p.fail = fn
	p.mu.Unlock()
}

// Hold keeps the delivery reports of the messages produced from now on
// until Release or Purge: a slow broker, or one that is gone.
func (p *MemProducer) Hold() {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
}

// Release stops holding and reports every held message as Fail says.
func (p *MemProducer) Release() {
	p.mu.Lock()
	p.holding = false
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, h := range held {
		p.deliver(h)
	}
}

// Held returns how many messages wait for their reports.
func (p *MemProducer) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

// WaitHeld waits until at least n messages are held (see Hold), or ctx
// ends.
func (p *MemProducer) WaitHeld(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		if len(p.held) >= n {
			p.mu.Unlock()
			return nil
		}
		if p.heldMore == nil {
			p.heldMore = make(chan struct{})
		}
		more := p.heldMore
		p.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return fmt.Errorf("kafkalambdatest: %d messages held, waiting for %d: %w", p.Held(), n, ctx.Err())
		}
	}
}

// SetWarmError makes Warm return err (nil by default).
func (p *MemProducer) SetWarmError(err error) {
	p.mu.Lock()
	p.warm = err
	p.mu.Unlock()
}

// Messages returns the acknowledged messages of topic ("" for every topic),
// in the order they were acknowledged — those produced in a transaction
// once it has committed: what a read_committed consumer sees.
func (p *MemProducer) Messages(topic string) []kafkalambda.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []kafkalambda.Message
	for _, m := range p.acked {
		if topic == "" || m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Produce implements kafkalambda.Producer.
func (p *MemProducer) Produce(ctx context.Context, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	return p.produce(ctx, m, d, nil)
}

func (p *MemProducer) produce(ctx context.Context, m *kafkalambda.Message, d kafkalambda.Delivery, txn *memTxn) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", kafkalambda.ErrProducer, err)
	}
	// A deep copy: the handler reuses m's memory once its delivery is done.
	cp := kafkalambda.Message{Topic: m.Topic, Key: slices.Clone(m.Key), Value: slices.Clone(m.Value),
		Headers: slices.Clone(m.Headers)}
	if m.Value == nil {
		cp.Value = nil
	}
	for i, h := range cp.Headers {
		if h.Value != nil {
			cp.Headers[i].Value = slices.Clone(h.Value)
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("%w: closed", kafkalambda.ErrProducer)
	}
	if txn != nil && txn.state != txnOpen {
		p.mu.Unlock()
		return fmt.Errorf("%w: produce in a transaction that is %s", kafkalambda.ErrProducer, txn.state)
	}
	if p.refuse != nil {
		if err := p.refuse(&cp); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	if p.holding {
		p.held = append(p.held, heldMessage{cp, d, txn})
		if p.heldMore != nil {
			close(p.heldMore)
			p.heldMore = nil
		}
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	p.deliver(heldMessage{cp, d, txn})
	return nil
}

func (p *MemProducer) deliver(h heldMessage) {
	p.mu.Lock()
	var err error
	if p.fail != nil {
		err = p.fail(&h.m)
	}
	switch {
	case err != nil && h.txn != nil:
		h.txn.failed = true // as librdkafka: the transaction must abort
	case err != nil:
	case h.txn != nil:
		h.txn.written = append(h.txn.written, h.m)
	default:
		p.acked = append(p.acked, h.m)
	}
	p.mu.Unlock()
	h.d.Done(err)
}

// Purge implements kafkalambda.Producer: every held message fails with
// ErrPurged.
func (p *MemProducer) Purge() { p.purge(nil) }

// purge fails the held messages of txn (all of them when txn is nil) with
// ErrPurged.
func (p *MemProducer) purge(txn *memTxn) {
	p.mu.Lock()
	var purged []heldMessage
	p.held = slices.DeleteFunc(p.held, func(h heldMessage) bool {
		if txn == nil || h.txn == txn {
			purged = append(purged, h)
			if h.txn != nil {
				h.txn.failed = true
			}
			return true
		}
		return false
	})
	p.mu.Unlock()
	for _, h := range purged {
		h.d.Done(kafkalambda.Transient(ErrPurged))
	}
}

// Close implements kafkalambda.Producer: held messages are purged, and
// Produce fails from now on.
func (p *MemProducer) Close() {
	p.Purge()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// Warm implements kafkalambda.Warmer.
func (p *MemProducer) Warm(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.warm
}
