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
	"github.com/kafkalambda/kafka-lambda-go/internal/progress"
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
