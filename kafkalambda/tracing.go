package kafkalambda

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts the invocation's span (WithTracing) and returns the ctx
// that carries it.
func (it *invTel) startSpan(ctx context.Context) context.Context {
	name := spanInvoke
	if lambdacontext.FunctionName != "" {
		name = lambdacontext.FunctionName
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, kvSystemKafka, kvTriggerPubSub, attrFaaSColdStart.Bool(it.cold))
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		attrs = append(attrs, attrFaaSInvocationID.String(lc.AwsRequestID))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...)}
	parent := ctx
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if xr, ok := xrayParent(ctx); ok {
			if xr.IsSampled() {
				parent = trace.ContextWithRemoteSpanContext(ctx, xr)
			} else {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: xr,
					Attributes: []attribute.KeyValue{attrXRayTraceID.String(xr.TraceID().String())}}))
			}
		}
	}
	ctx, it.span = it.tel.tracer.Start(parent, name, opts...)
	it.sampled = it.span.SpanContext().IsSampled()
	return ctx
}

// eventAttrs sets the attributes the parsed event gives the invocation's
// span.
func (it *invTel) eventAttrs(ev *Event) {
	attrs := []attribute.KeyValue{attrBatchMessageCount.Int(ev.Len())}
	if ev.SourceARN != "" {
		attrs = append(attrs, attrCloudResourceID.String(ev.SourceARN))
	}
	if topic, one := singleTopic(ev); one {
		attrs = append(attrs, attrDestinationName.String(topic))
	}
	it.span.SetAttributes(attrs...)
}

func singleTopic(ev *Event) (string, bool) {
	if len(ev.Partitions) == 0 {
		return "", false
	}
	t := ev.Partitions[0].Topic
	for i := range ev.Partitions {
		if ev.Partitions[i].Topic != t {
			return "", false
		}
	}
	return t, true
}

// prepareTrace computes what every process span of the partition shares.
func (p *partTel) prepareTrace() {
	p.name = spanProcess + " " + p.pt.Topic
	p.startOpts = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
	p.attrs = []attribute.KeyValue{
		kvSystemKafka,
		attrMessagingOperationType.String(opProcess),
		attrMessagingOperationName.String(opProcess),
		attrDestinationName.String(p.pt.Topic),
		attrDestinationPartition.String(strconv.Itoa(int(p.pt.Partition))),
	}
}

// startProcess starts a record's process span; nil when its parent — the
// producer's context, else the invocation's span — is not sampled: then
// the record is processed with the parent's context, which still carries
// the trace onward, and no span is started, since a span whose parent is
// not sampled is not sampled either (with the SDK's parent-based
// samplers, its default). A span's attributes and links are set only when
// it records.
func (p *partTel) startProcess(ctx context.Context, raw *RawRecord) (context.Context, trace.Span) {
	parent, sampled := ctx, p.inv.sampled
	var producer trace.SpanContext
	if len(raw.Headers) > 0 {
		producer = trace.SpanContextFromContext(p.inv.tel.prop.Extract(context.Background(), headerCarrier{h: &raw.Headers}))
		if producer.IsValid() {
			parent, sampled = trace.ContextWithRemoteSpanContext(ctx, producer), producer.IsSampled()
		}
	}
	if !sampled {
		return parent, nil
	}
	ctx, span := p.inv.tel.tracer.Start(parent, p.name, p.startOpts...)
	if !span.IsRecording() {
		return ctx, span
	}
	attrs := make([]attribute.KeyValue, len(p.attrs), len(p.attrs)+3)
	copy(attrs, p.attrs)
	attrs = append(attrs, attrKafkaOffset.Int64(raw.Offset))
	if raw.Key != nil && utf8.Valid(raw.Key) {
		attrs = append(attrs, attrKafkaMessageKey.String(string(raw.Key)))
	}
	if raw.Value == nil {
		attrs = append(attrs, attrKafkaTombstone.Bool(true))
	}
	span.SetAttributes(attrs...)
	if producer.IsValid() {
		// The producer is the parent; the invocation, whose trace is the
		// function's, is linked.
		span.AddLink(trace.Link{SpanContext: producer})
		span.AddLink(trace.Link{SpanContext: p.inv.span.SpanContext()})
	}
	return ctx, span
}

// endProcess ends a record's process span with its outcome.
func endProcess(span trace.Span, err error, class FailureClass, act action) {
	if err != nil {
		attrs := []attribute.KeyValue{attrErrorType.String(string(class)), attrFailureAction.String(string(act))}
		if re, ok := errors.AsType[*RecordError](err); ok {
			attrs = append(attrs, attrFailureStage.String(string(re.Stage)))
		}
		span.SetAttributes(attrs...)
		span.SetStatus(codes.Error, string(class))
	}
	span.End()
}

