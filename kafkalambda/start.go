package kafkalambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// Start runs h as the function's handler with aws-lambda-go's
// lambda.StartWithOptions, passing opts on, and does not return (like
// lambda.Start and lambdaurl.Start):
//
//	h, err := kafkalambda.NewHandler(serde.String(), trades, process, kafkalambda.WithProducer(producer))
//	if err != nil {
//		kafkalambda.FailInit(err)
//	}
//	kafkalambda.Start(h)
//
// Before the first invocation Start checks h (Handler.Check, bounded by
// the handler's WithInitCheck: 5s by default, 0 skips it). It enables
// SIGTERM delivery (lambda.WithEnableSIGTERM) with h.Close, so that the
// handler's producer is flushed and closed when the execution environment
// shuts down; callbacks passed in opts with lambda.WithEnableSIGTERM run
// first.
//
// # Fail fast at INIT
//
// A misconfigured function fails its INIT phase instead of every record
// later. When the check fails through the operator's fault
// (ClassConfiguration: the secret missing, unreadable or malformed,
// producer properties the client rejects), Start does what FailInit does:
// it logs the error (with h's logger), reports it to the Lambda Runtime
// API as the initialization error and exits, so that the function's logs
// and the result of every invocation say what is wrong. A check that fails
// through the environment's fault (the secret source throttling or down)
// is logged at WARN and does not stop the function: the first invocation
// tries again.
//
// A nil h is a programming error (NewHandler's error was not checked):
// Start fails INIT with an error wrapping ErrInvalidOption that says so.
// Check the constructor's error and pass it to FailInit instead, so that
// the INIT error says what was wrong.
func Start[K, V any](h *Handler[K, V], opts ...lambda.Option) {
	startWith(newStarter(), h, opts...)
}

// FailInit fails the function's INIT phase with err and does not return.
// It is for main, when something the handler needs cannot be made: an
// error from NewHandler, from the producer's constructor, from reading the
// function's configuration. It logs err at ERROR to stderr (LambdaLogger,
// in the format Lambda's advanced logging controls ask for), reports it to
// the Lambda Runtime API as the initialization error — errorMessage
// err.Error(), errorType "Kafkalambda.InitError" — and exits with status
// 1. Lambda answers the invocation that started the execution environment
// with that error, and tries INIT again for the next one, so that every
// invocation fails with the cause until the function is fixed (where
// os.Exit alone would give only Runtime.ExitError). Outside Lambda (no
// AWS_LAMBDA_RUNTIME_API) it logs and exits.
func FailInit(err error) {
	if err == nil {
		err = errors.New("kafkalambda: FailInit called with a nil error")
	}
	newStarter().initFailed(err)
}

// Check does, before the first invocation, what the first invocation would
// otherwise find out: with a producer that is a Warmer, it warms it — for
// librdkafka.Producer, that calls its config func (reading and mapping the
// secret) and creates the librdkafka producer, which rejects unknown or
// invalid properties; it does not wait for the brokers. In exactly-once
// mode it begins no transaction: a transaction belongs to an input
// partition (TxnOwner), which INIT does not know; the brokers refusing the
// transactional ids fail the first invocation, as the operator's fault.
// Start calls it; call it yourself when you start the handler some
// other way. The error's class (Classify) says whether the configuration
// is wrong.
func (h *Handler[K, V]) Check(ctx context.Context) error {
	return h.eng.check(ctx)
}

func (e *engine) check(ctx context.Context) error {
	if w, ok := e.cfg.producer.(Warmer); ok {
		if err := w.Warm(ctx); err != nil {
			return fmt.Errorf("kafkalambda: init check: %w", err)
		}
	}
	return nil
}

// starter is the environment of Start and FailInit, apart so that tests
// can run them.
type starter struct {
	getenv func(string) string
	exit   func(int)
	start  func(handler any, opts ...lambda.Option)
	logger *slog.Logger
}

// newStarter returns the starter of a real function: the process's
// environment, os.Exit and aws-lambda-go.
func newStarter() starter {
	return starter{getenv: os.Getenv, exit: os.Exit, start: lambda.StartWithOptions,
		logger: LambdaLogger(os.Stderr, os.Getenv)}
}

// startWith is Start in the environment s.
func startWith[K, V any](s starter, h *Handler[K, V], opts ...lambda.Option) {
	if h == nil {
		s.initFailed(fmt.Errorf("kafkalambda: %w: Start was given a nil *Handler (check NewHandler's error; FailInit reports it)",
			ErrInvalidOption))
		return
	}
	s.run(h, h.eng, opts)
}

type closer interface {
	lambda.Handler
	Close()
}

// run checks e, then starts h with opts and the SIGTERM callback, or fails
// INIT when the check finds the configuration wrong.
func (s starter) run(h closer, e *engine, opts []lambda.Option) {
	if d := e.cfg.initCheck; d > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		err := e.check(ctx)
		cancel()
		switch {
		case err == nil:
		case Classify(err) == ClassConfiguration:
			s.logger = e.cfg.logger
			s.initFailed(err)
			return
		default:
			e.cfg.logger.Warn("kafkalambda: init check failed; the first invocation tries again",
				"class", string(Classify(err)), "error", err.Error())
		}
	}
	// A copy: appending must not write into the caller's array.
	s.start(h, append(opts[:len(opts):len(opts)], lambda.WithEnableSIGTERM(h.Close))...)
}

// initErrorType is the errorType Start and FailInit report to the Runtime
// API.
const initErrorType = "Kafkalambda.InitError"

// initFailed logs err and reports it as the function's initialization
// error to the Runtime API (when there is one), then exits with status 1.
func (s starter) initFailed(err error) {
	attrs := []any{"error", err.Error()}
	// An error that says nothing of its class is "record" to Classify,
	// which means nothing at INIT: only a class that was said is logged.
	if c := Classify(err); c != ClassRecord {
		attrs = append(attrs, "class", string(c))
	}
	s.logger.Error("kafkalambda: failing INIT", attrs...)
	if api := s.getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		if rerr := postInitError(api, err); rerr != nil {
			s.logger.Error("kafkalambda: cannot report the init error to the Runtime API", "error", rerr.Error())
		}
	}
	s.exit(1)
}

// postInitError sends err to the Runtime API's init/error endpoint.
func postInitError(api string, err error) error {
	body, merr := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{err.Error(), initErrorType})
	if merr != nil {
		return fmt.Errorf("kafkalambda: init error body: %w", merr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, rerr := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if rerr != nil {
		return fmt.Errorf("kafkalambda: init error request: %w", rerr)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", initErrorType)
	resp, rerr := http.DefaultClient.Do(req)
	if rerr != nil {
		return fmt.Errorf("kafkalambda: post init error: %w", rerr)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("kafkalambda: post init error: HTTP %d", resp.StatusCode)
	}
	return nil
}
