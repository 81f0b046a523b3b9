package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/progress"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// Where stderr is not a terminal, progress is a log line in the command's
// format, logged only when a figure changed since the last one.
func TestPlainProgressLines(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	show := plainLines(slog.New(slog.NewJSONHandler(&b, nil)))
	parts := []esm.PartitionProgress{{Topic: "orders", Partition: 0, HighWatermark: 10, Position: 4, Committed: 2}}
	first := progress.Snapshot{Stats: esm.Stats{RecordsPolled: 10, RecordsSucceeded: 4}, Partitions: parts}
	later := first
	later.Elapsed, later.Rate = 5e9, 3 // time passed, nothing else changed
	moved := first
	moved.Stats.RecordsSucceeded = 10
	moved.Partitions = []esm.PartitionProgress{{Topic: "orders", Partition: 0, HighWatermark: 10, Position: 10, Committed: 10}}
	for _, s := range []progress.Snapshot{first, later, moved, moved} {
		show(s)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (one per change):\n%s", len(lines), &b)
	}
	for i, want := range []string{`"lag":6,"partition_lag":"orders-0=6"`, `"lag":0,"partition_lag":"orders-0=0"`} {
		if !strings.Contains(lines[i], `"msg":"kafkalambda-esm: progress"`) || !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s\nwant msg kafkalambda-esm: progress and %s", i, lines[i], want)
		}
	}
}

// The command on a buffer (not a terminal) writes no ANSI sequence, with
// -progress on (the default) or off.
func TestNoTerminalNoANSI(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 1))
	if err := c.ProduceRecords(context.Background(), &kgo.Record{Topic: "orders", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"-progress=true", "-progress=false"} {
		var stdout, stderr bytes.Buffer
		args := []string{"-brokers", c.BootstrapServers(), "-topics", "orders", "-window", "0s", "-stop-when-caught-up", p}
		if code := run(context.Background(), args, env(nil), &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d\n%s", p, code, &stderr)
		}
		if strings.Contains(stderr.String(), "\x1b[") || !strings.Contains(stderr.String(), "esm: stopped") {
			t.Errorf("%s: stderr with an escape sequence, or without the mapping's summary:\n%q", p, &stderr)
		}
	}
}

// On a terminal the run ends with a final frame, its summary: everything
// handled, no lag left in any partition, no failure; the log lines are
// written above the frames.
func TestTerminalFinalFrame(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 2))
	if err := c.ProduceRecords(context.Background(),
		&kgo.Record{Topic: "orders", Partition: 0, Value: []byte("1")},
		&kgo.Record{Topic: "orders", Partition: 1, Value: []byte("2")},
		&kgo.Record{Topic: "orders", Partition: 1, Value: []byte("3")}); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := defineFlags(fs)
	if err := fs.Parse([]string{"-brokers", c.BootstrapServers(), "-topics", "orders", "-window", "0s", "-stop-when-caught-up"}); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	l := &live{on: true, disp: progress.NewDisplay(&screen, 200), stderr: &screen, every: progress.TerminalEvery}
	logger, err := f.logger(l.logWriter())
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.mapping(env(nil), io.Discard, logger)
	if err != nil {
		t.Fatal(err)
	}
	stop := l.start(m, logger)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop()
	out := screen.String()
	// The final frame: after any frame before it (whether a tick came
	// before the end or not), and the last thing written.
	at := strings.LastIndex(out, "kafkalambda-esm  done in ")
	if at < 0 || strings.Count(out, "kafkalambda-esm  done in ") != 1 {
		t.Fatalf("not one final frame:\n%q", out)
	}
	last := out[at:]
	for _, want := range []string{"records: 3 handled, 3 polled, 3 committed",
		"lag 0 (2 partitions): orders-0=0 orders-1=0\x1b[K\n", "failures: none\x1b[K\n"} {
		if !strings.Contains(last, want) {
			t.Errorf("final frame without %q:\n%q", want, last)
		}
	}
	if i := strings.Index(out, "msg=\"esm: stopped\""); i < 0 || i > at {
		t.Errorf("the mapping's summary is not above the final frame:\n%q", out)
	}
}

// Where the events go without -function-url: stdout, unless both it and
// stderr are terminals and the frame is drawn, then above the frame.
func TestEventWriter(t *testing.T) {
	t.Parallel()
	var stdout, screen bytes.Buffer
	drawn := &live{on: true, disp: progress.NewDisplay(&screen, 80), stderr: &screen}
	plain := newLive(true, &screen, env(nil)) // a buffer: no display
	off := newLive(false, &screen, env(nil))
	for _, tc := range []struct {
		name     string
		l        *live
		terminal bool
		above    bool
	}{
		{"stdout and stderr terminals, frame drawn", drawn, true, true},
		{"stdout redirected, frame drawn", drawn, false, false},
		{"stdout a terminal, stderr not", plain, true, false},
		{"progress off", off, true, false},
	} {
		if got := tc.l.eventWriter(&stdout, tc.terminal); (got != io.Writer(&stdout)) != tc.above {
			t.Errorf("%s: events to %T, want above the frame %v", tc.name, got, tc.above)
		}
	}
}

// On a terminal shared by stdout and stderr, the events the print target
// writes appear above the frame, each with the frame erased first and
// redrawn after, and none is written past the display (where the next
// redraw would erase it).
func TestTerminalEventsAboveFrame(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 1))
	if err := c.ProduceRecords(context.Background(),
		&kgo.Record{Topic: "orders", Value: []byte("1")},
		&kgo.Record{Topic: "orders", Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := defineFlags(fs)
	if err := fs.Parse([]string{"-brokers", c.BootstrapServers(), "-topics", "orders", "-window", "0s", "-batch-size", "1", "-stop-when-caught-up"}); err != nil {
		t.Fatal(err)
	}
	var screen, stdout bytes.Buffer
	l := &live{on: true, disp: progress.NewDisplay(&screen, 200), stderr: &screen, every: progress.TerminalEvery}
	// A frame on screen before the first event, as after a tick.
	l.disp.Show(progress.Snapshot{Title: "kafkalambda-esm"})
	logger, err := f.logger(l.logWriter())
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.mapping(env(nil), l.eventWriter(&stdout, true), logger)
	if err != nil {
		t.Fatal(err)
	}
	stop := l.start(m, logger)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop()
	if stdout.Len() != 0 {
		t.Errorf("events written past the display:\n%q", &stdout)
	}
	out := screen.String()
	final := strings.LastIndex(out, "kafkalambda-esm  done in ")
	for _, v := range []string{"MQ==", "Mg=="} { // the values, base64 in the event
		i := strings.Index(out, `"value":"`+v+`"`)
		if i < 0 || i > final {
			t.Fatalf("event with value %s not on screen above the final frame:\n%q", v, out)
		}
		// The event starts right where the frame was erased.
		if start := strings.LastIndex(out[:i], `{"eventSource"`); start < 0 || !strings.HasSuffix(out[:start], "\x1b[J") {
			t.Errorf("event with value %s not written where the frame was erased:\n%q", v, out)
		}
	}
}
