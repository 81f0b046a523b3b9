// Package progress shows how a local event source mapping (package esm) is
// doing while it runs: records handled per second, the lag of each
// partition, and what failed. On a terminal a Display redraws a frame of a
// few lines in place; elsewhere the caller writes Line or logs Attrs, one
// line at a time, so that a CI log or a pipe gets plain lines.
//
// What is shown is a Snapshot, and Frame, Line and Attrs are pure functions
// of it: the tests give them fixed snapshots. Only Run, which takes a
// snapshot at each tick of a ticker, knows about time.
//
// cmd/kafkalambda-esm and examples/tradesettle/local use it; so can any
// program that runs a Mapping.
package progress

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
)

// Snapshot is what a frame or a line shows. The zero value is a mapping
// that has done nothing yet.
type Snapshot struct {
	// Title starts the first line: the command's name.
	Title string
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// Stats are the mapping's counters ((*esm.Mapping).Stats).
	Stats esm.Stats
	// Partitions are the assigned partitions ((*esm.Mapping).Progress).
	Partitions []esm.PartitionProgress
	// Rate is records handled per second lately (a Meter's); in the final
	// snapshot (Done) the average over the run is shown instead.
	Rate float64
	// Notes are the caller's own figures, each a line of the frame after
	// the first, and in Line before the mapping's.
	Notes []string
	// Done marks the final snapshot: the run is over.
	Done bool
}

// Handled counts the records the mapping is done with: processed by the
// function, given up to the on-failure destination, discarded, or
// filtered out.
func Handled(st esm.Stats) int64 {
	return st.RecordsSucceeded + st.RecordsOnFailure + st.RecordsDiscarded + st.RecordsFiltered
}

// rate is the rate to show: s.Rate while running, the run's average once
// done.
func (s *Snapshot) rate() float64 {
	if s.Done {
		if s.Elapsed <= 0 {
			return 0
		}
		return float64(Handled(s.Stats)) / s.Elapsed.Seconds()
	}
	return s.Rate
}

// lag sums the known lags of s.Partitions; known is false when none is
// known.
func (s *Snapshot) lag() (total int64, known bool) {
	for _, p := range s.Partitions {
		if l := p.Lag(); l >= 0 {
			total += l
			known = true
		}
	}
	return total, known
}

// maxLagLines bounds the lines of partitions a frame shows.
const maxLagLines = 3

// Frame returns the lines of s as a terminal shows them: a head line (the
// title, the time, the rate, the invocations), the records handled,
// polled and committed, the caller's notes, the lag of
// each partition (as many as fit in maxLagLines lines, then how many
// more), and the failures. No line is longer than width runes (0: no
// limit); none ends with a newline.
func Frame(s Snapshot, width int) []string {
	head := s.Title
	if head == "" {
		head = "esm"
	}
	when := "running " + elapsed(s.Elapsed)
	rateWord := "records/s"
	if s.Done {
		when, rateWord = "done in "+elapsed(s.Elapsed), "records/s on average"
	}
	st := s.Stats
	lines := []string{
		fmt.Sprintf("%s  %s  %s %s  %s", head, when, count(int64(s.rate()+0.5)), rateWord, plural64(st.Invocations, "invocation")),
		fmt.Sprintf("records: %s handled, %s polled, %s committed", count(Handled(st)), count(st.RecordsPolled), count(st.RecordsCommitted)),
	}
	lines = append(lines, s.Notes...)
	lines = append(lines, lagLines(s, width)...)
	lines = append(lines, "failures: "+failures(st))
	if width > 0 {
		for i, l := range lines {
			lines[i] = clip(l, width)
		}
	}
	return lines
}

// lagLines returns the frame's lag lines: the total, then each partition,
// filled up to width, on maxLagLines lines at most: the partitions that do
// not fit are counted ("+N more").
func lagLines(s Snapshot, width int) []string {
	total, known := s.lag()
	head := "lag -"
	if known {
		head = "lag " + count(total)
	}
	if len(s.Partitions) == 0 {
		return []string{head + " (no partitions assigned)"}
	}
	head += " (" + plural(len(s.Partitions), "partition") + "):"
	if width <= 0 {
		width = 1 << 30
	}
	const indent = "   "
	runes := func(ss ...string) int {
		n := 0
		for _, x := range ss {
			n += len([]rune(x))
		}
		return n
	}
	// Fill lines greedily, one partition on a line at least.
	var groups [][]string
	var cur []string
	used := runes(head)
	for _, p := range s.Partitions {
		item := " " + partLag(p)
		if len(cur) > 0 && used+runes(item) > width {
			groups, cur, used = append(groups, cur), nil, runes(indent)
		}
		cur = append(cur, item)
		used += runes(item)
	}
	groups = append(groups, cur)
	more := ""
	if len(groups) > maxLagLines {
		groups = groups[:maxLagLines]
		shown := 0
		for _, g := range groups {
			shown += len(g)
		}
		last := &groups[maxLagLines-1]
		for {
			more = fmt.Sprintf(" +%d more", len(s.Partitions)-shown)
			if len(*last) <= 1 || runes(indent)+runes(*last...)+runes(more) <= width {
				break
			}
			*last = (*last)[:len(*last)-1]
			shown--
		}
	}
	out := make([]string, len(groups))
	for i, g := range groups {
		prefix := indent
		if i == 0 {
			prefix = head
		}
		out[i] = prefix + strings.Join(g, "")
	}
	out[len(out)-1] += more
	return out
}

