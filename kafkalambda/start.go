package kafkalambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Start makes a Handler with NewHandler, checks it (Handler.Check, bounded
// by WithInitCheck: 5s by default, 0 skips it) and runs it with
// aws-lambda-go's lambda.StartWithOptions, passing the lambda.Options given
// with WithLambdaOptions. It enables SIGTERM delivery
// (lambda.WithEnableSIGTERM) so that the handler's producer is flushed and
// closed when the execution environment shuts down. Like lambda.Start, it
// does not return.
//
// # Fail fast at INIT
//
// A misconfigured function fails its INIT phase instead of every record
// later: when NewHandler fails, or the check fails through the operator's
// fault (ClassConfiguration: the secret missing, unreadable or malformed,
// producer properties librdkafka rejects), Start logs the error, reports
// it to the Lambda Runtime API as an initialization error and exits, so
// that the function's logs and every invocation's result say what is
// wrong. A check that fails through the environment's fault (the secret
// source throttling or down) is logged at WARN and does not stop the
// function: the first invocation tries again.
func Start[K, V any](keys serde.Deserializer[K], values serde.Deserializer[V],
	process func(ctx context.Context, r *Record[K, V]) error, opts ...Option) {
	h, err := NewHandler(keys, values, process, opts...)
	s := starter{getenv: os.Getenv, exit: os.Exit, start: lambda.StartWithOptions,
		logger: LambdaLogger(os.Stderr, os.Getenv)}
	if err != nil {
		s.initFailed(err)
		return
	}
	s.run(h, h.eng)
}

// Check does, before the first invocation, what the first invocation would
// otherwise find out: with a producer that is a Warmer, it warms it — for
// librdkafka.Producer, that calls its config func (reading and mapping the
// secret) and creates the librdkafka producer, which rejects unknown or
// invalid properties; it does not wait for the brokers. Start calls it;
// call it yourself when you start the handler some other way. The error's
// class (Classify) says whether the configuration is wrong.
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

// starter is Start's environment, apart so that tests can run it.
type starter struct {
	getenv func(string) string
	exit   func(int)
	start  func(handler any, opts ...lambda.Option)
	logger *slog.Logger
}

type closer interface {
	lambda.Handler
	Close()
}

func (s starter) run(h closer, e *engine) {
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
	lambdaOpts := append(e.cfg.lambdaOpts[:len(e.cfg.lambdaOpts):len(e.cfg.lambdaOpts)],
		lambda.WithEnableSIGTERM(h.Close))
	s.start(h, lambdaOpts...)
}

// initErrorType is the errorType Start reports to the Runtime API.
const initErrorType = "Kafkalambda.ConfigurationError"

// initFailed logs err and reports it as the function's initialization
// error to the Runtime API (when there is one), then exits.
func (s starter) initFailed(err error) {
	s.logger.Error("kafkalambda: function misconfigured; failing INIT", "class", string(Classify(err)),
		"error", err.Error())
	if api := s.getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		if rerr := postInitError(api, err); rerr != nil {
			s.logger.Error("kafkalambda: cannot report the init error to the Runtime API", "error", rerr.Error())
		}
	}
	s.exit(1)
}

// postInitError sends err to the Runtime API's init/error endpoint.
func postInitError(api string, err error) error {
	body, _ := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{err.Error(), initErrorType})
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
