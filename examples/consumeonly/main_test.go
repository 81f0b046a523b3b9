package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// firstEvent has a view without a page at views-0@1, and a tombstone.
func firstEvent(t *testing.T) []byte {
	t.Helper()
	type rec = kafkalambdatest.Record[string, View]
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.JSON[View]()).
		Add("views", 0, rec{Key: "u1", Value: View{Page: "/a", User: "u1"}},
			rec{Key: "u2", Value: View{User: "u2"}},
			rec{Key: "u3", Value: View{Page: "/b", User: "u3"}}).
		Add("views", 1, rec{Key: "u4", Value: View{Page: "/a", User: "u4"}}, rec{Key: "u5", Tombstone: true}).
		Payload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// secondEvent is the retry of views-0 from the failed record on, the
// page-less view fixed (a later offset), and one more view.
func secondEvent(t *testing.T) []byte {
	t.Helper()
	type rec = kafkalambdatest.Record[string, View]
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.JSON[View]()).
		AddAt("views", 0, 2, rec{Key: "u3", Value: View{Page: "/b", User: "u3"}}).
		Add("views", 1, rec{Key: "u6", Value: View{Page: "/c", User: "u6"}}).
		Payload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

const (
	// firstAnswer reports views-0@1 and the record of its partition after
	// it, which was not processed; the mapping retries them.
	firstAnswer = `{"batchItemFailures":[{"itemIdentifier":{"partition":"views-0","offset":1}},` +
		`{"itemIdentifier":{"partition":"views-0","offset":2}}]}`
	secondAnswer = `{"batchItemFailures":[]}`
)

// The pages counted after both events: views-0@2 ("/b") only once, in the
// second; the tombstone not at all.
var wantPages = map[string]int{"/a": 2, "/b": 1, "/c": 1}

func TestHandler(t *testing.T) {
	t.Parallel()
	h, views, err := newHandler(envOf(nil), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		payload []byte
		want    string
	}{{firstEvent(t), firstAnswer}, {secondEvent(t), secondAnswer}} {
		got, err := h.Invoke(context.Background(), tc.payload)
		if err != nil || string(got) != tc.want {
			t.Fatalf("invocation %d: %s, %v; want %s", i+1, got, err, tc.want)
		}
	}
	if got := views.snapshot(); !maps.Equal(got, wantPages) {
		t.Errorf("pages %v; want %v", got, wantPages)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		concurrency string
		wantErr     error // nil: accepted
	}{
		{"unset: one partition at a time", "", nil},
		{"four partitions at once", "4", nil},
		{"zero", "0", kafkalambda.ErrInvalidOption},
		{"negative", "-2", kafkalambda.ErrInvalidOption},
		{"not a number", "four", strconv.ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, _, err := newHandler(envOf(map[string]string{EnvConcurrency: tc.concurrency}), slog.New(slog.DiscardHandler))
			if tc.wantErr == nil {
				if err != nil || h == nil {
					t.Fatalf("newHandler: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), EnvConcurrency) {
				t.Fatalf("newHandler: %v; want an error naming %s and matching %v", err, EnvConcurrency, tc.wantErr)
			}
		})
	}
}

// buildBootstrap builds this function for linux/goarch as a user would, with
// cgo off, and returns the binary's path.
func buildBootstrap(t *testing.T, dir, goarch string) string {
	t.Helper()
	out := filepath.Join(dir, "bootstrap-"+goarch)
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 GOARCH=%s go build: %v\n%s", goarch, err, msg)
	}
	return out
}

// checkStatic fails t unless path is a static Linux executable for machine:
// no program interpreter, no shared libraries, so it runs on
// provided.al2023 whatever glibc the build machine has.
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s: %v %v; want an executable for %v", filepath.Base(path), f.Type, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: dynamically linked (%v)", filepath.Base(path), p.Type)
		}
	}
}

// The function is pure Go: nothing it imports needs cgo, and it builds
// with cgo off for both Lambda architectures into static binaries.
func TestPureGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function twice")
	}
	t.Parallel()
	// The function's own imports, not its tests'; with cgo on, as a user's
	// plain go build has it, so that a cgo dependency cannot hide behind
	// a build constraint.
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	deps, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(deps)) {
		if strings.HasPrefix(pkg, "github.com/confluentinc/") || strings.HasSuffix(pkg, "/kafkalambda/librdkafka") {
			t.Errorf("the function imports %s", pkg)
		}
	}
	dir := t.TempDir()
	for goarch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		bin := buildBootstrap(t, dir, goarch)
		checkStatic(t, bin, machine)
		if st, err := os.Stat(bin); err == nil {
			t.Logf("linux/%s bootstrap: %.1f MB", goarch, float64(st.Size())/(1<<20))
		}
	}
}