// partLag is "topic-partition=lag", the lag "-" when unknown (nothing
// fetched from the partition yet).
func partLag(p esm.PartitionProgress) string {
	l := "-"
	if v := p.Lag(); v >= 0 {
		l = strconv.FormatInt(v, 10)
	}
	return p.Topic + "-" + strconv.FormatInt(int64(p.Partition), 10) + "=" + l
}

// failures lists the failure counters that are not zero, or "none".
func failures(st esm.Stats) string {
	var out []string
	add := func(n int64, one, many string) {
		switch {
		case n == 1:
			out = append(out, "1 "+one)
		case n > 1:
			out = append(out, count(n)+" "+many)
		}
	}
	add(st.FunctionErrors, "function error", "function errors")
	add(st.PartialFailures, "partial failure", "partial failures")
	add(st.BadResponses, "bad response", "bad responses")
	add(st.InvokeErrors, "invoke error", "invoke errors")
	add(st.RecordsRetried, "record retried", "records retried")
	add(st.Bisections, "bisection", "bisections")
	add(st.RecordsOnFailure, "to the on-failure destination", "to the on-failure destination")
	add(st.RecordsDiscarded, "discarded", "discarded")
	add(st.SchemaMisses+st.SchemaDecodeErrors, "schema error", "schema errors")
	add(st.CommitErrors, "commit error", "commit errors")
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// Line returns s as one plain line, without a newline: the time, the
// caller's notes, then the mapping's rate, counts, total lag and failures.
// Partitions are not listed one by one (Attrs does, for a log).
func Line(s Snapshot) string {
	var b strings.Builder
	b.WriteString(s.Title)
	if s.Done {
		b.WriteString(" done in")
	}
	fmt.Fprintf(&b, " %6.1fs", s.Elapsed.Seconds())
	for _, n := range s.Notes {
		b.WriteString("  ")
		b.WriteString(n)
	}
	lag := "-"
	if total, known := s.lag(); known {
		lag = count(total)
	}
	fmt.Fprintf(&b, "  | %s records/s, handled %s, lag %s, failures: %s",
		count(int64(s.rate()+0.5)), count(Handled(s.Stats)), lag, failures(s.Stats))
	return strings.TrimLeft(b.String(), " ")
}

// Attrs returns s as log attributes, for a slog line: elapsed_s,
// records_per_second, records_handled, records_polled,
// records_committed, invocations, lag (the total; -1 when unknown),
// partition_lag ("topic-partition=lag ...", "-" when unknown), and the
// failure counters.
func Attrs(s Snapshot) []slog.Attr {
	st := s.Stats
	total, known := s.lag()
	if !known {
		total = -1
	}
	parts := make([]string, len(s.Partitions))
	for i, p := range s.Partitions {
		parts[i] = partLag(p)
	}
	return []slog.Attr{
		slog.Float64("elapsed_s", float64(s.Elapsed.Round(100*time.Millisecond))/float64(time.Second)),
		slog.Float64("records_per_second", float64(int64(s.rate()*10+0.5))/10),
		slog.Int64("records_handled", Handled(st)),
		slog.Int64("records_polled", st.RecordsPolled),
		slog.Int64("records_committed", st.RecordsCommitted),
		slog.Int64("invocations", st.Invocations),
		slog.Int64("lag", total),
		slog.String("partition_lag", strings.Join(parts, " ")),
		slog.Int64("function_errors", st.FunctionErrors),
		slog.Int64("partial_failures", st.PartialFailures),
		slog.Int64("invoke_errors", st.InvokeErrors),
		slog.Int64("records_retried", st.RecordsRetried),
		slog.Int64("records_on_failure", st.RecordsOnFailure),
		slog.Int64("records_discarded", st.RecordsDiscarded),
	}
}

// count writes n with thousands separators: 1,234,567.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Count is count for the caller's notes.
func Count(n int64) string { return count(n) }

func plural64(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return count(n) + " " + what + "s"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func elapsed(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// clip shortens l to width runes, ending it with "…" when cut.
func clip(l string, width int) string {
	r := []rune(l)
	if len(r) <= width {
		return l
	}
	if width < 1 {
		return ""
	}
	return string(r[:width-1]) + "…"
}
