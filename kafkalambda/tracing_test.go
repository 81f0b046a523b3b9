package kafkalambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// newTracing returns a TracerProvider exporting to memory, synchronously:
// every ended span is in the exporter when End returns.
func newTracing(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

// producerHeaders starts and ends a producer span and returns the headers
// a producer would have written for it with the W3C propagator.
func producerHeaders(t *testing.T, tp trace.TracerProvider) ([]kafkalambda.Header, trace.SpanContext) {
	t.Helper()
	ctx, span := tp.Tracer("upstream").Start(context.Background(), "orders publish", trace.WithSpanKind(trace.SpanKindProducer))
	span.End()
	mc := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, mc)
	if mc["traceparent"] == "" {
		t.Fatal("the propagator wrote no traceparent")
	}
	h := []kafkalambda.Header{{Key: "traceparent", Value: []byte(mc["traceparent"])}}
	if ts := mc["tracestate"]; ts != "" {
		h = append(h, kafkalambda.Header{Key: "tracestate", Value: []byte(ts)})
	}
	return h, span.SpanContext()
}

func spansNamed(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (string, bool) {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit(), true
		}
	}
	return "", false
}

func linked(s tracetest.SpanStub, sc trace.SpanContext) bool {
	for _, l := range s.Links {
		if l.SpanContext.TraceID() == sc.TraceID() && l.SpanContext.SpanID() == sc.SpanID() {
			return true
		}
	}
	return false
}

