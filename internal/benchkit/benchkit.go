// Package benchkit is the module's benchmark harness: it compares
// implementations measured in the same run, as BENCHMARKS.md reports them.
// It is for this module's benchmarks only.
package benchkit

import "testing"

// Timings compares implementations in one benchmark run: Run runs each as
// a sub-benchmark and records its ns/op, and Ratio adds a last
// sub-benchmark that reports their ratios as metrics, e.g.
//
//	t := benchkit.Timings{}
//	t.Run(b, "impl=ours", func(b *testing.B) { for b.Loop() { ... } })
//	t.Run(b, "impl=before", func(b *testing.B) { for b.Loop() { ... } })
//	t.Ratio(b, "ratio", benchkit.Ratio{Num: "impl=before", Den: "impl=ours", Unit: "speedup"})
//
// Each implementation runs on its own, not interleaved with the others, so
// that the garbage one makes is not collected while another is timed; the
// output stays benchstat-friendly.
type Timings map[string]float64

// Ratio names a metric Unit reported as the ns/op of sub-benchmark Num
// divided by that of Den.
type Ratio struct{ Num, Den, Unit string }

// Run runs fn as sub-benchmark name of b and records its ns/op.
func (t Timings) Run(b *testing.B, name string, fn func(b *testing.B)) {
	b.Helper()
	b.Run(name, func(b *testing.B) {
		fn(b)
		if b.N > 0 {
			t[name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		}
	})
}

// Ratio reports the ratios as sub-benchmark name. A ratio whose two
// sub-benchmarks did not both run (a -bench filter) is left out.
func (t Timings) Ratio(b *testing.B, name string, ratios ...Ratio) {
	b.Helper()
	b.Run(name, func(b *testing.B) {
		for b.Loop() {
		}
		for _, r := range ratios {
			if num, den := t[r.Num], t[r.Den]; num > 0 && den > 0 {
				b.ReportMetric(num/den, r.Unit)
			}
		}
	})
}

// Trade is the value the invocation benchmarks decode: a user trade as
// ksqlDB's datagen writes it, about 200 bytes as JSON. It carries both its
// JSON and its Avro field names, so one type serves every format.
type Trade struct {
	UserID   string `json:"userid" avro:"userid"`
	RegionID string `json:"regionid" avro:"regionid"`
	Quantity int32  `json:"quantity" avro:"quantity"`
	Symbol   string `json:"symbol" avro:"symbol"`
	Price    int32  `json:"price" avro:"price"`
	Account  string `json:"account" avro:"account"`
	Side     string `json:"side" avro:"side"`
}
