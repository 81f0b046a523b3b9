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
	// Lost lists the trades (user_trades/partition/offset) without a
	// settlement.
	Lost []string
	// Windows are the counts per symbol and minute, as ksqlDB's
	// settlement_counts table would show them, ordered by minute, then
	// symbol.
	Windows []Window
	// Elapsed is the time from the first trade produced to the last trade
	// settled.
	Elapsed time.Duration
	// Invocations, RecordsInvoked, FunctionErrors and PartialFailures are
	// the event source mapping's counters.
	Invocations, RecordsInvoked, FunctionErrors, PartialFailures int64
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
		_, err = fmt.Fprintf(w, "lost (no settlement): %s", strings.Join(shown, " "))
		if err == nil && len(r.Lost) > len(shown) {
			_, err = fmt.Fprintf(w, " and %d more", len(r.Lost)-len(shown))
		}
		if err == nil {
			_, err = fmt.Fprintln(w)
		}
	}
	return err
}