// startSend starts an output record's send span and writes its context
// into the record's headers, unless they carry it already. The caller's
// headers slice is never written to. When the context of ctx is not
// sampled, no span is started (see startProcess) and that context is what
// the headers carry.
func (p *partTel) startSend(ctx context.Context, topic string, value []byte, headers []Header) (context.Context, []Header, trace.Span) {
	ctx, span := p.sendSpan(ctx, topic, value)
	prop := p.inv.tel.prop
	for _, f := range prop.Fields() {
		if hasHeader(headers, f) {
			return ctx, headers, span
		}
	}
	headers = headers[:len(headers):len(headers)] // append copies
	prop.Inject(ctx, headerCarrier{h: &headers})
	return ctx, headers, span
}

// sendSpan starts a send span when the context of ctx is sampled.
func (p *partTel) sendSpan(ctx context.Context, topic string, value []byte) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ctx, nil
	}
	attrs := []attribute.KeyValue{
		kvSystemKafka,
		attrMessagingOperationType.String(opSend),
		attrMessagingOperationName.String(opSend),
		attrDestinationName.String(topic),
	}
	if value == nil {
		attrs = append(attrs, attrKafkaTombstone.Bool(true))
	}
	return p.inv.tel.tracer.Start(ctx, spanSend+" "+topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attrs...))
}

// endSend ends an output record's send span: err is why it was not queued.
func endSend(span trace.Span, err error) {
	if err != nil {
		span.SetAttributes(attrErrorType.String(string(Classify(err))))
		span.SetStatus(codes.Error, string(Classify(err)))
	}
	span.End()
}

// endSpans ends the flush and invocation spans with the invocation's
// answer.
func (it *invTel) endSpans(failures []sendFailure, sent int, out outcome) {
	if it.flush != nil {
		it.flush.SetAttributes(attrSent.Int(sent), attrUndelivered.Int(len(failures)))
		if len(failures) > 0 {
			c := Classify(failures[0].err)
			it.flush.SetAttributes(attrErrorType.String(string(c)))
			it.flush.SetStatus(codes.Error, string(c))
		}
		it.flush.End()
	}
	if out.err != nil {
		c := Classify(out.err)
		it.span.SetAttributes(attrErrorType.String(string(c)))
		it.span.SetStatus(codes.Error, string(c))
	}
	it.span.End()
}

// headerCarrier is a propagation.TextMapCarrier over a record's headers.
// Get returns the last header of a key, as Kafka clients read it.
type headerCarrier struct{ h *[]Header }

func (c headerCarrier) Get(key string) string {
	h := *c.h
	for i := len(h) - 1; i >= 0; i-- {
		if strings.EqualFold(h[i].Key, key) {
			return string(h[i].Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	*c.h = append(*c.h, Header{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.h))
	for i, h := range *c.h {
		keys[i] = h.Key
	}
	return keys
}

func hasHeader(h []Header, key string) bool {
	for i := range h {
		if strings.EqualFold(h[i].Key, key) {
			return true
		}
	}
	return false
}

// xrayHeaderKey is where aws-lambda-go puts the invocation's X-Ray trace
// header (Lambda-Runtime-Trace-Id) in the ctx it passes to the handler.
const xrayHeaderKey = "x-amzn-trace-id"

// xrayParent returns the span context of the Lambda invocation's X-Ray
// trace header: from ctx, else from _X_AMZN_TRACE_ID.
func xrayParent(ctx context.Context) (trace.SpanContext, bool) {
	h, _ := ctx.Value(xrayHeaderKey).(string)
	if h == "" {
		h = os.Getenv("_X_AMZN_TRACE_ID")
	}
	if h == "" {
		return trace.SpanContext{}, false
	}
	return parseXRay(h)
}

// parseXRay reads an X-Ray trace header,
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1":
// the root's time and random parts make the trace id, Parent the span id.
// A header without a valid root and parent gives nothing.
func parseXRay(h string) (trace.SpanContext, bool) {
	var cfg trace.SpanContextConfig
	var root, parent bool
	for part := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			// 1-{8 hex digits}-{24 hex digits}
			if len(v) != 35 || v[0] != '1' || v[1] != '-' || v[10] != '-' {
				return trace.SpanContext{}, false
			}
			if _, err := hex.Decode(cfg.TraceID[:4], []byte(v[2:10])); err != nil {
				return trace.SpanContext{}, false
			}
			if _, err := hex.Decode(cfg.TraceID[4:], []byte(v[11:])); err != nil {
				return trace.SpanContext{}, false
			}
			root = true
		case "Parent":
			if len(v) != 16 {
				return trace.SpanContext{}, false
			}
			if _, err := hex.Decode(cfg.SpanID[:], []byte(v)); err != nil {
				return trace.SpanContext{}, false
			}
			parent = true
		case "Sampled":
			if v == "1" {
				cfg.TraceFlags = trace.FlagsSampled
			}
		}
	}
	if !root || !parent {
		return trace.SpanContext{}, false
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}

// traceAttrs returns the trace and span ids of the span in ctx as log
// attributes, or none.
func traceAttrs(ctx context.Context, attrs []any) []any {
	if ctx == nil {
		return attrs
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return attrs
	}
	return append(attrs, "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
}
