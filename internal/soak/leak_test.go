package soak

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// logSink collects everything the components of a run log (JSON lines at
// Debug and above) and every error text the run sees, so that they can be
// scanned for secret values at the end.
type logSink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	errors []string
	lines  int
	// stream, when set, gets every line as it is written too: what is
	// left of the logs when the process dies (a C library's assertion
	// aborts it before the test's cleanup can dump them).
	stream io.Writer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines += bytes.Count(p, []byte{'\n'})
	if s.stream != nil {
		_, _ = s.stream.Write(p)
	}
	return s.buf.Write(p)
}

// streamTo makes s write every line to w too, from now on.
func (s *logSink) streamTo(w io.Writer) {
	s.mu.Lock()
	s.stream = w
	s.mu.Unlock()
}

// logger returns a logger writing to s, tagged with the component's name.
func (s *logSink) logger(component string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", component)
}

// keepError records the text of an error (or any error-bearing text) seen
// during the run.
func (s *logSink) keepError(text string) {
	if text == "" {
		return
	}
	s.mu.Lock()
	s.errors = append(s.errors, text)
	s.mu.Unlock()
}

// keepErr is keepError for an error value.
func (s *logSink) keepErr(err error) {
	if err != nil {
		s.keepError(err.Error())
	}
}

// counts returns the log lines and error texts collected so far.
func (s *logSink) counts() (lines, errs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines, len(s.errors)
}

// undeliveredInvocations counts the invocations the handler logged as
// ending with sends that were not acknowledged: those whose flush ran into
// the deadline (or met a refused or purged send); and, of those, the ones
// that ran into their flush deadline (they lasted at least atDeadline)
// while the brokers were unreachable for the function (within reports
// whether a log line's time falls then), with a refused connection as the
// last broker error behind their first unacknowledged send.
//
// The duration tells an invocation that waited for the brokers until its
// deadline from one whose sends failed early (its producer rebuilt after
// refused credentials, a purge it did not make).
func (s *logSink) undeliveredInvocations(atDeadline time.Duration, within func(time.Time) bool) (n, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range bytes.Split(s.buf.Bytes(), []byte{'\n'}) {
		if !bytes.Contains(line, []byte(`"msg":"kafkalambda: invocation`)) || !bytes.Contains(line, []byte(`"undelivered":`)) {
			continue
		}
		var rec struct {
			Time        time.Time `json:"time"`
			Undelivered int       `json:"undelivered"`
			First       string    `json:"first_undelivered"`
			DurationMS  float64   `json:"duration_ms"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Undelivered == 0 {
			continue
		}
		n++
		if rec.DurationMS >= float64(atDeadline.Milliseconds()) && within(rec.Time) &&
			// librdkafka: "Local: Purged in queue (… Connection refused)";
			// franz-go: "purged: … (… connect: connection refused)".
			strings.Contains(strings.ToLower(rec.First), "purged") &&
			strings.Contains(strings.ToLower(rec.First), "connection refused") {
			refused++
		}
	}
	return n, refused
}

// txnFailedInvocations counts the invocations whose transaction failed
// (exactly-once mode: an error wrapping kafkalambda.ErrTransaction), and of
// those, the ones that ended while within says so (the brokers unreachable
// for the function).
func (s *logSink) txnFailedInvocations(within func(time.Time) bool) (n, away int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range bytes.Split(s.buf.Bytes(), []byte{'\n'}) {
		if !bytes.Contains(line, []byte(`"msg":"kafkalambda: invocation failed"`)) ||
			!bytes.Contains(line, []byte(`kafkalambda: transaction: `)) {
			continue
		}
		var rec struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		n++
		if within(rec.Time) {
			away++
		}
	}
	return n, away
}

// dump writes the collected logs and errors to path (for a developer
// looking into a run: see EnvLogs).
func (s *logSink) dump(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append(bytes.Clone(s.buf.Bytes()), "\n--- errors seen ---\n"...)
	for _, e := range s.errors {
		out = append(out, e...)
		out = append(out, '\n')
	}
	return os.WriteFile(path, out, 0o600)
}

// secretForms returns the ways a secret value could show up in text: as
// is, and inside an HTTP basic auth header (base64 of "user:password").
func secretForms(user, pass string) []string {
	return []string{pass, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
}

// leaks returns, for each secret form found in the logs or errors, where it
// was found, with a little context.
func (s *logSink) leaks(secrets []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	logs := s.buf.Bytes()
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		if i := bytes.Index(logs, []byte(sec)); i >= 0 {
			found = append(found, fmt.Sprintf("a secret in the logs: …%s…", redactAround(logs, i, len(sec))))
		}
		for _, e := range s.errors {
			if i := strings.Index(e, sec); i >= 0 {
				found = append(found, fmt.Sprintf("a secret in an error: …%s…", redactAround([]byte(e), i, len(sec))))
			}
		}
	}
	return found
}

// redactAround shows up to 80 bytes around a match at i of length n, with
// the match itself masked (the report must not leak it either).
func redactAround(b []byte, i, n int) string {
	from, to := max(0, i-80), min(len(b), i+n+80)
	return string(b[from:i]) + "<SECRET>" + string(b[i+n:to])
}

// checkNoLeaks fails t if any secret form is in s.
func checkNoLeaks(t *testing.T, s *logSink, secrets []string) {
	t.Helper()
	for _, l := range s.leaks(secrets) {
		t.Error(l)
	}
}
