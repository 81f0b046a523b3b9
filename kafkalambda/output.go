package kafkalambda

import (
	"context"
	"errors"
	"fmt"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// ErrNoInvocation: Output.Send was called with a ctx that is not the one
// Process received, or after its invocation ended (from a goroutine Process
// left running), so there is no invocation whose flush would cover it.
var ErrNoInvocation = errors.New("kafkalambda: send outside an invocation: pass the ctx Process received, within Process")

// Output is a typed destination topic. Sends go through the producer of
// the handler whose Process is running (WithProducer), and are covered by
// that invocation's flush-at-end: the invocation succeeds only if every
// record sent is acknowledged. An Output is safe for concurrent use and is
// meant to be made once, next to the handler.
type Output[K, V any] struct {
	topic  string
	keys   encoder[K]
	values encoder[V]
}

// NewOutput returns an Output that writes to topic, serializing keys and
// values with the given serializers (a registry serializer gets a Target
// naming topic and whether it writes the key or the value).
func NewOutput[K, V any](topic string, keys serde.Serializer[K], values serde.Serializer[V]) *Output[K, V] {
	return &Output[K, V]{topic: topic, keys: newEncoder(keys), values: newEncoder(values)}
}

// Topic returns the output's topic.
func (o *Output[K, V]) Topic() string { return o.topic }

// Send serializes key and value and enqueues the record; it returns once
// the record is queued, not acknowledged. ctx must be (or derive from) the
// ctx Process received: it ties the record to the invocation, whose end
// waits for the acknowledgement, and to the record being processed, which
// a failed delivery fails under ReportItemFailures. The record goes to the
// partition the producer's partitioner picks for key (murmur2 by default,
// as Java clients do). If the producer's local queue is full, Send waits
// for room until the invocation's deadline. Send keeps none of the
// caller's memory: once it returns, key, value and the headers (their
// slice and values) may be reused.
//
// Errors: ErrNoInvocation; a serializer's error (a *serde.Error naming the
// output's topic and schema id); ErrProducer when the producer cannot be
// created or the record cannot be queued. A Process that returns the
// error fails its record at StageSend; the error's class (Classify) says
// whose fault it is — a record too large for the producer is the record's,
// a topic the brokers do not know is the operator's, a producer that
// cannot connect or whose queue stays full is the environment's.
func (o *Output[K, V]) Send(ctx context.Context, key K, value V, headers ...Header) error {
	r := runFrom(ctx)
	if r == nil {
		return ErrNoInvocation
	}
	if o.keys.s == nil || o.values.s == nil {
		return fmt.Errorf("kafkalambda: %w: output %q has no serializer", ErrInvalidOption, o.topic)
	}
	kb, kh, klent, err := o.keys.encode(ctx, serde.Target{Topic: o.topic, IsKey: true}, key)
	if err != nil {
		return &sendError{o.topic, fmt.Errorf("serialize key: %w", err)}
	}
	vb, vh, vlent, err := o.values.encode(ctx, serde.Target{Topic: o.topic}, value)
	if err != nil {
		return &sendError{o.topic, fmt.Errorf("serialize value: %w", err)}
	}
	if len(kh)+len(vh) > 0 { // schema id headers (serde.WithSchemaIDHeader), after the caller's
		headers = append(append(append(make([]Header, 0, len(headers)+len(kh)+len(vh)), headers...), kh...), vh...)
	}
	m := outMsg{topic: o.topic, key: kb, value: vb, keyLent: klent, valueLent: vlent}
	if err := r.send(ctx, m, headers); err != nil {
		return &sendError{o.topic, err}
	}
	return nil
}

// SendTombstone sends a record with key and a null value.
func (o *Output[K, V]) SendTombstone(ctx context.Context, key K, headers ...Header) error {
	r := runFrom(ctx)
	if r == nil {
		return ErrNoInvocation
	}
	if o.keys.s == nil {
		return fmt.Errorf("kafkalambda: %w: output %q has no key serializer", ErrInvalidOption, o.topic)
	}
	kb, kh, klent, err := o.keys.encode(ctx, serde.Target{Topic: o.topic, IsKey: true}, key)
	if err != nil {
		return &sendError{o.topic, fmt.Errorf("serialize key: %w", err)}
	}
	if len(kh) > 0 {
		headers = append(append(make([]Header, 0, len(headers)+len(kh)), headers...), kh...)
	}
	if err := r.send(ctx, outMsg{topic: o.topic, key: kb, keyLent: klent}, headers); err != nil {
		return &sendError{o.topic, err}
	}
	return nil
}

// encoder is an Output's serializer for keys or values, with the way it
// serializes chosen once (a type assertion to an interface costs a lookup
// of its method table on every call).
type encoder[T any] struct {
	s   serde.Serializer[T]
	hs  serde.HeaderSerializer[T] // s, when it is one
	raw serde.RawSerializer[T]    // s, when it is one
}

func newEncoder[T any](s serde.Serializer[T]) encoder[T] {
	hs, _ := s.(serde.HeaderSerializer[T])
	raw, _ := s.(serde.RawSerializer[T])
	return encoder[T]{s: s, hs: hs, raw: raw}
}

// encode is s.Serialize, or SerializeWithHeaders when s is a
// serde.HeaderSerializer, whose headers (a schema id header) go with the
// record, or SerializeRaw when s is a serde.RawSerializer: lent reports
// that the bytes are then v's own, which the send copies (into memory the
// invocation reuses, where Serialize would allocate).
func (e encoder[T]) encode(ctx context.Context, t serde.Target, v T) (b []byte, hdrs []Header, lent bool, err error) {
	switch {
	case e.raw != nil:
		return e.raw.SerializeRaw(v), nil, true, nil
	case e.hs != nil:
		b, hdrs, err = e.hs.SerializeWithHeaders(ctx, t, v)
		return b, hdrs, false, err
	}
	b, err = e.s.Serialize(ctx, t, v)
	return b, nil, false, err
}

// outMsg is a record an Output sends: its serialized key and value, and
// whether each is lent (to be copied before the send returns). Its headers
// go beside it, so that the compiler sees that send does not keep the
// caller's slice (Send's variadic headers then stay on its stack).
type outMsg struct {
	topic              string
	key, value         []byte
	keyLent, valueLent bool
}

// send queues one record for the partition run's current record, tracked
// by the invocation's flush. A Producer waiting for room in a full queue
// waits no longer than the flush deadline. The caller's memory is not
// kept: what m lends, its headers and bytes of the event are copied first.
func (r *partRun) send(ctx context.Context, m outMsg, headers []Header) error {
	inv := r.inv
	if inv.eng.cfg.producer == nil {
		return fmt.Errorf("kafkalambda: %w: the handler has no producer (WithProducer)", ErrInvalidOption)
	}
	t := inv.tracker(true)
	if err := t.begin(); err != nil {
		return err
	}
	defer t.end()
	key, value, hs := t.own(m.key, m.value,
		m.keyLent || inv.ps.owns(m.key), m.valueLent || inv.ps.owns(m.value), headers)
	if inv.eos != nil {
		r.hold(m.topic, key, value, hs)
		return nil
	}
	return r.queue(ctx, m.topic, key, value, hs)
}

// queue is send without the exactly-once mode's holding, of memory the
// invocation owns.
func (r *partRun) queue(ctx context.Context, topic string, key, value []byte, headers []Header) error {
	inv := r.inv
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, inv.flushDeadline())
		defer cancel()
	}
	ctx, headers, st := r.tel.send(ctx, topic, value, headers)
	err := inv.tracker(true).send(ctx, r, topic, key, value, headers)
	st.done(err)
	return err
}