func TestTracingRecordSpanContinuesTheProducersTrace(t *testing.T) {
	t.Parallel()
	tp, exp := newTracing(t)
	upstream, producer := producerHeaders(t, tp)
	p := kafkalambdatest.NewMemProducer()
	out := kafkalambda.NewOutput("settled", serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			_, work := tp.Tracer("user").Start(ctx, "settle")
			defer work.End()
			return out.Send(ctx, r.Key, r.Value)
		}, kafkalambda.WithProducer(p), kafkalambda.WithTracing(tp), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	traced := rec(7, "user-1", "a")
	traced.Headers = upstream
	payload := event(t, map[string][]kafkalambda.RawRecord{"orders-2": {traced, rec(8, "user-2", "b")}})
	if _, err := h.Invoke(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	invs := spansNamed(spans, "kafkalambda invoke")
	procs := spansNamed(spans, "process orders")
	sends := spansNamed(spans, "send settled")
	works := spansNamed(spans, "settle")
	if len(invs) != 1 || len(procs) != 2 || len(sends) != 2 || len(works) != 2 || len(spansNamed(spans, "kafkalambda flush")) != 1 {
		t.Fatalf("spans: %d invoke, %d process, %d send, %d settle; want 1, 2, 2, 2 and a flush", len(invs), len(procs), len(sends), len(works))
	}
	inv := invs[0]
	if v, _ := attr(inv, "messaging.batch.message_count"); v != "2" {
		t.Errorf("invocation batch size %q, want 2", v)
	}
	// The traced record's span is in the producer's trace, a child of its
	// span and linked to it and to the invocation.
	pr := procs[0]
	if pr.Parent.SpanID() != producer.SpanID() || pr.SpanContext.TraceID() != producer.TraceID() {
		t.Errorf("process span's parent %v, want the producer's %v", pr.Parent, producer)
	}
	if !linked(pr, producer) || !linked(pr, inv.SpanContext) {
		t.Errorf("process span links %v: want the producer and the invocation", pr.Links)
	}
	if pr.SpanKind != trace.SpanKindConsumer {
		t.Errorf("process span kind %v", pr.SpanKind)
	}
	for key, want := range map[string]string{"messaging.system": "kafka", "messaging.destination.name": "orders",
		"messaging.destination.partition.id": "2", "messaging.kafka.offset": "7", "messaging.kafka.message.key": "user-1",
		"messaging.operation.type": "process"} {
		if v, ok := attr(pr, key); v != want {
			t.Errorf("process span %s = %q (%v), want %q", key, v, ok, want)
		}
	}
	// The untraced record's span is the invocation's child.
	if procs[1].Parent.SpanID() != inv.SpanContext.SpanID() || len(procs[1].Links) != 0 {
		t.Errorf("untraced record: parent %v links %v, want the invocation and none", procs[1].Parent, procs[1].Links)
	}
	for i := range 2 {
		if works[i].Parent.SpanID() != procs[i].SpanContext.SpanID() {
			t.Errorf("Process's span %d is not the child of its record's span", i)
		}
		if sends[i].Parent.SpanID() != procs[i].SpanContext.SpanID() || sends[i].SpanKind != trace.SpanKindProducer {
			t.Errorf("send span %d: parent %v kind %v, want its record's span, producer", i, sends[i].Parent, sends[i].SpanKind)
		}
	}
	// The output carries its send span's context onward.
	msgs := p.Messages("settled")
	if len(msgs) != 2 {
		t.Fatalf("%d messages sent", len(msgs))
	}
	for i, m := range msgs {
		ctx := propagation.TraceContext{}.Extract(context.Background(), headers(m.Headers))
		sc := trace.SpanContextFromContext(ctx)
		if sc.SpanID() != sends[i].SpanContext.SpanID() || sc.TraceID() != sends[i].SpanContext.TraceID() {
			t.Errorf("output %d carries %v, want its send span %v", i, sc, sends[i].SpanContext)
		}
	}
	if msgs[0].Headers[0].Key != "traceparent" || len(msgs[0].Headers) != 1 {
		t.Errorf("output headers %v: want the traceparent alone", msgs[0].Headers)
	}
}

// headers is a propagation.TextMapCarrier reading record headers.
type headers []kafkalambda.Header

func (h headers) Get(key string) string {
	for _, x := range h {
		if x.Key == key {
			return string(x.Value)
		}
	}
	return ""
}
func (h headers) Set(string, string) {}
func (h headers) Keys() []string {
	var k []string
	for _, x := range h {
		k = append(k, x.Key)
	}
	return k
}

func TestTracingKeepsTheSendersTraceparent(t *testing.T) {
	t.Parallel()
	tp, _ := newTracing(t)
	own := []kafkalambda.Header{{Key: "traceparent", Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}}
	p := kafkalambdatest.NewMemProducer()
	out := kafkalambda.NewOutput("settled", serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			return out.Send(ctx, r.Key, r.Value, own...)
		}, kafkalambda.WithProducer(p), kafkalambda.WithTracing(tp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), event(t, map[string][]kafkalambda.RawRecord{"orders-0": {rec(1, "k", "v")}})); err != nil {
		t.Fatal(err)
	}
	m := p.Messages("settled")
	if len(m) != 1 || len(m[0].Headers) != 1 || string(m[0].Headers[0].Value) != string(own[0].Value) {
		t.Fatalf("headers %v, want the sender's traceparent alone", m[0].Headers)
	}
}

func TestTracingNotConfiguredAddsNoHeaders(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := memHandler(t, p)
	if _, err := h.Invoke(context.Background(), orders(t, `{"id":1}`)); err != nil {
		t.Fatal(err)
	}
	if m := p.Messages("out"); len(m) != 1 || len(m[0].Headers) != 0 {
		t.Fatalf("messages %v: want one, without headers", m)
	}
}

