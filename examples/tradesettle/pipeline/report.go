package pipeline

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
)

// Result is what a Run produced and read back.
type Result struct {
	// Mode is "in process" or "under the Runtime Interface Emulator".
	Mode string
	// Trades is how many trades were produced (M).
	Trades int
	// Settled is how many of them have at least one settlement (N).
	Settled int
	// Settlements counts the settlement records of the run's trades read
	// back: Settled plus Duplicates.
	Settlements int
	// Duplicates counts settlements beyond the first of a trade (delivery
	// is at least once; a run without faults has none).
	Duplicates int
	// Lost lists the trades (user_trades/partition/offset) that reached no
	// destination: no settlement, not dead-lettered, not given up.
	Lost []string
	// Windows are the counts per symbol and minute, as ksqlDB's
	// settlement_counts table would show them, ordered by minute, then
	// symbol.
	Windows []Window
	// Elapsed is the time from the first trade produced to the last trade
	// settled.
	Elapsed time.Duration
	// Invocations, RecordsInvoked, FunctionErrors, PartialFailures and
	// RecordsRetried are the event source mapping's counters.
	Invocations, RecordsInvoked, FunctionErrors, PartialFailures, RecordsRetried int64
	// Stages is where the function's time went, with Config.Stages.
	Stages []Stage

	// Policy and DeadLetterFormat are the function's FAILURE_POLICY and
	// DEAD_LETTER_FORMAT.
	Policy, DeadLetterFormat string
	// Poison counts the poison records produced (one per partition with
	// Config.Poison), PoisonKinds them per kind.
	Poison      int
	PoisonKinds map[string]int
	// PoisonDeadLettered counts poison records written to DeadLetterTopic,
	// PoisonDeadLetterCopies the dead-letter records of poison beyond the
	// first of each, and PoisonGivenUp the poison records the mapping gave
	// up to OnFailureTopic.
	PoisonDeadLettered, PoisonDeadLetterCopies, PoisonGivenUp int
	// DeadLettered counts GOOD records (trades) written to DeadLetterTopic:
	// 0 when failures are isolated, whatever failed.
	DeadLettered int
	// GivenUp counts the trades the mapping gave up to OnFailureTopic after
	// its retries.
	GivenUp int
	// Registry404 is Config.Registry404, and Registry404Answers the number
	// of requests the 404 server answered with 404.
	Registry404        int
	Registry404Answers int64
	// FirstFunctionError is the text of the first function error the
	// mapping saw (a failed invocation); "" when none failed.
	FirstFunctionError string
	// FunctionLog is what the function logged at WARN and ERROR.
	FunctionLog FunctionLog
}

// Failed reports whether anything failed or was injected to fail: poison
// records, the 404 registry, dead letters, records given up, function
// errors or item failures. WriteFailures says what.
func (r *Result) Failed() bool {
	return r.Poison > 0 || r.Registry404 > 0 || r.DeadLettered > 0 || r.PoisonDeadLettered > 0 ||
		r.GivenUp > 0 || r.PoisonGivenUp > 0 || r.FunctionErrors > 0 || r.PartialFailures > 0
}

// Window is one row of settlement_counts: a symbol's settlements in one
// 60-second tumbling window (by trade time).
type Window struct {
	Minute time.Time
	Symbol string
	// Counts are indexed like settle.Dispositions(): Completed, Pending,
	// SEC Flagged, Rejected.
	Counts [4]int
}

// Total is the window's count of settlements.
func (w Window) Total() int {
	n := 0
	for _, c := range w.Counts {
		n += c
	}
	return n
}

// Throughput is settled trades per second of Elapsed.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Settled) / r.Elapsed.Seconds()
}

// tally counts rows of produced trades per symbol and minute, each row
// once (duplicates included, as ksqlDB would count them).
func tally(rows []row, produced map[ref]bool) []Window {
	type key struct {
		minute int64
		symbol string
	}
	idx := map[key]int{}
	var out []Window
	for _, rw := range rows {
		if !produced[rw.trade] {
			continue
		}
		k := key{rw.at.Truncate(time.Minute).Unix(), rw.symbol}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Window{Minute: rw.at.Truncate(time.Minute), Symbol: rw.symbol})
		}
		if d := dispositionIndex(rw.disposition); d >= 0 {
			out[i].Counts[d]++
		}
	}
	slices.SortFunc(out, func(a, b Window) int {
		if c := a.Minute.Compare(b.Minute); c != 0 {
			return c
		}
		return strings.Compare(a.Symbol, b.Symbol)
	})
	return out
}

