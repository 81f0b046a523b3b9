package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
)

// The command as the README runs it, with fewer trades: it prints the
// table and the throughput, ends with "settled N of M trades" and exits 0.
func TestLocalCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr strings.Builder
	code := run([]string{"-n", "1500", "-batch", "200", "-partitions", "2", "-timeout", "50s", "-stages"}, &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "settled 1500 of 1500 trades" {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{"settlement_counts", "SEC Flagged", "trades/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output without %q:\n%s", want, out)
		}
	}
	// Progress, on a buffer (not a terminal): plain lines, the last one
	// once everything was handled, without a lag or a failure.
	if strings.Contains(out, "\x1b[") {
		t.Errorf("an escape sequence in the output of a command not on a terminal:\n%q", out)
	}
	if !regexp.MustCompile(`(?m)^tradesettle done in +[0-9.]+s  produced 1,500/1,500  settled 1,500/1,500 \([0-9,]+ trades/s\)  \| [0-9,]+ records/s, handled 1,500, lag 0, failures: none$`).MatchString(out) {
		t.Errorf("no final progress line:\n%s", out)
	}
	if strings.Contains(out, "failure handling") {
		t.Errorf("a run in which nothing failed prints a failure report:\n%s", out)
	}
	// -stages: where the function's time went, one row per stage; each
	// trade was processed and sent once.
	if !strings.Contains(out, "where the function's time went") {
		t.Fatalf("no stage timings:\n%s", out)
	}
	for _, stage := range []string{pipeline.StageInvocation, pipeline.StageRecord, pipeline.StageSend, pipeline.StageFlush} {
		i := strings.Index(out, stage)
		if i < 0 {
			t.Errorf("no %q row:\n%s", stage, out)
			continue
		}
		row := strings.Fields(strings.TrimPrefix(out[i:strings.IndexByte(out[i:], '\n')+i], stage))
		if stage == pipeline.StageRecord || stage == pipeline.StageSend {
			if len(row) == 0 || row[0] != "1500" {
				t.Errorf("%s: row %v, want a count of 1500", stage, row)
			}
		}
	}
}

// The check: 1,000 orders, a poison record at the head of each
// partition, the registry URL answering plain HTTP 404 for the function's
// first invocations. The report says 0 good records were dead-lettered and
// none lost, and shows what the user saw: the registry's failure, of class
// environment, in the function's ERROR lines.
func TestLocalCommandPoisonAndRegistry404(t *testing.T) {
	t.Parallel()
	var stdout, stderr strings.Builder
	code := run([]string{"-n", "1000", "-poison", "-registry-404", "4", "-q", "-timeout", "50s"}, &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	t.Logf("\n%s", out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  records in +1004 +\(1000 trades, 4 poison\)$`),
		regexp.MustCompile(`(?m)^  settled +1000$`),
		regexp.MustCompile(`(?m)^  poison records dead-lettered +4 +\(of 4; 0 extra copies\)$`),
		regexp.MustCompile(`(?m)^  GOOD records dead-lettered +0$`),
		regexp.MustCompile(`(?m)^  given up to the on-failure topic +0 +\(0 of them good\)$`),
		regexp.MustCompile(`(?m)^  lost +0$`),
		regexp.MustCompile(`(?m)^what the user saw:\n  invocations: \d+ \(\d+ succeeded, [1-9]\d* reported item failures, 0 function errors\)`),
		regexp.MustCompile(`(?m)^    .*level=ERROR .*class=environment action=reported .*schema registry unavailable`),
		regexp.MustCompile(`(?m)^settled 1000 of 1000 trades$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("output does not match %s", want)
		}
	}
}

func TestLocalCommandFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"brokers without registry", []string{"-brokers", "localhost:9092"}, "-brokers needs -registry"},
		{"secret and brokers", []string{"-secret", "s.json", "-brokers", "b:9092"}, "exclude each other"},
		{"missing secret file", []string{"-secret", "/nonexistent/secret.json"}, "no such file"},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"},
		{"no retries", []string{"-retries", "0"}, "-retries must be at least 1"},
		{"negative registry 404", []string{"-registry-404", "-1"}, "-registry-404 not negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr strings.Builder
			if code := run(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tc.want)
			}
		})
	}
}
