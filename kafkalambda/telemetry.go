package kafkalambda

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// telemetry is a handler's tracing and metrics (WithTracing, WithMetrics):
// nil when neither is configured, and then every hook below is a nil check
// and nothing else. The hooks sit at the engine's invocation, record and
// send boundaries; they never reach into a codec or a Producer.
type telemetry struct {
	tracer  trace.Tracer // nil without WithTracing
	flusher flusher      // the TracerProvider, when it can flush
	flushIn time.Duration
	prop    propagation.TextMapPropagator
	metrics Metrics     // nil without WithMetrics
	warm    atomic.Bool // an invocation has started: the next is not a cold start
}

// telemetryOf returns c's telemetry, creating it.
func (c *config) telemetryOf() *telemetry {
	if c.tel == nil {
		c.tel = &telemetry{prop: propagation.TraceContext{}}
	}
	return c.tel
}

// WithTracing traces the handler with OpenTelemetry spans from tp (the
// SDK's TracerProvider in the function's main; any TracerProvider works):
//
//   - a span per invocation, a child of the span in Invoke's ctx if there is
//     one, else of the Lambda invocation's X-Ray trace header when it is
//     sampled (an unsampled one, which Lambda sends when active tracing is
//     off, is kept as a link so that it does not switch tracing off);
//   - a "process {topic}" span per record (kind consumer) that covers its
//     deserialization and Process and is the parent of whatever Process
//     does with its ctx. A record whose headers carry a producer's context
//     (W3C traceparent/tracestate, see WithPropagator) has it as its parent
//     and as a link, so that producer, record and outputs make one trace;
//     the span also links to the invocation's span. Without one, the
//     invocation's span is its parent;
//   - a "send {topic}" span (kind producer) per output record — Output.Send,
//     SendTombstone, DeadLetter — from the ctx of the send, whose context is
//     injected into the record's headers unless they already carry the
//     propagator's fields (a traceparent the caller set is kept);
//   - a "kafkalambda flush" span for the wait for the brokers'
//     acknowledgements at the end of the invocation.
//
// Lambda may freeze the function as soon as an invocation answers, with
// spans still in a batching processor's queue: so before it answers, the
// handler calls tp's ForceFlush when it has one (the SDK's TracerProvider
// does), bounded by the Lambda deadline (or WithFlushTimeout outside
// Lambda). An export that fails or times out never fails the invocation.
//
// Attributes follow the OpenTelemetry messaging semantic conventions for
// Kafka (topic, partition, offset, a key that is valid UTF-8, tombstone,
// batch size). A record that fails gets an error status and an error.type
// attribute naming its failure class (see Classify), never its contents.
// The handler's log lines carry the trace_id and span_id of the record or
// invocation they are about.
//
// Spans follow their parent's sampling decision, as the SDK's default
// (parent-based) samplers do: a record whose parent — the producer's
// context, else the invocation's span — is not sampled gets no span, and
// is processed with that parent's context, which its outputs' headers
// carry onward, so that a trace is kept or dropped whole at low cost.
//
// Without WithTracing the handler creates no span and reads no header.
func WithTracing(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if isNil(tp) {
			return fmt.Errorf("kafkalambda: %w: nil TracerProvider", ErrInvalidOption)
		}
		t := c.telemetryOf()
		t.tracer = tp.Tracer(instrumentationName, trace.WithInstrumentationVersion(instrumentationVersion))
		t.flusher, _ = tp.(flusher)
		return nil
	}
}

// WithPropagator sets how WithTracing reads a producer's context from a
// record's headers and writes the current one into an output's (default
// propagation.TraceContext{}: W3C traceparent and tracestate). It needs
// WithTracing.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) error {
		if isNil(p) {
			return fmt.Errorf("kafkalambda: %w: nil propagator", ErrInvalidOption)
		}
		c.telemetryOf().prop = p
		return nil
	}
}

// Metrics is where a handler's per-invocation metrics go (WithMetrics): EMF
// for CloudWatch's Embedded Metric Format, OTelMetrics for OpenTelemetry.
type Metrics interface {
	// publish receives the figures of one invocation before it answers;
	// ctx bounds what it may wait for.
	publish(ctx context.Context, s *invocationStats)
}

