package kafkalambda_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// sums returns the int64 sums collected by r, by metric name and the
// value of attribute key ("" without it).
func sums(t *testing.T, r *sdkmetric.ManualReader, key attribute.Key) map[string]map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					v, _ := dp.Attributes.Value(key)
					if out[m.Name] == nil {
						out[m.Name] = map[string]int64{}
					}
					out[m.Name][v.Emit()] += dp.Value
				}
			case metricdata.Histogram[int64]:
				out[m.Name] = map[string]int64{"count": int64(len(d.DataPoints))}
				for _, dp := range d.DataPoints {
					out[m.Name]["sum"] += dp.Sum
				}
			case metricdata.Histogram[float64]:
				out[m.Name] = map[string]int64{"count": int64(len(d.DataPoints))}
			}
		}
	}
	return out
}

func TestOTelMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := kafkalambda.OTelMetrics(mp)
	if err != nil {
		t.Fatal(err)
	}
	p := kafkalambdatest.NewMemProducer()
	h := memHandler(t, p, kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")), kafkalambda.WithMetrics(m))
	payload := event(t, map[string][]kafkalambda.RawRecord{
		"t-0": {rec(1, "a", `{"id":1}`), rec(2, "b", "{poison"), rec(3, "c", `{"id":3}`)},
		"t-1": {rec(7, "d", `{"id":4}`)},
	})
	if _, err := h.Invoke(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	byPartition := sums(t, reader, "messaging.destination.partition.id")
	want := map[string]map[string]int64{
		"kafkalambda.records.in":            {"0": 3, "1": 1},
		"kafkalambda.records.processed":     {"0": 2, "1": 1},
		"kafkalambda.records.failed":        {"0": 1},
		"kafkalambda.records.dead_lettered": {"0": 1, "1": 0},
		"kafkalambda.outputs.sent":          {"0": 3, "1": 1},
		"kafkalambda.outputs.acknowledged":  {"0": 3, "1": 1},
	}
	for name, parts := range want {
		for part, n := range parts {
			if got := byPartition[name][part]; got != n {
				t.Errorf("%s partition %s = %d, want %d", name, part, got, n)
			}
		}
	}
	// Cumulative: a second collection without an invocation says the same;
	// the failure's class is an attribute; the invocation's figures are
	// histograms.
	byClass := sums(t, reader, "error.type")
	if got := byClass["kafkalambda.records.failed"]["record"]; got != 1 {
		t.Errorf("failed records of class record: %d", got)
	}
	if b := byClass["kafkalambda.invocation.batch_size"]; b["count"] != 1 || b["sum"] != 4 {
		t.Errorf("batch size histogram %v, want one invocation of 4", b)
	}
	if byClass["kafkalambda.invocation.cold_starts"][""] != 1 {
		t.Errorf("cold starts %v", byClass["kafkalambda.invocation.cold_starts"])
	}
	for name, points := range map[string]int64{"kafkalambda.invocation.flush_wait": 1, "kafkalambda.invocation.duration": 1,
		"kafkalambda.record.age": 2} { // one per partition
		if byClass[name]["count"] != points {
			t.Errorf("%s: %v, want %d data points", name, byClass[name], points)
		}
	}
	if _, err := kafkalambda.OTelMetrics(nil); !errors.Is(err, kafkalambda.ErrInvalidOption) {
		t.Errorf("OTelMetrics(nil): %v", err)
	}
}
