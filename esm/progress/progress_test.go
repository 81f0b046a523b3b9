package progress_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/progress"
)

func part(topic string, p int32, hwm, pos int64) esm.PartitionProgress {
	return esm.PartitionProgress{Topic: topic, Partition: p, HighWatermark: hwm, Position: pos, Committed: -1}
}

// running is a mapping twelve seconds in: four partitions, one not fetched
// from yet, two function errors.
func running() progress.Snapshot {
	return progress.Snapshot{
		Title:   "kafkalambda-esm",
		Elapsed: 12340 * time.Millisecond,
		Stats: esm.Stats{RecordsPolled: 16000, Invocations: 30, RecordsSucceeded: 14990, RecordsFiltered: 10,
			RecordsCommitted: 14500, FunctionErrors: 2, RecordsRetried: 14},
		Partitions: []esm.PartitionProgress{
			part("orders", 0, 4120, 4000), part("orders", 1, 4000, 4000), part("orders", 2, 3535, 3500), part("orders", 3, -1, -1)},
		Rate: 1234.4,
	}
}

func TestFrame(t *testing.T) {
	t.Parallel()
	many := running()
	many.Partitions = nil
	for p := range int32(40) {
		many.Partitions = append(many.Partitions, part("orders", p, 1000+int64(p), 1000))
	}
	done := running()
	done.Done, done.Elapsed, done.Notes = true, 20*time.Second, []string{"produced 15,000/15,000"}
	done.Stats = esm.Stats{RecordsPolled: 15000, RecordsSucceeded: 14000, RecordsOnFailure: 990, RecordsDiscarded: 10,
		RecordsCommitted: 15000, Invocations: 40, PartialFailures: 3, InvokeErrors: 1, SchemaMisses: 2, SchemaDecodeErrors: 1}
	tests := []struct {
		name  string
		s     progress.Snapshot
		width int
		want  []string
	}{
		{"running", running(), 0, []string{
			"kafkalambda-esm  running 12.3s  1,234 records/s  30 invocations",
			"records: 15,000 handled, 16,000 polled, 14,500 committed",
			"lag 155 (4 partitions): orders-0=120 orders-1=0 orders-2=35 orders-3=-",
			"failures: 2 function errors, 14 records retried",
		}},
		{"clipped to the terminal", running(), 40, []string{
			"kafkalambda-esm  running 12.3s  1,234 r…",
			"records: 15,000 handled, 16,000 polled,…",
			"lag 155 (4 partitions): orders-0=120",
			"    orders-1=0 orders-2=35 orders-3=-",
			"failures: 2 function errors, 14 records…",
		}},
		{"more partitions than lines", many, 60, []string{
			"kafkalambda-esm  running 12.3s  1,234 records/s  30 invocat…",
			"records: 15,000 handled, 16,000 polled, 14,500 committed",
			"lag 780 (40 partitions): orders-0=0 orders-1=1 orders-2=2",
			"    orders-3=3 orders-4=4 orders-5=5 orders-6=6 orders-7=7",
			"    orders-8=8 orders-9=9 orders-10=10 orders-11=11 +28 more",
			"failures: 2 function errors, 14 records retried",
		}},
		{"done: the average, the notes, every failure", done, 0, []string{
			"kafkalambda-esm  done in 20.0s  750 records/s on average  40 invocations",
			"records: 15,000 handled, 15,000 polled, 15,000 committed",
			"produced 15,000/15,000",
			"lag 155 (4 partitions): orders-0=120 orders-1=0 orders-2=35 orders-3=-",
			"failures: 3 partial failures, 1 invoke error, 990 to the on-failure destination, 10 discarded, 3 schema errors",
		}},
		{"nothing yet", progress.Snapshot{}, 0, []string{
			"esm  running 0.0s  0 records/s  0 invocations",
			"records: 0 handled, 0 polled, 0 committed",
			"lag - (no partitions assigned)",
			"failures: none",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := progress.Frame(tc.s, tc.width)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Frame:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, l := range got {
				if n := len([]rune(l)); tc.width > 0 && n > tc.width {
					t.Errorf("line of %d runes, wider than %d: %q", n, tc.width, l)
				}
			}
		})
	}
}

func TestLine(t *testing.T) {
	t.Parallel()
	s := running()
	s.Notes = []string{"produced 9,000/10,000", "settled 8,000/10,000"}
	want := "kafkalambda-esm   12.3s  produced 9,000/10,000  settled 8,000/10,000  | 1,234 records/s, handled 15,000, lag 155, failures: 2 function errors, 14 records retried"
	if got := progress.Line(s); got != want {
		t.Errorf("Line:\n%s\nwant:\n%s", got, want)
	}
	s.Done = true
	if got := progress.Line(s); !strings.HasPrefix(got, "kafkalambda-esm done in   12.3s") || !strings.Contains(got, "| 1,216 records/s") {
		t.Errorf("final Line: %s", got)
	}
}

