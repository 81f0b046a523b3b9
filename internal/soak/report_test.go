package soak

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
)

// EnvReport names a file the soak appends its figures to, one line per
// run, so that a CI script can show them (go test hides t.Logf of passing
// tests unless -v).
const EnvReport = "KAFKALAMBDA_SOAK_REPORT"

// figures are one run's numbers.
type figures struct {
	policy      string
	faults      bool
	exactlyOnce bool
	// redelivered is how many batches whose invocation had succeeded were
	// delivered again (exactly-once runs); redeliveredOK, how many of those
	// invocations succeeded.
	redelivered, redeliveredOK int
	// txnFailed is how many invocations failed in their transaction
	// (exactly-once runs); txnAway, how many of those while the brokers
	// were unreachable for the function.
	txnFailed, txnAway int
	tally              tally
	invocations        int64 // invocations of the function
	fnErrors           int64 // invocations that failed as a whole
	partial            int64 // invocations that reported item failures
	undelivered        int   // invocations that ended with sends not acknowledged
	refused            int   // of those, at their flush deadline with a refused connection behind the first
	// mostFailures is the most failed invocations of one batch that
	// starts with a good record: the retry budget that environmental
	// faults spent (with an on-failure topic a batch is given up when it
	// has failed once more than its retries: plan.retries in a faulted
	// run, 10 in a clean one; see attemptWatch).
	mostFailures int
	injected     map[string]int
	secretReads  int // GetSecretValue requests the endpoint answered
	environments int // execution environments the function ran in
	wall         time.Duration
	longest      time.Duration
	logLines     int
	errTexts     int
	leaks        int
}

// String is the run's line of figures.
func (f figures) String() string {
	mode := "clean"
	if f.faults {
		mode = "faults"
	}
	t := f.tally
	var b strings.Builder
	fmt.Fprintf(&b, "soak %-22s %-6s in=%d settled=%d dead-lettered=%d on-failure=%d (poison=%d",
		f.policy, mode, t.in, t.settled, t.deadLettered, t.onFailure, t.poison)
	if t.poison > 0 {
		fmt.Fprintf(&b, " [%s]", describe(t.poisonKinds))
	}
	fmt.Fprintf(&b, ", good given up=%d", t.collateral+t.dragged)
	if t.dragged > 0 {
		fmt.Fprintf(&b, " [behind poison %d, other %d]", t.dragged, t.collateral)
	}
	fmt.Fprintf(&b, ", good dead-lettered=%d", t.goodDeadLettered)
	if len(t.collateralWhy) > 0 {
		b.WriteString(": ")
		for i, k := range slices.Sorted(maps.Keys(t.collateralWhy)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", k, t.collateralWhy[k])
		}
	}
	fmt.Fprintf(&b, ") duplicates=%d lost=%d invocations=%d failed=%d partial=%d unacknowledged-at-end=%d (refused-at-deadline %d) most-failures-per-batch=%d environments=%d secret-reads=%d longest-invocation=%v wall=%v scanned=%d-log-lines/%d-errors leaks=%d",
		t.duplicates, len(t.lost), f.invocations, f.fnErrors, f.partial, f.undelivered, f.refused, f.mostFailures, f.environments, f.secretReads,
		f.longest.Round(time.Millisecond), f.wall.Round(100*time.Millisecond), f.logLines, f.errTexts, f.leaks)
	if f.exactlyOnce {
		fmt.Fprintf(&b, " exactly-once: duplicate-outputs=%d (given up again by the mapping %d) redelivered-after-success=%d (succeeded %d) transaction-failed=%d (unreachable %d)",
			t.outputDuplicates, t.duplicates-t.outputDuplicates, f.redelivered, f.redeliveredOK, f.txnFailed, f.txnAway)
	}
	if f.faults {
		fmt.Fprintf(&b, " injected: %s", describe(f.injected))
	}
	return b.String()
}

// report gathers the lines of a test's runs and writes them to the file
// named by EnvReport, if any, when the test ends.
type report struct {
	mu    sync.Mutex
	lines []string
}

func newReport(t *testing.T) *report {
	rep := &report{}
	path := os.Getenv(EnvReport)
	t.Cleanup(func() {
		rep.mu.Lock()
		defer rep.mu.Unlock()
		if path == "" || len(rep.lines) == 0 {
			return
		}
		slices.Sort(rep.lines)
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("%s: %v", EnvReport, err)
			return
		}
		defer f.Close()
		if _, err := fmt.Fprintln(f, strings.Join(rep.lines, "\n")); err != nil {
			t.Errorf("%s: %v", EnvReport, err)
		}
	})
	return rep
}

// add keeps a run's line. With the franz-go producer (the soak built with
// -tags franz: app.Wire then sends through it) the line starts with
// "[franz] ", so that the two producers' figures can sit in one file.
func (r *report) add(line string) {
	if app.ProducerName != "librdkafka" {
		line = "[" + app.ProducerName + "] " + line
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
}
