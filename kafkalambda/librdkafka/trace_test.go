package librdkafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// TestOneTraceFromProducerToDownstreamConsumer is the check of tracing: a
// record produced by a franz-go client instrumented with kotel, consumed
// by the handler, whose Process sends an output through librdkafka, read
// by a downstream franz-go consumer that continues from the output's
// headers — one trace, every span the child of the one before.
func TestOneTraceFromProducerToDownstreamConsumer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newCluster(t)
	for _, topic := range []string{"orders", "settled"} {
		if err := c.CreateTopic(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	newKotel := func() *kotel.Tracer {
		return kotel.NewTracer(kotel.TracerProvider(tp), kotel.TracerPropagator(propagation.TraceContext{}))
	}

	// Upstream: a service produces an order inside its own span.
	upTracer := newKotel()
	up, err := kgo.NewClient(append(c.ClientOptions(), kgo.WithHooks(kotel.NewKotel(kotel.WithTracer(upTracer)).Hooks()...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	rootCtx, root := tp.Tracer("upstream").Start(ctx, "place order")
	if err := up.ProduceSync(rootCtx, &kgo.Record{Topic: "orders", Key: []byte("user-1"), Value: []byte("buy")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	root.End()

	// The event source mapping's view of it: the record as it is in the
	// log, headers included.
	ev := &kafkalambda.Event{Source: kafkalambda.SourceSelfManaged, BootstrapServers: c.Brokers(),
		Partitions: []kafkalambda.Partition{{Key: "orders-0", Topic: "orders"}}}
	for _, r := range readTopic(t, c, "orders") {
		raw := kafkalambda.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
			TimestampType: kafkalambda.TimestampCreateTime, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			raw.Headers = append(raw.Headers, kafkalambda.Header{Key: h.Key, Value: h.Value})
		}
		ev.Partitions[0].Records = append(ev.Partitions[0].Records, raw)
	}
	if len(ev.Partitions[0].Records) != 1 {
		t.Fatalf("%d records in orders", len(ev.Partitions[0].Records))
	}

	// The function: settles the order, through librdkafka.
	out := kafkalambda.NewOutput("settled", serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			return out.Send(ctx, r.Key, strings.ToUpper(r.Value))
		}, kafkalambda.WithProducer(newProducer(t, c, nil)), kafkalambda.WithTracing(tp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(ctx, ev.AppendJSON(nil)); err != nil {
		t.Fatal(err)
	}

	// Downstream: a consumer group member reads the settlement and
	// processes it in its own span.
	downTracer := newKotel()
	down, err := kgo.NewClient(append(c.ClientOptions(), kgo.ConsumeTopics("settled"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.WithHooks(kotel.NewKotel(kotel.WithTracer(downTracer)).Hooks()...))...)
	if err != nil {
		t.Fatal(err)
	}
	var got *kgo.Record
	for got == nil {
		fs := down.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no settlement downstream: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = r })
	}
	_, span := downTracer.WithProcessSpan(got)
	span.End()
	down.Close() // ends the receive span

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	chain := []string{"place order", "orders publish", "process orders", "send settled", "settled receive", "settled process"}
	for i, name := range chain {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("no %q span among %v", name, names(spans))
		}
		if s.SpanContext.TraceID() != root.SpanContext().TraceID() {
			t.Errorf("%q is in trace %s, want the producer's %s", name, s.SpanContext.TraceID(), root.SpanContext().TraceID())
		}
		if i > 0 && s.Parent.SpanID() != byName[chain[i-1]].SpanContext.SpanID() {
			t.Errorf("%q's parent is %s, want %q", name, s.Parent.SpanID(), chain[i-1])
		}
	}
	// The record's span also links to the producer's span and to the
	// invocation's, whose own trace is the function's.
	proc, inv := byName["process orders"], byName["kafkalambda invoke"]
	var linksProducer, linksInvocation bool
	for _, l := range proc.Links {
		linksProducer = linksProducer || l.SpanContext.SpanID() == byName["orders publish"].SpanContext.SpanID()
		linksInvocation = linksInvocation || l.SpanContext.SpanID() == inv.SpanContext.SpanID()
	}
	if !linksProducer || !linksInvocation {
		t.Errorf("process span links %v: want the producer's and the invocation's spans", proc.Links)
	}
	if inv.SpanContext.TraceID() == root.SpanContext().TraceID() || inv.SpanKind != trace.SpanKindServer {
		t.Errorf("invocation span %+v: want a server span of the function's own trace", inv.SpanContext)
	}
}

func names(spans tracetest.SpanStubs) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name)
	}
	return n
}
