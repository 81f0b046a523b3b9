package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/internal/syncbuf"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// printedEvents parses the lines the command has printed to stdout so far.
func printedEvents(t *testing.T, stdout *output) []*kafkalambda.Event {
	t.Helper()
	var out []*kafkalambda.Event
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		ev, err := kafkalambda.ParseEvent(sc.Bytes())
		if err != nil {
			t.Fatalf("printed line is not an event: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// output is a command's stdout or stderr, which signals each write so that
// a test waits on the command's output rather than polling it.
type output struct {
	syncbuf.Buffer
	wrote chan struct{} // one pending signal at most
}

func newOutput() *output { return &output{wrote: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	n, err := o.Buffer.Write(p)
	select {
	case o.wrote <- struct{}{}:
	default: // a signal is pending: the waiter reads everything anyway
	}
	return n, err
}

// await waits until cond holds for what has been written, checking after
// each write. The minute is a guard against a command that never writes
// it, not a speed the command must reach.
func (o *output) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	for !cond() {
		select {
		case <-o.wrote:
		case <-guard.C:
			t.Fatalf("no %s in a minute:\n%s", what, o)
		}
	}
}

// runCommand runs the command until stop is called, which returns its exit
// status.
func runCommand(args []string, getenv func(string) string) (stdout, stderr *output, stop func() int) {
	stdout, stderr = newOutput(), newOutput()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, getenv, stdout, stderr) }()
	return stdout, stderr, func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			return -1
		}
	}
}

func waitEvents(t *testing.T, out *output, records int) []*kafkalambda.Event {
	t.Helper()
	var evs []*kafkalambda.Event
	out.await(t, fmt.Sprintf("%d printed records", records), func() bool {
		evs = printedEvents(t, out)
		n := 0
		for _, ev := range evs {
			n += ev.Len()
		}
		return n >= records
	})
	return evs
}

// Without -function-url the command prints the events, as an MSK mapping
// with -event-source-arn, and logs every batch at debug level.
func TestPrintsEvents(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 2))
	if err := c.ProduceRecords(context.Background(),
		&kgo.Record{Topic: "orders", Partition: 0, Key: []byte("a"), Value: []byte("1")},
		&kgo.Record{Topic: "orders", Partition: 1, Key: []byte("b"), Value: []byte("2")},
		&kgo.Record{Topic: "orders", Partition: 1, Key: []byte("c"), Value: []byte("3")}); err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:kafka:us-east-1:123456789012:cluster/c/1"
	out, errs, stop := runCommand([]string{"-brokers", c.BootstrapServers(), "-topics", "orders", "-group", "cmd",
		"-window", "0s", "-event-source-arn", arn, "-log-level", "debug", "-log-format", "json"}, env(nil))
	evs := waitEvents(t, out, 3)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	for _, ev := range evs {
		if ev.Source != kafkalambda.SourceMSK || ev.SourceARN != arn {
			t.Fatalf("event %+v", ev)
		}
	}
	for _, want := range []string{`"msg":"esm: batch"`, `"msg":"esm: partitions assigned"`, `"msg":"esm: stopped"`,
		`"records_polled":3`, `"records_succeeded":3`, `"records_committed":3`} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %s:\n%s", want, errs)
		}
	}
	own := strings.ReplaceAll(errs.String(), `"msg":"kafkalambda-esm: progress"`, "") // -progress lines, not summaries
	if n := strings.Count(errs.String(), `"msg":"esm: stopped"`); n != 1 || strings.Contains(own, `"msg":"kafkalambda-esm:`) {
		t.Errorf("%d mapping summaries, want one and none of the command's own:\n%s", n, errs)
	}
}

