package esm

import (
	"errors"
	"strings"

	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
)

// Errors that errors.Is matches. Every error this package returns is
// prefixed "esm:" and wraps one of them or the cause it reports.
var (
	// ErrInvalidOption: New or NewEndpointTarget was given a Config, Option
	// or argument it cannot use; the message, "esm: invalid option: ...",
	// lists every problem. It is the same sentinel as
	// kafkalambda.ErrInvalidOption, which every package of the module
	// exports under this name.
	ErrInvalidOption = invalid.ErrOption

	// ErrAlreadyRun: Run was called on a Mapping that has already run. A
	// Mapping runs once; make a new one to run again.
	ErrAlreadyRun = errors.New("esm: mapping already run")

	// ErrInvoke: the target could not be invoked at all (connection
	// refused, throttled, unknown function). Such a batch is retried
	// without counting against MaximumRetryAttempts, as AWS does for
	// errors before invocation.
	ErrInvoke = errors.New("esm: invoke")

	// ErrFunction: the function ran and failed. The error is a
	// *FunctionError.
	ErrFunction = errors.New("esm: function error")

	// ErrBadResponse: with ReportBatchItemFailures, the function's response
	// was not a valid batch item failures document, or named a record that
	// was not in the batch. AWS treats this as a failure of the whole batch,
	// and so does this package.
	ErrBadResponse = errors.New("esm: invalid batchItemFailures response")

	// ErrKafka: the Kafka client failed in a way that stops the mapping
	// (authentication or authorization failures).
	ErrKafka = errors.New("esm: kafka")
)

// FunctionError is an invocation in which the function ran and failed: the
// Invoke API answered with X-Amz-Function-Error, or an in-process handler
// returned an error or panicked. errors.Is(err, ErrFunction) holds for it.
type FunctionError struct {
	// Kind is the X-Amz-Function-Error value: "Unhandled" or "Handled".
	Kind string
	// Type and Message are the errorType and errorMessage of the function's
	// error document, when it has one.
	Type, Message string
}

func (e *FunctionError) Error() string {
	var b strings.Builder
	b.WriteString("esm: function error (")
	b.WriteString(e.Kind)
	b.WriteString(")")
	if e.Type != "" {
		b.WriteString(" ")
		b.WriteString(e.Type)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether target is ErrFunction.
func (e *FunctionError) Is(target error) bool { return target == ErrFunction }
