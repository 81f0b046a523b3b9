package kafkalambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// runtimeAPI is a Lambda Runtime API that records init errors.
type runtimeAPI struct {
	srv    *httptest.Server
	posted chan map[string]string
}

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	api := &runtimeAPI{posted: make(chan map[string]string, 1)}
	api.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2018-06-01/runtime/init/error" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var m map[string]string
		_ = json.Unmarshal(body, &m)
		m["header"] = r.Header.Get("Lambda-Runtime-Function-Error-Type")
		api.posted <- m
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(api.srv.Close)
	return api
}

func (a *runtimeAPI) addr() string { return strings.TrimPrefix(a.srv.URL, "http://") }

// warmer is a Producer whose Warm returns err; it sends nothing.
type warmer struct {
	err   error
	calls int
}

func (w *warmer) Produce(context.Context, *Message, Delivery) error { return ErrProducer }
func (w *warmer) Purge()                                            {}
func (w *warmer) Close()                                            {}
func (w *warmer) Warm(context.Context) error                        { w.calls++; return w.err }

// fakeStarter is a starter that records what Start and FailInit did, with
// api (nil: no Runtime API) as the Runtime API.
type fakeStarter struct {
	s       starter
	exited  int // -1 while it has not exited
	started any
	opts    []lambda.Option
	logs    bytes.Buffer
}

func newFakeStarter(api *runtimeAPI) *fakeStarter {
	f := &fakeStarter{exited: -1}
	f.s = starter{
		getenv: func(k string) string {
			if k == "AWS_LAMBDA_RUNTIME_API" && api != nil {
				return api.addr()
			}
			return ""
		},
		exit:   func(code int) { f.exited = code },
		start:  func(h any, opts ...lambda.Option) { f.started, f.opts = h, opts },
		logger: slog.New(slog.NewTextHandler(&f.logs, nil)),
	}
	return f
}

func TestStartInitCheck(t *testing.T) {
	t.Parallel()
	process := func(ctx context.Context, r *Record[string, string]) error { return nil }
	for _, tc := range []struct {
		name     string
		warm     error
		wantFail bool
	}{
		{"a secret that is not there fails INIT", Misconfigured(errors.New("secret kafka/prod not found")), true},
		{"a throttled secret source does not", Transient(errors.New("ThrottlingException")), false},
		{"a good config starts", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newRuntimeAPI(t)
			p := &warmer{err: tc.warm}
			var logs bytes.Buffer
			h, err := NewHandler(serde.String(), serde.String(), process, WithProducer(p),
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			f := newFakeStarter(api)
			userOpt := lambda.WithSetIndent("", " ")
			startWith(f.s, h, userOpt)
			if p.calls != 1 {
				t.Errorf("the producer was warmed %d times; want once", p.calls)
			}
			if tc.wantFail {
				if f.exited != 1 || f.started != nil {
					t.Fatalf("exited %d, started %v; want exit 1 before starting", f.exited, f.started)
				}
				got := <-api.posted
				if got["errorType"] != initErrorType || got["header"] != initErrorType ||
					!strings.Contains(got["errorMessage"], "init check") ||
					!strings.Contains(got["errorMessage"], "secret kafka/prod not found") {
					t.Errorf("init error posted: %v", got)
				}
				// The handler's logger, not Start's default, says so.
				if !strings.Contains(logs.String(), "failing INIT") || !strings.Contains(logs.String(), "class=configuration") {
					t.Errorf("no log line says INIT failed: %q", logs.String())
				}
				return
			}
			if f.exited != -1 || f.started != any(h) {
				t.Fatalf("exited %d, started %v; want h started", f.exited, f.started)
			}
			// The caller's option, then the SIGTERM callback that closes h.
			if len(f.opts) != 2 || reflect.ValueOf(f.opts[0]).Pointer() != reflect.ValueOf(userOpt).Pointer() {
				t.Errorf("lambda options %v; want the caller's, then Start's", f.opts)
			}
			if tc.warm != nil && !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("a failed check that does not stop the function is not logged: %q", logs.String())
			}
			select {
			case got := <-api.posted:
				t.Errorf("init error posted for a function that started: %v", got)
			default:
			}
		})
	}
}