// SASL/PLAIN with the password from the environment, TLS with a CA file.
func TestSASLAndTLS(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithSASLPlain("app", "s3cret"), kafkalambdatest.WithTLS(),
		kafkalambdatest.WithTopic("secure", 1))
	if err := c.ProduceRecords(context.Background(), &kgo.Record{Topic: "secure", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, c.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-brokers", c.BootstrapServers(), "-topics", "secure", "-window", "0s",
		"-sasl-mechanism", "PLAIN", "-sasl-username", "app", "-tls-ca-file", ca}
	// The working case gets a connect timeout a loaded machine's TLS and
	// SASL handshakes fit in; the failing one a short one, which may fire.
	out, errs, stop := runCommand(append(args, "-connect-timeout", "60s"), env(map[string]string{"KAFKA_SASL_PASSWORD": "s3cret"}))
	waitEvents(t, out, 1)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}

	// A wrong password fails with status 1 and a message, without the password.
	out, errs, stop = runCommand(append(args, "-connect-timeout", "2s", "-sasl-password", "hunter2"), env(nil))
	errs.await(t, "failure reported", func() bool { return strings.Contains(errs.String(), "kafkalambda-esm: failed") })
	if code := stop(); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	if strings.Contains(errs.String(), "hunter2") || out.String() != "" {
		t.Fatalf("password in the logs, or events printed:\n%s", errs)
	}
	if n := strings.Count(errs.String(), "esm: kafka"); n != 1 {
		t.Fatalf("the error is reported %d times, want once:\n%s", n, errs)
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-topics", "t"},
		{"-brokers", "b:1"},
		{"-brokers", "b:1", "-topics", "t", "-log-level", "loud"},
		{"-brokers", "b:1", "-topics", "t", "-log-format", "xml"},
		{"-brokers", "b:1", "-topics", "t", "-sasl-mechanism", "PLAIN"},
		{"-brokers", "b:1", "-topics", "t", "-sasl-mechanism", "GSSAPI", "-sasl-username", "u"},
		{"-brokers", "b:1", "-topics", "t", "-tls-ca-file", "/nonexistent"},
		{"-brokers", "b:1", "-topics", "t", "-batch-size", "0"},
		{"-brokers", "b:1", "-topics", "t", "-starting-position", "AT_TIMESTAMP", "-starting-timestamp", "yesterday"},
		{"-brokers", "b:1", "-topics", "t", "-schema-registry-url", "http://r", "-schema-format", "XML"},
		{"-brokers", "b:1", "-topics", "t", "-on-failure-topic", "t"},
		{"-brokers", "b:1", "-topics", "t", "-glue-endpoint", "http://g"},                                                                 // no Glue registry
		{"-brokers", "b:1", "-topics", "t", "-schema-registry-glue", "r", "-schema-registry-url", "http://r", "-aws-region", "eu-west-1"}, // two registries
		{"-brokers", "b:1", "-topics", "t", "-schema-registry-glue", "r"},                                                                 // no region
		{"-brokers", "b:1", "-topics", "t", "-on-failure-topic", "dlq", "-on-failure-dir", "d"},                                           // one destination
		{"-brokers", "b:1", "-topics", "t", "-on-failure-dir", "d", "-on-failure-kind", "lambda"},
		{"-brokers", "b:1", "-topics", "t", "-on-failure-kind", "s3"}, // a kind without a folder
		{"-brokers", "b:1", "-topics", "t", "-max-record-age", "59"},
		{"-brokers", "b:1", "-topics", "t", "-max-record-age", "-60"},
		{"-brokers", "b:1", "-topics", "t,u"}, // one topic per mapping
		{"-brokers", "b:1", "-topics", "t", "-group", "has space"},
		{"-brokers", "b:1", "-topics", "t", "-filter", `{"key": ["k"]}`}, // Kafka filters on value only
		{"-brokers", "b:1", "-topics", "t", "-max-record-age", "604801"},
		{"-brokers", "b:1", "-topics", "t", "-max-record-age", "9223372037"}, // overflows a time.Duration
		{"-no-such-flag"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, env(nil), &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
	}
	if code := run(context.Background(), []string{"-h"}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}

// -max-record-age takes -1 (no limit) and 60 to 604800 seconds, as AWS's
// MaximumRecordAgeInSeconds.
func TestMaxRecordAgeFlag(t *testing.T) {
	t.Parallel()
	for _, age := range []string{"-1", "60", "604800"} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f := defineFlags(fs)
		if err := fs.Parse([]string{"-brokers", "b:1", "-topics", "t", "-max-record-age", age}); err != nil {
			t.Fatal(err)
		}
		logger, err := f.logger(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.mapping(env(nil), io.Discard, logger); err != nil {
			t.Errorf("-max-record-age %s: %v", age, err)
		}
	}
}

// -stop-when-caught-up exits by itself once the records there at the start
// are handled: 0 when every one was processed, 3 when one was given up
// (here, past -max-record-age).
func TestStopWhenCaughtUpFlag(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 2))
	if err := c.ProduceRecords(context.Background(),
		&kgo.Record{Topic: "orders", Partition: 0, Value: []byte("1")},
		&kgo.Record{Topic: "orders", Partition: 1, Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	args := []string{"-brokers", c.BootstrapServers(), "-topics", "orders", "-window", "0s", "-stop-when-caught-up"}
	stdout := newOutput()
	var stderr bytes.Buffer
	filter := []string{"-filter", `{"value": [{"anything-but": [2]}]}`} // the value 2 (JSON: a number) is filtered out, and committed
	if code := run(context.Background(), append(args, append(filter, "-group", "ok")...), env(nil), stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, &stderr)
	}
	n := 0
	for _, ev := range printedEvents(t, stdout) {
		n += ev.Len()
	}
	if n != 1 {
		t.Fatalf("printed %d records before exiting, want 1", n)
	}
	if err := c.ProduceRecords(context.Background(),
		&kgo.Record{Topic: "orders", Partition: 0, Value: []byte("old"), Timestamp: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(context.Background(), append(args, "-group", "ok", "-max-record-age", "60"), env(nil), stdout, &stderr); code != 3 {
		t.Fatalf("exit %d, want 3 (a record discarded)\n%s", code, &stderr)
	}
	if !strings.Contains(stderr.String(), "0 records sent to the on-failure destination, 1 discarded") {
		t.Fatalf("stderr: %s", &stderr)
	}

	// The same with a folder standing in for an S3 destination: the
	// record is written there, as AWS would put it in the bucket.
	if err := c.ProduceRecords(context.Background(),
		&kgo.Record{Topic: "orders", Partition: 0, Value: []byte("older"), Timestamp: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stderr.Reset()
	if code := run(context.Background(), append(args, "-group", "ok", "-max-record-age", "60", "-on-failure-dir", dir, "-on-failure-kind", "s3"), env(nil), stdout, &stderr); code != 3 {
		t.Fatalf("exit %d, want 3 (a record to the on-failure folder)\n%s", code, &stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "000001-RecordAgeExceeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	ir, err := esm.ParseInvocationRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ir.Event()
	if err != nil || ev.Len() != 1 || string(ev.Partitions[0].Records[0].Value) != "older" || ir.KafkaBatchInfo.RecordsInfo["orders-0"].FirstRecordOffset != "2" {
		t.Fatalf("invocation record %s: %v", b, err)
	}
}
