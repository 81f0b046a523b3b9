package esm

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// HandlerTarget invokes a function in the same process, as the Lambda
// runtime would: the context carries a deadline (Timeout) and a
// lambdacontext with a fresh request id and FunctionARN. An error returned
// by the handler, or a panic, is a function error ("Unhandled") with the
// error document the runtime writes ({"errorMessage", "errorType"}).
type HandlerTarget struct {
	// Handler is the function: aws-lambda-go's lambda.Handler, which
	// kafkalambda's *Handler implements, as do lambda.NewHandler's.
	Handler lambda.Handler
	// Timeout is the function timeout (default 60 s).
	Timeout time.Duration
	// FunctionARN is the InvokedFunctionArn of the lambdacontext (default
	// DefaultFunctionARN).
	FunctionARN string
}

var _ Target = (*HandlerTarget)(nil)

// Invoke calls the handler. It never returns an error: whatever the handler
// does is the function's outcome.
func (t *HandlerTarget) Invoke(ctx context.Context, payload []byte) (res Result, _ error) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	arn := t.FunctionARN
	if arn == "" {
		arn = DefaultFunctionARN
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res = Result{RequestID: newRequestID(), StatusCode: 200, ExecutedVersion: "$LATEST"}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: res.RequestID, InvokedFunctionArn: arn})
	defer func() {
		if v := recover(); v != nil {
			res.FunctionError = "Unhandled"
			res.Payload = errorDocument(fmt.Sprint(v), "panic", debug.Stack())
		}
	}()
	out, err := t.Handler.Invoke(ctx, payload)
	if err != nil {
		res.FunctionError = "Unhandled"
		res.Payload = errorDocument(err.Error(), errorTypeOf(err), nil)
		return res, nil
	}
	res.Payload = out
	return res, nil
}

func errorTypeOf(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
