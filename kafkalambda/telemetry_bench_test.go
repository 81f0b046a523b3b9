package kafkalambda_test

// What tracing and metrics cost an invocation of 1,000 JSON records with a
// no-op Process, against the same handler without them, in the same run.
// Run:
//
//	go test -run '^$' -bench 'Telemetry' -benchmem ./kafkalambda/

import (
	"context"
	"io"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kafkalambda/kafka-lambda-go/internal/benchkit"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// BenchmarkTelemetry compares, for 1,000 JSON records:
//
//   - telemetry=off: no WithTracing, no WithMetrics (the baseline);
//   - telemetry=metrics: WithMetrics(&EMF{}) writing to io.Discard;
//   - telemetry=noop-tracer+metrics: WithTracing with the API's no-op
//     TracerProvider (what tracing costs when the SDK is not set up);
//   - telemetry=sdk-sampled+metrics: the OpenTelemetry SDK, every span
//     sampled and exported synchronously to a no-op exporter: 1,000
//     process spans per invocation;
//   - telemetry=sdk-1%+metrics: the SDK sampling 1 % of traces
//     (ParentBased(TraceIDRatioBased(0.01))), as a busy function would.
//
// Each ends with ratio rows (with / without).
func BenchmarkTelemetry(b *testing.B) {
	const n = 1000
	payload := jsonEvent(n)
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
	}{
		{"off", nil},
		{"metrics", []kafkalambda.Option{metrics()}},
		{"noop-tracer+metrics", []kafkalambda.Option{kafkalambda.WithTracing(noop.NewTracerProvider()), metrics()}},
		{"sdk-sampled+metrics", []kafkalambda.Option{kafkalambda.WithTracing(sampled), metrics()}},
		{"sdk-1%+metrics", []kafkalambda.Option{kafkalambda.WithTracing(ratio), metrics()}},
	}
	t := benchkit.Timings{}
	var ratios []benchkit.Ratio
	for _, c := range cases {
		h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[benchkit.Trade](),
			func(ctx context.Context, r *kafkalambda.Record[string, benchkit.Trade]) error { return nil }, c.opts...)
		if err != nil {
			b.Fatal(err)
		}
		name := "records=1000/telemetry=" + c.name
		t.Run(b, name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Invoke(context.Background(), payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		if c.name != "off" {
			ratios = append(ratios, benchkit.Ratio{Num: name, Den: "records=1000/telemetry=off", Unit: c.name + "/off"})
		}
	}
	t.Ratio(b, "records=1000/ratio", ratios...)
}
