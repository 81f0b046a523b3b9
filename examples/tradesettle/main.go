// Command tradesettle is the trade settlement Lambda function: it settles
// the trades of the user_trades topic and writes the settlements to
// trade-settlements (see package app for what it does, and the README for
// how to build, deploy and run it locally).
//
// main only wires: the secret, the shared producer and the function (all
// in app.Wire, which the local pipeline runs too), tracing and metrics
// from the environment (telemetry.go), then kafkalambda.Start
// with the function's handler, which closes the producer when Lambda sends
// SIGTERM. During INIT it warms the registry (app.Function.Warm) in the
// background while Start creates the producer.
package main

import (
	"context"
	"os"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// warmTimeout bounds the registry's warm-up at INIT (see main).
const warmTimeout = 10 * time.Second

func main() {
	// Lambda's advanced logging controls (AWS_LAMBDA_LOG_FORMAT, _LEVEL)
	// set the format and level of every line: the handler's failure lines,
	// the producer's and the secret loader's.
	logger := kafkalambda.LambdaLogger(os.Stderr, os.Getenv)
	fn, err := app.Wire(context.Background(), app.WithLogger(logger))
	if err != nil {
		// A missing or wrong setting: INIT fails with the error, which
		// Lambda returns as the result of every invocation until it is
		// fixed (and logs), instead of a bare Runtime.ExitError.
		kafkalambda.FailInit(err)
	}
	// Tracing (OpenTelemetry over OTLP, when an OTEL_EXPORTER_OTLP_*
	// endpoint is set) and metrics (CloudWatch EMF on stdout).
	tel, err := telemetry(context.Background(), os.Getenv)
	if err != nil {
		kafkalambda.FailInit(err)
	}
	h, err := fn.Handler(tel...)
	if err != nil {
		kafkalambda.FailInit(err)
	}
	// The registry client and the settlement schema's id, in the
	// background while Start's check reads the secret (the two share the
	// read) and creates the producer: a cold start's first record then
	// waits for neither. A failure here is the first record's to report.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), warmTimeout)
		defer cancel()
		if err := fn.Warm(ctx); err != nil {
			logger.Debug("tradesettle: registry not warmed ahead of the first record", "error", err.Error())
		}
	}()
	kafkalambda.Start(h)
}
