//go:build unix

package kafkalambda_test

// What tracing and metrics cost an invocation of 1,000 JSON records with a
// no-op Process, against the same handler without them, in the same run.
// Run:
//
//	go test -run '^$' -bench 'Telemetry' -benchmem ./kafkalambda/

import (
	"context"
	"io"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kafkalambda/kafka-lambda-go/internal/benchkit"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// telemetryRounds is how often BenchmarkTelemetry runs every case, in
// turn: each round's ratios compare runs made next to each other.
const telemetryRounds = 5

// BenchmarkTelemetry compares, for 1,000 JSON records:
//
//   - telemetry=off: no WithTracing, no WithMetrics (the baseline);
//   - telemetry=metrics: WithMetrics(&EMF{}) writing to io.Discard;
//   - telemetry=noop-tracer+metrics: WithTracing with the API's no-op
//     TracerProvider (what tracing costs when the SDK is not set up);
//   - telemetry=sdk-1%+metrics: the OpenTelemetry SDK sampling 1 % of
//     traces (ParentBased(TraceIDRatioBased(0.01))), as a busy function
//     would, exporting synchronously to a no-op exporter;
//   - telemetry=sdk-sampled+metrics: the same SDK sampling every trace:
//     1,000 recorded process spans per invocation;
//   - telemetry=sdk-alone: not an invocation, but what the SDK alone costs
//     for those 1,000 spans (Start, the same seven attributes, End, with the
//     same provider): the floor that no instrumentation recording a span
//     per record can go under. Its ratio against the baseline, beside the
//     sdk-sampled one, shows how much of that case is the SDK's.
//
// The cases run in turn, telemetryRounds times; the last row reports, per
// case, the median over the rounds of its time divided by the baseline's
// of the same round, for wall time (X/off) and CPU time (X/off-cpu). On a
// shared machine the CPU ratio is the steadier one.
func BenchmarkTelemetry(b *testing.B) {
	payload := jsonEvent(1000)
	sampled := trace.NewTracerProvider(trace.WithSyncer(tracetest.NewNoopExporter()))
	ratio := trace.NewTracerProvider(trace.WithSyncer(tracetest.NewNoopExporter()),
		trace.WithSampler(trace.ParentBased(trace.TraceIDRatioBased(0.01))))
	b.Cleanup(func() {
		_ = sampled.Shutdown(context.Background())
		_ = ratio.Shutdown(context.Background())
	})
	metrics := func() kafkalambda.Option { return kafkalambda.WithMetrics(&kafkalambda.EMF{Writer: io.Discard}) }
	cases := []struct {
		name string
		opts []kafkalambda.Option
		run  func() error // instead of an invocation
	}{
		{name: "off"},
		{name: "metrics", opts: []kafkalambda.Option{metrics()}},
		{name: "noop-tracer+metrics", opts: []kafkalambda.Option{kafkalambda.WithTracing(noop.NewTracerProvider()), metrics()}},
		{name: "sdk-1%+metrics", opts: []kafkalambda.Option{kafkalambda.WithTracing(ratio), metrics()}},
		{name: "sdk-sampled+metrics", opts: []kafkalambda.Option{kafkalambda.WithTracing(sampled), metrics()}},
		{name: "sdk-alone", run: sdkSpans(sampled, 1000)},
	}
	runs := make([]func() error, len(cases))
	for i, c := range cases {
		if c.run != nil {
			runs[i] = c.run
			continue
		}
		h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[benchkit.Trade](),
			func(ctx context.Context, r *kafkalambda.Record[string, benchkit.Trade]) error { return nil }, c.opts...)
		if err != nil {
			b.Fatal(err)
		}
		runs[i] = func() error {
			_, err := h.Invoke(context.Background(), payload)
			return err
		}
	}
	wall := make([][]float64, len(cases)) // per case, per round: ns/op
	cpu := make([][]float64, len(cases))
	for range telemetryRounds {
		for i, c := range cases {
			b.Run("records=1000/telemetry="+c.name, func(b *testing.B) {
				per := loopCPU(b, runs[i])
				if b.N > 1 {
					wall[i] = append(wall[i], float64(b.Elapsed().Nanoseconds())/float64(b.N))
					cpu[i] = append(cpu[i], float64(per.Nanoseconds()))
				}
			})
		}
	}
	b.Run("records=1000/ratio", func(b *testing.B) {
		for b.Loop() {
		}
		for i, c := range cases[1:] {
			if r, ok := medianRatio(wall[i+1], wall[0]); ok {
				b.ReportMetric(r, c.name+"/off")
			}
			if r, ok := medianRatio(cpu[i+1], cpu[0]); ok {
				b.ReportMetric(r, c.name+"/off-cpu")
			}
		}
	})
}

// medianRatio is the median of num[i]/den[i] over the rounds both have.
func medianRatio(num, den []float64) (float64, bool) {
	n := min(len(num), len(den))
	if n == 0 {
		return 0, false
	}
	r := make([]float64, n)
	for i := range n {
		r[i] = num[i] / den[i]
	}
	slices.Sort(r)
	if n%2 == 1 {
		return r[n/2], true
	}
	return (r[n/2-1] + r[n/2]) / 2, true
}

// sdkSpans returns what the SDK of tp alone does for n records' process
// spans: start each as a child of one parent, give it the seven
// attributes the handler gives a record's span, and end it.
func sdkSpans(tp oteltrace.TracerProvider, n int) func() error {
	tr := tp.Tracer("sdk-alone")
	shared := []attribute.KeyValue{
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.operation.name", "process"),
		attribute.String("messaging.destination.name", "trades"),
		attribute.String("messaging.destination.partition.id", "0"),
	}
	return func() error {
		ctx, parent := tr.Start(context.Background(), "invoke")
		for i := range n {
			attrs := make([]attribute.KeyValue, len(shared), len(shared)+2)
			copy(attrs, shared)
			attrs = append(attrs, attribute.Int64("messaging.kafka.offset", int64(i)),
				attribute.String("messaging.kafka.message.key", "user_1"))
			_, span := tr.Start(ctx, "process trades", oteltrace.WithSpanKind(oteltrace.SpanKindConsumer))
			span.SetAttributes(attrs...)
			span.End()
		}
		parent.End()
		return nil
	}
}