func TestTracingFailedRecordAndItsDeadLetter(t *testing.T) {
	t.Parallel()
	tp, exp := newTracing(t)
	var logs bytes.Buffer
	p := kafkalambdatest.NewMemProducer()
	h := memHandler(t, p, kafkalambda.WithTracing(tp), kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")),
		kafkalambda.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if _, err := h.Invoke(context.Background(), orders(t, "", `{"id":2}`)); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	procs := spansNamed(spans, "process t")
	dlq := spansNamed(spans, "send dlq")
	if len(procs) != 2 || len(dlq) != 1 {
		t.Fatalf("%d process spans, %d dead-letter sends; want 2, 1", len(procs), len(dlq))
	}
	bad := procs[0]
	if bad.Status.Code != codes.Error || bad.Status.Description != string(kafkalambda.ClassRecord) {
		t.Errorf("failed record's status %+v, want an error of class record", bad.Status)
	}
	for key, want := range map[string]string{"error.type": "record", "kafkalambda.failure.action": "dead-lettered",
		"kafkalambda.failure.stage": string(kafkalambda.StageValue)} {
		if v, _ := attr(bad, key); v != want {
			t.Errorf("failed record's %s = %q, want %q", key, v, want)
		}
	}
	if procs[1].Status.Code == codes.Error {
		t.Error("the good record's span has an error status")
	}
	if dlq[0].Parent.SpanID() != bad.SpanContext.SpanID() {
		t.Error("the dead-letter write is not the child of its record's span")
	}
	m := p.Messages("dlq")
	if len(m) != 1 {
		t.Fatalf("%d dead letters", len(m))
	}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), headers(m[0].Headers)))
	if sc.SpanID() != dlq[0].SpanContext.SpanID() {
		t.Error("the dead letter does not carry its send span's context")
	}
	// The failure's log line names the span it is about.
	var line map[string]any
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "record failed") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line["trace_id"] != bad.SpanContext.TraceID().String() || line["span_id"] != bad.SpanContext.SpanID().String() ||
		line["offset"] != float64(10) || line["topic"] != "t" {
		t.Errorf("failure line %v: want the record's trace and span ids and coordinates", line)
	}
}

func TestTracingInvocationParent(t *testing.T) {
	const root, parent = "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
	tests := []struct {
		name   string
		header string
		parent bool // the X-Ray context is the parent, else a link
	}{
		{"sampled", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", true},
		{"unsampled", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp, exp := newTracing(t)
			h := memHandler(t, kafkalambdatest.NewMemProducer(), kafkalambda.WithTracing(tp))
			// The key aws-lambda-go puts the Lambda-Runtime-Trace-Id under.
			ctx := context.WithValue(context.Background(), "x-amzn-trace-id", tc.header)
			if _, err := h.Invoke(ctx, orders(t, `{"id":1}`)); err != nil {
				t.Fatal(err)
			}
			inv := spansNamed(exp.GetSpans(), "kafkalambda invoke")[0]
			gotParent := inv.Parent.TraceID().String() == root && inv.Parent.SpanID().String() == parent
			gotLink := len(inv.Links) == 1 && inv.Links[0].SpanContext.TraceID().String() == root
			if gotParent != tc.parent || gotLink == tc.parent {
				t.Errorf("parent %v links %v; want the X-Ray context as the parent: %v", inv.Parent, inv.Links, tc.parent)
			}
		})
	}
	t.Run("env", func(t *testing.T) {
		t.Setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
		tp, exp := newTracing(t)
		h := memHandler(t, kafkalambdatest.NewMemProducer(), kafkalambda.WithTracing(tp))
		if _, err := h.Invoke(context.Background(), orders(t, `{"id":1}`)); err != nil {
			t.Fatal(err)
		}
		if inv := spansNamed(exp.GetSpans(), "kafkalambda invoke")[0]; inv.Parent.TraceID().String() != root {
			t.Errorf("parent %v, want the X-Ray root from _X_AMZN_TRACE_ID", inv.Parent)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		tp, exp := newTracing(t)
		h := memHandler(t, kafkalambdatest.NewMemProducer(), kafkalambda.WithTracing(tp))
		ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-zz;Parent=53995c3f42cd8ad8;Sampled=1")
		if _, err := h.Invoke(ctx, orders(t, `{"id":1}`)); err != nil {
			t.Fatal(err)
		}
		if inv := spansNamed(exp.GetSpans(), "kafkalambda invoke")[0]; inv.Parent.IsValid() || len(inv.Links) != 0 {
			t.Errorf("a malformed header gave parent %v links %v", inv.Parent, inv.Links)
		}
	})
}

func TestTracingFailedInvocation(t *testing.T) {
	t.Parallel()
	tp, exp := newTracing(t)
	h := memHandler(t, kafkalambdatest.NewMemProducer(), kafkalambda.WithTracing(tp))
	_, err := h.Invoke(context.Background(), orders(t, `{"id":-1}`))
	if !errors.Is(err, kafkalambda.ErrBatchFailed) {
		t.Fatalf("err %v", err)
	}
	spans := exp.GetSpans()
	inv := spansNamed(spans, "kafkalambda invoke")[0]
	pr := spansNamed(spans, "process t")[0]
	for _, s := range []tracetest.SpanStub{inv, pr} {
		if s.Status.Code != codes.Error || s.Status.Description != "environment" {
			t.Errorf("%s: status %+v, want an environment error", s.Name, s.Status)
		}
	}
	if v, _ := attr(pr, "kafkalambda.failure.action"); v != "batch failed" {
		t.Errorf("action %q", v)
	}
	// An event that cannot be parsed still ends its span, failed.
	if _, err := h.Invoke(context.Background(), []byte("{")); err == nil {
		t.Fatal("a malformed event succeeded")
	}
	if n := len(spansNamed(exp.GetSpans(), "kafkalambda invoke")); n != 2 {
		t.Errorf("%d invocation spans, want 2", n)
	}
}

func TestTracingOptionsRejectNil(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]kafkalambda.Option{
		"tracing":    kafkalambda.WithTracing(nil),
		"propagator": kafkalambda.WithPropagator(nil),
		"metrics":    kafkalambda.WithMetrics(nil),
	} {
		_, err := kafkalambda.NewHandler(serde.String(), serde.String(),
			func(context.Context, *kafkalambda.Record[string, string]) error { return nil }, o)
		if !errors.Is(err, kafkalambda.ErrInvalidOption) {
			t.Errorf("%s(nil): %v, want ErrInvalidOption", name, err)
		}
	}
}

