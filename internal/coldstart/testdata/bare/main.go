// Command bare is the baseline of the cold start benchmark: the smallest
// aws-lambda-go function, answering every invocation at once.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, event json.RawMessage) (string, error) {
		return "ok", nil
	})
}
