// Command tradesettle is the trade settlement Lambda function: it settles
// the trades of the user_trades topic and writes the settlements to
// trade-settlements (see package app for what it does, and the README for
// how to build, deploy and run it locally).
//
// main only wires: the secret, the shared producer and the handler (all in
// app.Wire, which the local pipeline runs too), then kafkalambda.Start,
// which closes the producer when Lambda sends SIGTERM.
package main

import (
	"context"
	"os"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

func main() {
	// Lambda's advanced logging controls (AWS_LAMBDA_LOG_FORMAT, _LEVEL)
	// set the format and level of every line: the handler's failure lines,
	// the producer's and the secret loader's.
	logger := kafkalambda.LambdaLogger(os.Stderr, os.Getenv)
	fn, err := app.Wire(context.Background(), app.WithLogger(logger))
	if err != nil {
		// Lambda reports the exit as Runtime.ExitError with this line in
		// the function's log, and retries the initialisation on the next
		// invocation.
		logger.Error("tradesettle: cannot start", "err", err)
		os.Exit(1)
	}
	kafkalambda.Start(fn.Keys(), fn.Values(), fn.Process, fn.Options()...)
}