// WriteTable writes the windows as a table, with a total row.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := append(append([]string{"minute (UTC)", "symbol"}, settle.Dispositions()...), "total")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	var sum Window
	for _, win := range r.Windows {
		fmt.Fprintf(tw, "%s\t%s\t", win.Minute.UTC().Format("2006-01-02 15:04"), win.Symbol)
		for i, c := range win.Counts {
			fmt.Fprintf(tw, "%d\t", c)
			sum.Counts[i] += c
		}
		fmt.Fprintf(tw, "%d\t\n", win.Total())
	}
	fmt.Fprintf(tw, "all\t\t")
	for _, c := range sum.Counts {
		fmt.Fprintf(tw, "%d\t", c)
	}
	fmt.Fprintf(tw, "%d\t\n", sum.Total())
	return tw.Flush()
}

// WriteSummary writes the throughput and the mapping's counters.
func (r *Result) WriteSummary(w io.Writer) error {
	avg := 0.0
	if r.Invocations > 0 {
		avg = float64(r.RecordsInvoked) / float64(r.Invocations)
	}
	_, err := fmt.Fprintf(w, "%d trades settled in %.1fs: %.0f trades/s (the function %s; %d invocations, %.0f records each on average, %d function errors, %d partial failures; %d duplicate settlements)\n",
		r.Settled, r.Elapsed.Seconds(), r.Throughput(), r.Mode, r.Invocations, avg, r.FunctionErrors, r.PartialFailures, r.Duplicates)
	if err == nil && len(r.Lost) > 0 {
		shown := r.Lost[:min(len(r.Lost), 10)]
		_, err = fmt.Fprintf(w, "lost (no settlement, not dead-lettered, not given up): %s", strings.Join(shown, " "))
		if err == nil && len(r.Lost) > len(shown) {
			_, err = fmt.Fprintf(w, " and %d more", len(r.Lost)-len(shown))
		}
		if err == nil {
			_, err = fmt.Fprintln(w)
		}
	}
	return err
}

// WriteFailures writes where the records went when something failed —
// settled, dead-lettered (poison and GOOD records apart), given up to the
// on-failure topic, lost — and what the function's user saw: the
// invocations' outcomes, the first function error, and the first shown
// ERROR and WARN lines of the function's log.
func (r *Result) WriteFailures(w io.Writer, shown int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "failure handling: FAILURE_POLICY=%s", r.Policy)
	if r.Policy == "DEAD_LETTER" || r.Policy == "ISOLATE_POISON" {
		fmt.Fprintf(&b, " (DEAD_LETTER_FORMAT=%s)", r.DeadLetterFormat)
	}
	if r.Poison > 0 {
		kinds := make([]string, 0, len(r.PoisonKinds))
		for _, k := range []string{PoisonMagicByte, PoisonShortHeader, PoisonTruncatedFields} {
			if n := r.PoisonKinds[k]; n > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
			}
		}
		fmt.Fprintf(&b, "; a poison record at the head of each of %d partitions (%s)", r.Poison, strings.Join(kinds, ", "))
	}
	if r.Registry404 > 0 {
		fmt.Fprintf(&b, "; the function's registry URL answering plain HTTP 404 for its first %d invocations (%d requests)",
			r.Registry404, r.Registry404Answers)
	}
	b.WriteString("\n")
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  records in\t%d\t(%d trades, %d poison)\n", r.Trades+r.Poison, r.Trades, r.Poison)
	fmt.Fprintf(tw, "  settled\t%d\t\n", r.Settled)
	fmt.Fprintf(tw, "  poison records dead-lettered\t%d\t(of %d; %d extra copies)\n", r.PoisonDeadLettered, r.Poison, r.PoisonDeadLetterCopies)
	fmt.Fprintf(tw, "  GOOD records dead-lettered\t%d\t\n", r.DeadLettered)
	fmt.Fprintf(tw, "  given up to the on-failure topic\t%d\t(%d of them good)\n", r.GivenUp+r.PoisonGivenUp, r.GivenUp)
	fmt.Fprintf(tw, "  lost\t%d\t\n", len(r.Lost))
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(table.String()) {
		b.WriteString(strings.TrimRight(line, " \n") + "\n") // no padding after the last cell
	}
	ok := r.Invocations - r.FunctionErrors - r.PartialFailures
	fmt.Fprintf(&b, "what the user saw:\n  invocations: %d (%d succeeded, %d reported item failures, %d function errors); %d records retried\n",
		r.Invocations, ok, r.PartialFailures, r.FunctionErrors, r.RecordsRetried)
	if r.FirstFunctionError != "" {
		fmt.Fprintf(&b, "  first function error: %s\n", r.FirstFunctionError)
	}
	l := r.FunctionLog
	fmt.Fprintf(&b, "  function log: %d ERROR lines, %d WARN lines\n", l.Errors, l.Warnings)
	for _, g := range []struct {
		level string
		lines []string
	}{{"ERROR", l.FirstErrors}, {"WARN", l.FirstWarnings}} {
		if len(g.lines) == 0 {
			continue
		}
		n := min(shown, len(g.lines))
		fmt.Fprintf(&b, "  first %d %s lines:\n", n, g.level)
		for _, line := range g.lines[:n] {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
