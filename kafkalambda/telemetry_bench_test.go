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

	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
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
//     1,000 recorded process spans per invocation.
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
	}{
		{"off", nil},
		{"metrics", []kafkalambda.Option{metrics()}},
		{"noop-tracer+metrics", []kafkalambda.Option{kafkalambda.WithTracing(noop.NewTracerProvider()), metrics()}},
		{"sdk-1%+metrics", []kafkalambda.Option{kafkalambda.WithTracing(ratio), metrics()}},
		{"sdk-sampled+metrics", []kafkalambda.Option{kafkalambda.WithTracing(sampled), metrics()}},
	}
	handlers := make([]*kafkalambda.Handler[string, benchkit.Trade], len(cases))
	for i, c := range cases {
		h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[benchkit.Trade](),
			func(ctx context.Context, r *kafkalambda.Record[string, benchkit.Trade]) error { return nil }, c.opts...)
		if err != nil {
			b.Fatal(err)
		}
		handlers[i] = h
	}
	wall := make([][]float64, len(cases)) // per case, per round: ns/op
	cpu := make([][]float64, len(cases))
	for range telemetryRounds {
		for i, c := range cases {
			h := handlers[i]
			b.Run("records=1000/telemetry="+c.name, func(b *testing.B) {
				per := loopCPU(b, func() error {
					_, err := h.Invoke(context.Background(), payload)
					return err
				})
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