// A batching span processor holds spans until its timeout; Lambda may
// freeze the function as soon as it answers, so Invoke flushes first.
func TestTracingFlushesBeforeAnswering(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := memHandler(t, kafkalambdatest.NewMemProducer(), kafkalambda.WithTracing(tp))
	if _, err := h.Invoke(context.Background(), orders(t, `{"id":1}`)); err != nil {
		t.Fatal(err)
	}
	if n := len(spansNamed(exp.GetSpans(), "kafkalambda invoke")); n != 1 {
		t.Fatalf("%d invocation spans exported when Invoke returned, want 1", n)
	}
}

// A record whose producer did not sample its trace gets no span of its
// own, but its trace still goes on into the output's headers, unsampled.
func TestTracingUnsampledParentStartsNoSpan(t *testing.T) {
	t.Parallel()
	tp, exp := newTracing(t)
	const upstream = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00" // flags 00: not sampled
	p := kafkalambdatest.NewMemProducer()
	out := kafkalambda.NewOutput("settled", serde.String(), serde.String())
	var seen []trace.SpanContext
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			seen = append(seen, trace.SpanContextFromContext(ctx))
			return out.Send(ctx, r.Key, r.Value)
		}, kafkalambda.WithProducer(p), kafkalambda.WithTracing(tp))
	if err != nil {
		t.Fatal(err)
	}
	r := rec(1, "k", "v")
	r.Headers = []kafkalambda.Header{{Key: "traceparent", Value: []byte(upstream)}}
	if _, err := h.Invoke(context.Background(), event(t, map[string][]kafkalambda.RawRecord{"orders-0": {r}})); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if n := len(spansNamed(spans, "process orders")) + len(spansNamed(spans, "send settled")); n != 0 {
		t.Errorf("%d process or send spans under an unsampled producer", n)
	}
	if len(seen) != 1 || seen[0].TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("Process's ctx carries %v, want the producer's trace", seen)
	}
	m := p.Messages("settled")
	if got := headers(m[0].Headers).Get("traceparent"); got != upstream {
		t.Errorf("output traceparent %q, want the producer's %q", got, upstream)
	}
}

// With a sampler that samples no invocation, records without a producer's
// context cost no span either.
func TestTracingUnsampledInvocation(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	p := kafkalambdatest.NewMemProducer()
	h := memHandler(t, p, kafkalambda.WithTracing(tp))
	if _, err := h.Invoke(context.Background(), orders(t, `{"id":1}`, `{"id":2}`)); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported", n)
	}
	for _, m := range p.Messages("out") {
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), headers(m.Headers)))
		if !sc.IsValid() || sc.IsSampled() {
			t.Errorf("output carries %v: want the invocation's trace, unsampled", sc)
		}
	}
}
