package main

import (
	"strings"
	"testing"
)

// The command as the README runs it, with fewer trades: it prints the
// table and the throughput, ends with "settled N of M trades" and exits 0.
func TestLocalCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr strings.Builder
	code := run([]string{"-n", "1500", "-batch", "200", "-partitions", "2", "-timeout", "50s"}, &stdout, &stderr)
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