// WithMetrics publishes the figures of every invocation, per topic and
// partition — records in, processed, failed by class, dead-lettered,
// outputs sent and acknowledged, the oldest record's age at processing
// time — and per invocation — batch size, flush wait, cold start — to m,
// e.g. WithMetrics(&EMF{Namespace: "Trades"}), or OpenTelemetry
// instruments with OTelMetrics. Without it nothing is counted.
func WithMetrics(m Metrics) Option {
	return func(c *config) error {
		if isNil(m) {
			return fmt.Errorf("kafkalambda: %w: nil Metrics", ErrInvalidOption)
		}
		c.telemetryOf().metrics = m
		return nil
	}
}

// flusher is a TracerProvider that can export what it holds now (the
// SDK's).
type flusher interface {
	ForceFlush(ctx context.Context) error
}

const (
	instrumentationName    = "github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	instrumentationVersion = "0.2.0"
)

// invocationStats are the figures of one invocation (WithMetrics).
type invocationStats struct {
	TraceID   string // the invocation span's, with WithTracing
	Start     time.Time
	Duration  time.Duration
	ColdStart bool
	BatchSize int
	FlushWait time.Duration
	Parts     []partitionStats
}

// partitionStats are one topic-partition's figures in an invocation.
type partitionStats struct {
	Topic     string
	Partition int32
	In        int
	Processed int
	Failed    [numClasses]int // by failure class: classIndex
	Dead      int
	Sent      int
	Acked     int
	AgeMax    time.Duration // the oldest record's age (now − timestamp) when it was processed; 0 without timestamps
}

const numClasses = 3

// classIndex maps a failure class to its index in partitionStats.Failed.
func classIndex(c FailureClass) int {
	switch c {
	case ClassEnvironment:
		return 1
	case ClassConfiguration:
		return 2
	}
	return 0
}

// invTel is one invocation's telemetry: nil when the handler has none.
type invTel struct {
	tel   *telemetry
	ctx   context.Context // Invoke's: bounds the tracer's flush
	start time.Time
	span  trace.Span // nil without tracing
	// sampled: the invocation's span is, so its records' spans would be
	sampled bool
	flush   trace.Span
	cold    bool
	ev      *Event
	parts   []partTel
	flAt    time.Time // when the flush began
}

// partTel is one partition's telemetry in an invocation.
type partTel struct {
	inv       *invTel
	pt        *Partition
	st        partitionStats
	sent      atomic.Int64         // sends may come from goroutines of Process
	oldest    time.Time            // the oldest record timestamp seen
	attrs     []attribute.KeyValue // the process spans' attributes common to the partition
	name      string               // the process spans' name
	startOpts []trace.SpanStartOption
}

// begin starts an invocation's telemetry; nil when there is none.
func (t *telemetry) begin(ctx context.Context, start time.Time) (context.Context, *invTel) {
	if t == nil {
		return ctx, nil
	}
	it := &invTel{tel: t, ctx: ctx, start: start, cold: !t.warm.Swap(true)}
	if t.tracer != nil {
		ctx = it.startSpan(ctx)
	}
	return ctx, it
}

// event records the parsed event and prepares the partitions' telemetry.
func (it *invTel) event(ev *Event) {
	if it == nil {
		return
	}
	it.ev = ev
	it.parts = make([]partTel, len(ev.Partitions))
	for i := range ev.Partitions {
		pt := &ev.Partitions[i]
		p := &it.parts[i]
		p.inv, p.pt = it, pt
		p.st.Topic, p.st.Partition, p.st.In = pt.Topic, pt.Partition, len(pt.Records)
		if it.span != nil {
			p.prepareTrace()
		}
	}
	if it.span != nil {
		it.eventAttrs(ev)
	}
}

// partition returns the telemetry of r's partition; nil when there is none.
func (it *invTel) partition(r *partRun) *partTel {
	if it == nil {
		return nil
	}
	for i := range it.parts {
		if it.parts[i].pt == r.pt {
			return &it.parts[i]
		}
	}
	return nil
}

// recTel is one record's telemetry, from record to done.
type recTel struct {
	p    *partTel
	span trace.Span
}

