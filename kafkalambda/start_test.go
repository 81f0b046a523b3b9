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

func (w *warmer) Produce(context.Context, *Message, func(error)) error { return ErrProducer }
func (w *warmer) Purge()                                               {}
func (w *warmer) Close()                                               {}
func (w *warmer) Warm(context.Context) error                           { w.calls++; return w.err }

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
			exited, started := -1, false
			s := starter{
				getenv: func(k string) string {
					if k == "AWS_LAMBDA_RUNTIME_API" {
						return api.addr()
					}
					return ""
				},
				exit:   func(code int) { exited = code },
				start:  func(any, ...lambda.Option) { started = true },
				logger: slog.New(slog.DiscardHandler),
			}
			s.run(h, h.eng)
			if tc.wantFail {
				if exited != 1 || started {
					t.Fatalf("exited %d, started %v; want exit 1 before starting", exited, started)
				}
				got := <-api.posted
				if got["errorType"] != initErrorType || got["header"] != initErrorType ||
					!strings.Contains(got["errorMessage"], "init check") {
					t.Errorf("init error posted: %v", got)
				}
				if !strings.Contains(logs.String(), "failing INIT") {
					t.Errorf("no log line says INIT failed: %q", logs.String())
				}
				return
			}
			if exited != -1 || !started {
				t.Fatalf("exited %d, started %v; want started", exited, started)
			}
		})
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
	started := false
	starter{getenv: func(string) string { return "" }, exit: func(int) { t.Error("exit") },
		start: func(any, ...lambda.Option) { started = true }, logger: slog.New(slog.DiscardHandler)}.run(h, h.eng)
	if !started || p.calls != 0 {
		t.Errorf("started %v after %d checks; want started without a check", started, p.calls)
	}
}