// Start does not write into the array behind the caller's options when it
// adds its own.
func TestStartKeepsCallersOptions(t *testing.T) {
	t.Parallel()
	h, err := NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *Record[string, string]) error { return nil }, WithInitCheck(0))
	if err != nil {
		t.Fatal(err)
	}
	mine := make([]lambda.Option, 1, 4)
	mine[0] = lambda.WithSetIndent("", " ")
	spare := mine[:2]
	f := newFakeStarter(nil)
	startWith(f.s, h, mine...)
	if spare[1] != nil {
		t.Error("Start wrote its option into the caller's array")
	}
	if len(f.opts) != 2 {
		t.Errorf("%d lambda options; want 2", len(f.opts))
	}
}

// A constructor's error reaches the Runtime API whole, through FailInit,
// and a nil Handler (its error ignored) fails INIT too rather than panic
// on the first invocation.
func TestFailInit(t *testing.T) {
	t.Parallel()
	_, ctorErr := NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *Record[string, string]) error { return nil }, WithConcurrency(0))
	if ctorErr == nil {
		t.Fatal("NewHandler accepted WithConcurrency(0)")
	}
	for _, tc := range []struct {
		name      string
		fail      func(s starter)
		wantMsg   string
		wantClass string
	}{
		{"a constructor's error", func(s starter) { s.initFailed(ctorErr) }, ctorErr.Error(), "configuration"},
		{"a nil Handler", func(s starter) { startWith[string, string](s, nil) }, "nil *Handler", "configuration"},
		{"an error of the function's own", func(s starter) { s.initFailed(errors.New("app: no TABLE_NAME")) },
			"app: no TABLE_NAME", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newRuntimeAPI(t)
			f := newFakeStarter(api)
			tc.fail(f.s)
			if f.exited != 1 || f.started != nil {
				t.Fatalf("exited %d, started %v; want exit 1 without starting", f.exited, f.started)
			}
			got := <-api.posted
			if got["errorType"] != initErrorType || got["header"] != initErrorType ||
				!strings.Contains(got["errorMessage"], tc.wantMsg) {
				t.Errorf("init error posted: %v; want %q", got, tc.wantMsg)
			}
			logs := f.logs.String()
			classOK := !strings.Contains(logs, "class=")
			if tc.wantClass != "" {
				classOK = strings.Contains(logs, "class="+tc.wantClass)
			}
			if !strings.Contains(logs, "failing INIT") || !classOK {
				t.Errorf("log: %q; want the error and class %q", logs, tc.wantClass)
			}
		})
	}
}

// Outside Lambda there is no Runtime API to tell: FailInit logs and exits.
func TestFailInitWithoutRuntimeAPI(t *testing.T) {
	t.Parallel()
	f := newFakeStarter(nil)
	f.s.initFailed(errors.New("app: no TABLE_NAME"))
	if f.exited != 1 || !strings.Contains(f.logs.String(), "app: no TABLE_NAME") {
		t.Fatalf("exited %d, log %q; want exit 1 and the error logged", f.exited, f.logs.String())
	}
	if strings.Contains(f.logs.String(), "cannot report") {
		t.Errorf("tried to report without a Runtime API: %q", f.logs.String())
	}
}

// A Runtime API that refuses the report: the function still exits, and
// says why the report is missing.
func TestFailInitRuntimeAPIRefuses(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	f := newFakeStarter(nil)
	f.s.getenv = func(string) string { return strings.TrimPrefix(srv.URL, "http://") }
	f.s.initFailed(errors.New("app: no TABLE_NAME"))
	if f.exited != 1 || !strings.Contains(f.logs.String(), "HTTP 403") {
		t.Fatalf("exited %d, log %q; want exit 1 and the refusal logged", f.exited, f.logs.String())
	}
}

func TestStartInitCheckSkipped(t *testing.T) {
	t.Parallel()
	p := &warmer{err: Misconfigured(errors.New("bad"))}
	h, err := NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *Record[string, string]) error { return nil }, WithProducer(p), WithInitCheck(0))
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeStarter(nil)
	startWith(f.s, h)
	if f.started == nil || f.exited != -1 || p.calls != 0 {
		t.Errorf("started %v, exited %d after %d checks; want started without a check", f.started, f.exited, p.calls)
	}
}