// Attrs makes one log line of a snapshot, the lag of each partition in one
// attribute.
func TestAttrs(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).LogAttrs(context.Background(), slog.LevelInfo, "progress", progress.Attrs(running())...)
	want := `level=INFO msg=progress elapsed_s=12.3 records_per_second=1234.4 records_handled=15000 records_polled=16000 records_committed=14500 invocations=30 lag=155 partition_lag="orders-0=120 orders-1=0 orders-2=35 orders-3=-" function_errors=2 partial_failures=0 invoke_errors=0 records_retried=14 records_on_failure=0 records_discarded=0` + "\n"
	if b.String() != want {
		t.Errorf("log line:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestMeter(t *testing.T) {
	t.Parallel()
	var m progress.Meter // a 2 s window
	for _, step := range []struct {
		at   time.Duration
		n    int64
		want float64
	}{
		{0, 0, 0},
		{500 * time.Millisecond, 500, 1000},
		{time.Second, 1500, 1500},
		{2 * time.Second, 2500, 1250},
		{3 * time.Second, 2500, 500}, // since 1 s: 1000 records in 2 s
		{5 * time.Second, 2500, 0},   // nothing in the last 2 s
		{5 * time.Second, 2600, 100 / 2.0},
	} {
		if got := m.Rate(step.at, step.n); got != step.want {
			t.Errorf("Rate(%s, %d) = %v, want %v", step.at, step.n, got, step.want)
		}
	}
}

// A Display writes each frame over the one before, and a log line written
// through it above the frame.
func TestDisplay(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	d := progress.NewDisplay(&out, 0)
	s := progress.Snapshot{Title: "t"}
	frame := strings.Join(progress.Frame(s, 0), "\x1b[K\n") + "\x1b[K\n"
	const up = "\r\x1b[4A\x1b[J" // the frame is four lines
	d.Show(s)
	if out.String() != frame {
		t.Fatalf("first frame %q, want %q", out.String(), frame)
	}
	out.Reset()
	d.Show(s)
	if out.String() != up+frame {
		t.Fatalf("second frame %q, want %q", out.String(), up+frame)
	}
	out.Reset()
	if _, err := fmt.Fprint(d.Writer(), "level=INFO msg=hello\n"); err != nil {
		t.Fatal(err)
	}
	if want := up + "level=INFO msg=hello\n" + frame; out.String() != want {
		t.Fatalf("log line through the display %q, want %q", out.String(), want)
	}
	out.Reset()
	d.Finish(s)
	fmt.Fprint(d.Writer(), "after\n")
	if want := up + frame + "after\n"; out.String() != want {
		t.Fatalf("final frame and a line after it %q, want %q", out.String(), want)
	}
}

// A Display clips each line one column short of the terminal's width, so
// that no line wraps and moves the frame.
func TestDisplayClips(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	progress.NewDisplay(&out, 30).Show(running())
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if n := len([]rune(strings.TrimSuffix(l, "\x1b[K"))); n > 29 {
			t.Errorf("line of %d runes on a 30-column terminal: %q", n, l)
		}
	}
}

// Buffers, files, pipes and /dev/null are not terminals: the callers write
// plain lines there.
func TestNotATerminal(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]any{"buffer": &bytes.Buffer{}, "file": f, os.DevNull: null, "pipe": w} {
		if ok, _ := progress.Terminal(out.(interface{ Write([]byte) (int, error) }), func(string) string { return "xterm" }); ok {
			t.Errorf("%s is taken for a terminal", name)
		}
	}
}

// Once its context is done, Run shows the final snapshot, marked Done.
func TestRunFinal(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var shown, final []progress.Snapshot
	progress.Run(ctx, time.Hour, func() progress.Snapshot { return running() },
		func(s progress.Snapshot) { shown = append(shown, s) }, func(s progress.Snapshot) { final = append(final, s) })
	if len(shown) != 0 || len(final) != 1 || !final[0].Done {
		t.Fatalf("shown %d, final %+v", len(shown), final)
	}
}

func ExampleFrame() {
	s := progress.Snapshot{
		Title:   "kafkalambda-esm",
		Elapsed: 4 * time.Second,
		Stats:   esm.Stats{RecordsPolled: 2500, RecordsSucceeded: 2000, RecordsCommitted: 1500, Invocations: 4},
		Partitions: []esm.PartitionProgress{
			{Topic: "orders", Partition: 0, HighWatermark: 1500, Position: 1000, Committed: 1000},
			{Topic: "orders", Partition: 1, HighWatermark: 1000, Position: 1000, Committed: 500},
		},
		Rate: 480,
	}
	for _, line := range progress.Frame(s, 0) {
		fmt.Println(line)
	}
	// Output:
	// kafkalambda-esm  running 4.0s  480 records/s  4 invocations
	// records: 2,000 handled, 2,500 polled, 1,500 committed
	// lag 500 (2 partitions): orders-0=500 orders-1=0
	// failures: none
}
