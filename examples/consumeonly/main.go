// Command consumeonly is a Lambda function that only consumes: it reads
// page views from a Kafka topic (JSON values keyed by user id), checks
// each and counts the views of each page for as long as its execution
// environment lives. It sends nothing, so it imports no Kafka client and
// is pure Go: on any machine, with no C toolchain,
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -ldflags='-s -w' -o bootstrap .
//
// builds the bootstrap of a provided.al2023 function for Graviton
// (GOARCH=amd64 for x86_64): a static binary of about 11 MB.
//
// # Failures
//
// A view without a page is the record's fault: the handler reports it
// back in the response's batchItemFailures (kafkalambda.ReportItemFailures;
// the event source mapping needs FunctionResponseTypes
// ReportBatchItemFailures), with the records of its partition after it,
// and goes on with the other partitions. A value that is not JSON is
// reported the same way.
//
// # Configuration
//
// PARTITION_CONCURRENCY is how many partitions of an event are processed
// at once (default 1; kafkalambda.WithConcurrency). A value that is not a
// positive integer fails the function's INIT phase (kafkalambda.FailInit):
// every invocation answers with the error until the setting is fixed.
//
// # Logs
//
// Through kafkalambda.LambdaLogger on stderr, so Lambda's
// AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL apply. Each invocation
// gets the SDK's line with its count of records ("records"), and of
// reported ones ("item_failures"): at WARN when it reported records, at
// DEBUG when all of them were counted (set the log level to DEBUG to see
// those). On shutdown (SIGTERM) the function logs, at INFO, the views per
// page that this execution environment counted. No line holds a user id.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// EnvConcurrency names the setting of kafkalambda.WithConcurrency.
const EnvConcurrency = "PARTITION_CONCURRENCY"

// View is the value of a page-view record.
type View struct {
	Page string `json:"page"`
	User string `json:"user"`
}

// errNoPage is the failure of a view without a page.
var errNoPage = errors.New("consumeonly: a view without a page")

// counter counts views per page. It is safe for concurrent use: Process
// runs for several partitions at once when PARTITION_CONCURRENCY > 1.
type counter struct {
	mu    sync.Mutex
	pages map[string]int
}

// process counts r's view. A tombstone (null value) is no view and is
// skipped; a view without a page is an error: the record's fault.
func (c *counter) process(_ context.Context, r *kafkalambda.Record[string, View]) error {
	if r.IsTombstone() {
		return nil
	}
	if r.Value.Page == "" {
		return errNoPage
	}
	c.mu.Lock()
	c.pages[r.Value.Page]++
	c.mu.Unlock()
	return nil
}

// snapshot returns a copy of the counts.
func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.pages)
}

// newHandler returns the function's handler and its counter, configured
// from getenv (os.Getenv in Lambda). A bad PARTITION_CONCURRENCY is an
// error.
func newHandler(getenv func(string) string, logger *slog.Logger) (*kafkalambda.Handler[string, View], *counter, error) {
	concurrency := 1
	if v := getenv(EnvConcurrency); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, nil, fmt.Errorf("consumeonly: %s=%q: %w", EnvConcurrency, v, err)
		}
		concurrency = n
	}
	c := &counter{pages: map[string]int{}}
	h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[View](), c.process,
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()),
		kafkalambda.WithConcurrency(concurrency), // rejects n < 1
		kafkalambda.WithLogger(logger))
	if err != nil {
		return nil, nil, fmt.Errorf("consumeonly: %s=%q: %w", EnvConcurrency, getenv(EnvConcurrency), err)
	}
	return h, c, nil
}

func main() {
	logger := kafkalambda.LambdaLogger(os.Stderr, os.Getenv)
	h, views, err := newHandler(os.Getenv, logger)
	if err != nil {
		kafkalambda.FailInit(err)
	}
	kafkalambda.Start(h, lambda.WithEnableSIGTERM(func() {
		logger.Info("consumeonly: views per page", "pages", views.snapshot())
	}))
}