// startEmulator runs bootstrap under the Runtime Interface Emulator on
// 127.0.0.1 with env added to the function's environment.
func startEmulator(t *testing.T, bootstrap string, env ...string) *rie.Emulator {
	t.Helper()
	// No emulator is a failure, not a skip: it comes from the module proxy
	// like every other dependency (or from $KAFKALAMBDA_RIE).
	bin, err := rie.Binary(t.Context())
	if err != nil {
		t.Fatalf("no Runtime Interface Emulator (set %s to a binary to use one): %v", rie.EnvBinary, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	emu, err := rie.Start(ctx, bootstrap, rie.WithBinary(bin), rie.WithEnv(env...), rie.WithFunctionTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		emu.Close()
		if t.Failed() {
			t.Logf("emulator output:\n%s", emu.Output())
		}
	})
	return emu
}

// invoke sends payload through the emulator's Invoke API and returns the
// status and body of its answer.
func invoke(t *testing.T, emu *rie.Emulator, payload []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		emu.Endpoint+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// jsonLines returns the lines of out that are JSON objects with a
// "message" (the function's log in Lambda's JSON format).
func jsonLines(out string) []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] != nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// The amd64 bootstrap under the Runtime Interface Emulator: Start answers
// invocations with the handler's responses, logs a line per invocation in
// Lambda's JSON format, and runs the function's SIGTERM callback (a
// lambda.Option given to Start) when the emulator shuts down; a bad
// setting fails INIT, and every invocation answers with that error.
func TestUnderEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function and runs it under the emulator")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the emulator runs the linux/amd64 bootstrap; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	t.Parallel()
	bootstrap := buildBootstrap(t, t.TempDir(), "amd64")

	t.Run("runs", func(t *testing.T) {
		t.Parallel()
		emu := startEmulator(t, bootstrap, "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=DEBUG")
		for i, tc := range []struct {
			payload []byte
			want    string
		}{{firstEvent(t), firstAnswer}, {secondEvent(t), secondAnswer}} {
			if status, body := invoke(t, emu, tc.payload); status != http.StatusOK || body != tc.want {
				t.Fatalf("invocation %d: %d %s; want 200 %s", i+1, status, body, tc.want)
			}
		}
		emu.Close() // SIGTERM; returns once the emulator and the function have exited
		type line struct {
			level   string
			records float64
			items   float64
		}
		var invocations []line
		var pages map[string]any
		for _, m := range jsonLines(emu.Output()) {
			switch msg, _ := m["message"].(string); {
			case strings.HasPrefix(msg, "kafkalambda: invocation"):
				r, _ := m["records"].(float64)
				n, _ := m["item_failures"].(float64)
				invocations = append(invocations, line{m["level"].(string), r, n})
			case msg == "consumeonly: views per page":
				pages, _ = m["pages"].(map[string]any)
			}
		}
		want := []line{{"WARN", 5, 2}, {"DEBUG", 2, 0}}
		if len(invocations) != len(want) || invocations[0] != want[0] || invocations[1] != want[1] {
			t.Errorf("invocation log lines %v; want %v", invocations, want)
		}
		if len(pages) != len(wantPages) {
			t.Fatalf("views per page logged at SIGTERM: %v; want %v", pages, wantPages)
		}
		for p, n := range wantPages {
			if pages[p] != float64(n) {
				t.Errorf("views per page logged at SIGTERM: %v; want %v", pages, wantPages)
				break
			}
		}
	})

	t.Run("fails INIT", func(t *testing.T) {
		t.Parallel()
		emu := startEmulator(t, bootstrap, EnvConcurrency+"=0")
		for i := range 2 { // INIT is tried again for each invocation, and fails again
			status, body := invoke(t, emu, firstEvent(t))
			var got struct{ ErrorMessage, ErrorType string }
			if err := json.Unmarshal([]byte(body), &got); err != nil || status != http.StatusBadGateway ||
				got.ErrorType != "Kafkalambda.InitError" || !strings.Contains(got.ErrorMessage, EnvConcurrency+`="0"`) {
				t.Fatalf("invocation %d: %d %s; want 502 with the INIT error naming %s", i+1, status, body, EnvConcurrency)
			}
		}
	})
}
