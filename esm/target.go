package esm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Target is the function a Mapping invokes, once per batch, with the event
// JSON as payload.
//
// Invoke returns the function's answer in Result, including a function
// error (the function ran and failed: Result.FunctionError is set). It
// returns an error only when the function could not be invoked at all; the
// mapping then retries the same payload after a backoff without counting an
// attempt.
//
// Invoke must be safe for concurrent use: each invoker of the mapping calls
// it on its own goroutine, and by default (WithConcurrency(0)) every
// assigned partition has an invoker of its own; WithConcurrency(n) bounds
// the calls in flight to n.
type Target interface {
	Invoke(ctx context.Context, payload []byte) (Result, error)
}

// Result is what one invocation returned.
type Result struct {
	// Payload is the function's response (or its error document).
	Payload []byte
	// FunctionError is the X-Amz-Function-Error value, "Unhandled" or
	// "Handled", when the function failed; empty when it succeeded.
	FunctionError string
	// RequestID identifies the invocation (x-amzn-RequestId).
	RequestID string
	// StatusCode and ExecutedVersion are as the Invoke API reports them.
	StatusCode      int
	ExecutedVersion string
}

func errorDocument(msg, typ string, stack []byte) []byte {
	doc := map[string]any{"errorMessage": msg, "errorType": typ}
	if stack != nil {
		doc["stackTrace"] = string(stack)
	}
	b, _ := json.Marshal(doc)
	return b
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// InvokeAPI is the Lambda Invoke call; *lambda.Client satisfies it.
type InvokeAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ InvokeAPI = (*lambda.Client)(nil)

// InvokeTarget invokes a function through the Lambda Invoke API
// (RequestResponse): AWS itself, the Runtime Interface Emulator, or
// `sam local start-lambda`. Build it with NewInvokeTarget or
// NewEndpointTarget.
//
// A response with X-Amz-Function-Error is a function error. The emulator
// drops that header, so a response without it is also a function error when
// its payload is an error document (a JSON object with errorMessage or
// errorType and no batchItemFailures) or the emulator's "Task timed out"
// text, and an HTTP 502 (the runtime exited) is one too. Other errors from
// the client are invoke errors.
type InvokeTarget struct {
	client    InvokeAPI
	function  string
	qualifier string
	sem       chan struct{}
}

var _ Target = (*InvokeTarget)(nil)

// InvokeOption configures an InvokeTarget.
type InvokeOption func(*InvokeTarget)

// WithFunctionName sets the function to invoke (default "function", the
// only name the Runtime Interface Emulator serves; for sam local, the
// function's logical id in the template).
func WithFunctionName(name string) InvokeOption {
	return func(t *InvokeTarget) { t.function = name }
}

// WithQualifier sets the version or alias to invoke (default none).
func WithQualifier(q string) InvokeOption {
	return func(t *InvokeTarget) { t.qualifier = q }
}

// WithInvokeConcurrency bounds the Invoke calls in flight (default 1: the
// Runtime Interface Emulator runs one invocation at a time and refuses a
// second). 0 means no bound.
func WithInvokeConcurrency(n int) InvokeOption {
	return func(t *InvokeTarget) {
		t.sem = nil
		if n > 0 {
			t.sem = make(chan struct{}, n)
		}
	}
}

// NewInvokeTarget returns a Target that invokes through client.
func NewInvokeTarget(client InvokeAPI, opts ...InvokeOption) *InvokeTarget {
	t := &InvokeTarget{client: client, function: "function", sem: make(chan struct{}, 1)}
	for _, o := range opts {
		if o != nil {
			o(t)
		}
	}
	return t
}

// NewEndpointTarget returns a Target that invokes the Invoke API at endpoint,
// e.g. "http://127.0.0.1:9000" for the Runtime Interface Emulator (which
// serves /2015-03-31/functions/function/invocations) or
// "http://127.0.0.1:3001" for `sam local start-lambda`. Requests are unsigned
// (neither checks signatures), the region is us-east-1, and the SDK does not
// retry: the mapping does, and an SDK retry would invoke the function again
// behind its back.
func NewEndpointTarget(endpoint string, opts ...InvokeOption) (*InvokeTarget, error) {
	if endpoint == "" {
		return nil, fmt.Errorf("esm: %w: empty endpoint", ErrInvalidOption)
	}
	client := lambda.New(lambda.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{},
	})
	return NewInvokeTarget(client, opts...), nil
}

// Invoke calls the Invoke API once.
func (t *InvokeTarget) Invoke(ctx context.Context, payload []byte) (Result, error) {
	if t.sem != nil {
		select {
		case t.sem <- struct{}{}:
			defer func() { <-t.sem }()
		case <-ctx.Done():
			return Result{}, fmt.Errorf("%w: %w", ErrInvoke, ctx.Err())
		}
	}
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(t.function),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	}
	if t.qualifier != "" {
		in.Qualifier = aws.String(t.qualifier)
	}
	// The emulator takes the invocation's id from this header (and does
	// not send one back): the function's logs and the mapping's then agree.
	id := newRequestID()
	out, err := t.client.Invoke(ctx, in, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("X-Amzn-RequestId", id))
	})
	if err != nil {
		var status interface{ HTTPStatusCode() int }
		if errors.As(err, &status) && status.HTTPStatusCode() == 502 {
			return Result{StatusCode: 502, FunctionError: "Unhandled", Payload: errorDocument(err.Error(), "Runtime.ExitError", nil)}, nil
		}
		return Result{}, fmt.Errorf("%w: %s: %w", ErrInvoke, t.function, err)
	}
	res := Result{
		RequestID:       id,
		Payload:         out.Payload,
		FunctionError:   aws.ToString(out.FunctionError),
		StatusCode:      int(out.StatusCode),
		ExecutedVersion: aws.ToString(out.ExecutedVersion),
	}
	if id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); ok {
		res.RequestID = id
	}
	if res.FunctionError == "" && looksLikeError(res.Payload) {
		res.FunctionError = "Unhandled"
	}
	return res, nil
}

// looksLikeError reports whether a response that came without
// X-Amz-Function-Error is an error all the same (see InvokeTarget).
func looksLikeError(p []byte) bool {
	p = bytes.TrimSpace(p)
	if bytes.HasPrefix(p, []byte("Task timed out after")) {
		return true
	}
	if len(p) == 0 || p[0] != '{' {
		return false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(p, &doc) != nil {
		return false
	}
	if _, ok := doc["batchItemFailures"]; ok {
		return false
	}
	_, msg := doc["errorMessage"]
	_, typ := doc["errorType"]
	return msg || typ
}

// functionError builds the error for a failed invocation from its result.
func functionError(res Result) *FunctionError {
	fe := &FunctionError{Kind: res.FunctionError}
	var doc struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal(res.Payload, &doc) == nil {
		fe.Type, fe.Message = doc.Type, doc.Message
	} else if len(res.Payload) > 0 {
		fe.Message = string(res.Payload[:min(len(res.Payload), 200)])
	}
	return fe
}