// record starts a record's telemetry: its process span, its age. The ctx
// it returns is the one the record is processed with.
func (p *partTel) record(ctx context.Context, raw *RawRecord) (context.Context, recTel) {
	if p == nil {
		return ctx, recTel{}
	}
	if p.inv.tel.metrics != nil && !raw.Timestamp.IsZero() && (p.oldest.IsZero() || raw.Timestamp.Before(p.oldest)) {
		// The oldest record so far: its age now. Only such a record reads
		// the clock, typically the partition's first.
		p.oldest = raw.Timestamp
		p.st.AgeMax = time.Since(raw.Timestamp)
	}
	rt := recTel{p: p}
	if p.inv.span != nil {
		ctx, rt.span = p.startProcess(ctx, raw)
	}
	return ctx, rt
}

// done ends a record's telemetry: err is nil when it was processed, else
// its failure, of class, and deadLettered says the policy set it aside.
func (rt recTel) done(err error, class FailureClass, act action) {
	p := rt.p
	if p == nil {
		return
	}
	if err == nil {
		p.st.Processed++
	} else {
		p.st.Failed[classIndex(class)]++
		if act == actionDeadLetter {
			p.st.Dead++
		}
	}
	if rt.span != nil {
		endProcess(rt.span, err, class, act)
	}
}

// sendTel is one output record's telemetry.
type sendTel struct {
	p    *partTel
	span trace.Span
}

// send starts an output record's telemetry: its span, its context in
// headers.
func (p *partTel) send(ctx context.Context, topic string, value []byte, headers []Header) (context.Context, []Header, sendTel) {
	if p == nil {
		return ctx, headers, sendTel{}
	}
	st := sendTel{p: p}
	if p.inv.span != nil {
		ctx, headers, st.span = p.startSend(ctx, topic, value, headers)
	}
	return ctx, headers, st
}

// done ends an output record's telemetry; err is Produce's.
func (st sendTel) done(err error) {
	if st.p == nil {
		return
	}
	if err == nil {
		st.p.sent.Add(1)
	}
	if st.span != nil {
		endSend(st.span, err)
	}
}

// flushing marks the start of the wait for the brokers.
func (it *invTel) flushing(ctx context.Context) {
	if it == nil {
		return
	}
	it.flAt = time.Now()
	if it.span != nil {
		_, it.flush = it.tel.tracer.Start(ctx, spanFlush)
	}
}

// end closes the invocation's telemetry once its answer is known: inv is
// nil when the event could not be parsed.
func (it *invTel) end(inv *invocation, failures []sendFailure, sent int, out outcome) {
	if it == nil {
		return
	}
	now := time.Now()
	// What the metrics and the tracer may wait for (their exporters'
	// flush) is bounded by the Lambda deadline, or WithFlushTimeout.
	ctx := it.ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, it.tel.flushIn)
		defer cancel()
	}
	undelivered := make(map[*Partition]int, len(failures))
	for _, f := range failures {
		undelivered[f.run.pt]++
	}
	if it.tel.metrics != nil {
		s := &invocationStats{Start: it.start, Duration: now.Sub(it.start), ColdStart: it.cold}
		if it.span != nil {
			s.TraceID = it.span.SpanContext().TraceID().String()
		}
		if !it.flAt.IsZero() {
			s.FlushWait = now.Sub(it.flAt)
		}
		if it.ev != nil {
			s.BatchSize = it.ev.Len()
		}
		s.Parts = make([]partitionStats, len(it.parts))
		for i := range it.parts {
			p := &it.parts[i]
			ps := p.st
			ps.Sent = int(p.sent.Load())
			ps.Acked = max(0, ps.Sent-undelivered[p.pt])
			s.Parts[i] = ps
		}
		it.tel.metrics.publish(ctx, s)
	}
	if it.span != nil {
		it.endSpans(failures, sent, out)
		if f := it.tel.flusher; f != nil {
			_ = f.ForceFlush(ctx)
		}
	}
}

// actionAfter returns what handle did with a failed record, from whether
// its partition goes on: only a dead-lettered record lets it go on, and a
// failed batch has failed the invocation.
func (inv *invocation) actionAfter(goesOn bool) action {
	switch {
	case goesOn:
		return actionDeadLetter
	case inv.failed.Load():
		return actionFailBatch
	}
	return actionReport
}
