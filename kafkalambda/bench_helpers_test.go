package kafkalambda_test

import (
	"testing"
)

// timings records the ns/op of the sub-benchmarks of one comparison, so
// that a last "ratio" sub-benchmark can report their ratios, measured in
// the same run. Each implementation runs on its own (not interleaved), so
// the garbage one makes does not slow the other down.
type timings map[string]float64

// run runs fn as sub-benchmark name of b and records its ns/op.
func (t timings) run(b *testing.B, name string, fn func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		fn(b)
		if b.N > 0 {
			t[name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		}
	})
}

// ratio reports, as sub-benchmark name, the metric unit = num/den of the
// recorded timings (left out when either did not run, e.g. under a -bench
// filter).
func (t timings) ratio(b *testing.B, name string, ratios ...[3]string) {
	b.Run(name, func(b *testing.B) {
		for b.Loop() {
		}
		for _, r := range ratios {
			num, den := t[r[0]], t[r[1]]
			if num > 0 && den > 0 {
				b.ReportMetric(num/den, r[2])
			}
		}
	})
}
