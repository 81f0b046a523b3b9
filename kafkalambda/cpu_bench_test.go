//go:build unix

package kafkalambda_test

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used so far.
// On a shared machine it moves much less than wall time with the load of
// other processes: it counts the work done, not the waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs invoke b.N times and reports the CPU time per invocation
// (cpu-ns/op) beside the wall time.
func loopCPU(b *testing.B, invoke func() error) time.Duration {
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if err := invoke(); err != nil {
			b.Fatal(err)
		}
	}
	per := (cpuTime() - start) / time.Duration(max(b.N, 1))
	b.ReportMetric(float64(per.Nanoseconds()), "cpu-ns/op")
	return per
}

// BenchmarkInvocationCPU is an invocation of 1,000 JSON records with a
// no-op Process and neither tracing nor metrics, with its CPU time: the
// code path of a handler that does not configure them. It uses only API
// that predates tracing, so that the same file can be built against an
// earlier commit and the two binaries compared (BENCHMARKS.md, "Tracing
// and metrics").
func BenchmarkInvocationCPU(b *testing.B) {
	payload := jsonEvent(1000)
	h := newBenchHandler(b)
	loopCPU(b, func() error {
		_, err := h.Invoke(context.Background(), payload)
		return err
	})
}
