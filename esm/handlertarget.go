package esm

import (
	"context"
	"errors"
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
//
// A handler that is still running when Timeout passes has timed out: the
// invocation is a function error, "Task timed out after N.NN seconds"
// (errorType "Sandbox.Timedout"), whatever the handler returns then, and
// the mapping retries it as any function error, as under the emulator. A
// goroutine cannot be killed as Lambda kills a sandbox: Invoke waits for
// the handler to return, which a handler that heeds its context does once
// the deadline passes.
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
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res = Result{RequestID: newRequestID(), StatusCode: 200, ExecutedVersion: "$LATEST"}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: res.RequestID, InvokedFunctionArn: arn})
	defer func() {
		if v := recover(); v != nil {
			res.FunctionError = "Unhandled"
			res.Payload = errorDocument(fmt.Sprint(v), "panic", debug.Stack())
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
			res.FunctionError = "Unhandled"
			res.Payload = errorDocument(timedOut(timeout), "Sandbox.Timedout", nil)
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

// timedOut is the text Lambda reports for an invocation that ran out of
// its timeout.
func timedOut(timeout time.Duration) string {
	return fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())
}

func errorTypeOf(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
