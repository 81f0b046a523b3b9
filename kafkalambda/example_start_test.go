package kafkalambda_test

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// The main of a function: construction errors go to FailInit, which fails
// the function's INIT phase with them; Start runs the handler and does not
// return. (Not run here: it would wait for the Lambda Runtime API.)
func ExampleStart() {
	type order struct {
		ID  string `json:"id"`
		Qty int    `json:"qty"`
	}
	logger := kafkalambda.LambdaLogger(os.Stderr, os.Getenv)
	h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[order](),
		func(ctx context.Context, r *kafkalambda.Record[string, order]) error {
			if r.Value.Qty <= 0 {
				return errors.New("orders: quantity must be positive") // reported as an item failure
			}
			return nil
		},
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()),
		kafkalambda.WithLogger(logger))
	if err != nil {
		kafkalambda.FailInit(err)
	}
	// lambda.Options go to Start, which hands them to aws-lambda-go.
	kafkalambda.Start(h, lambda.WithEnableSIGTERM(func() { logger.Info("shutting down") }))
}
