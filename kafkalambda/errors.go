package kafkalambda

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
)

// Errors that errors.Is matches. Every error this package returns wraps one
// of them, or a caller's own error (Process's, a deserializer's) with the
// record it came from.
var (
	// ErrMalformedEvent: the invocation payload is not a Kafka event this
	// package can read. The error is a *ParseError saying where it broke.
	ErrMalformedEvent = errors.New("kafkalambda: malformed event")

	// ErrDeserialize: a key or value could not be deserialized. The error
	// is a *RecordError whose cause is the deserializer's error.
	ErrDeserialize = errors.New("kafkalambda: deserialize")

	// ErrPanic: Process or a deserializer panicked. The error is a
	// *RecordError whose cause is a *PanicError with the stack.
	ErrPanic = errors.New("kafkalambda: panic")

	// ErrBatchFailed: the invocation failed as a whole, under FailBatch or
	// DeadLetter (a failure that is not the record's fault, or a dead-letter
	// write that failed); the event source mapping retries the whole batch.
	// It wraps the first record's error, or the first unacknowledged send
	// when no record failed.
	ErrBatchFailed = errors.New("kafkalambda: batch failed")

	// ErrUndelivered: a record sent during the invocation was not
	// acknowledged by the brokers (delivery failed, or still unacknowledged
	// at the flush deadline and purged).
	ErrUndelivered = errors.New("kafkalambda: undelivered")

	// ErrProducer: the shared producer could not be created or has failed
	// fatally. It is rebuilt on next use.
	ErrProducer = errors.New("kafkalambda: producer")

	// ErrInvalidOption: NewHandler, an Option, Start or an Output was given
	// an option or argument it cannot use (the error that wraps it says
	// which, prefixed "kafkalambda: "). It is one value across the module:
	// librdkafka, kafkalambdatest, serde, secrets and esm export this same
	// sentinel under the same name, so errors.Is(err, ErrInvalidOption)
	// holds for a configuration error of any of them. Its class is
	// ClassConfiguration.
	ErrInvalidOption = invalid.ErrOption

	// ErrTransient marks a failure that is the environment's fault and may
	// pass on a retry (see Transient and ClassEnvironment).
	ErrTransient = errors.New("kafkalambda: transient failure")

	// ErrMisconfigured marks a failure that is the operator's fault (see
	// Misconfigured and ClassConfiguration).
	ErrMisconfigured = errors.New("kafkalambda: misconfigured")
)

// ParseError reports where ParseEvent found the payload malformed.
// errors.Is(err, ErrMalformedEvent) holds for every *ParseError.
type ParseError struct {
	// Offset is the byte offset in the payload where the problem was found.
	Offset int
	// Path locates the value, e.g. `records["orders-3"][12].key`; empty at
	// the top level.
	Path string
	// Err is the cause.
	Err error
}

func (e *ParseError) Error() string {
	s := "kafkalambda: malformed event at byte " + strconv.Itoa(e.Offset)
	if e.Path != "" {
		s += " (" + e.Path + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformedEvent.
func (e *ParseError) Is(target error) bool { return target == ErrMalformedEvent }

// Stage says which step of handling a record failed.
type Stage string

// The stages of handling a record.
const (
	StageKey     Stage = "deserialize key"
	StageValue   Stage = "deserialize value"
	StageProcess Stage = "process"
	StageSend    Stage = "send"
)

// RecordError is the failure of one record: where it was, which stage
// failed, and why. errors.Is and errors.As see through it to the cause.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	// SchemaID is the input record's schema id the failure concerns: the
	// one the event source mapping gave for the key or value that failed to
	// deserialize, else the one a deserializer's *serde.Error names; empty
	// when neither has one. An output's schema id (a serializer's failure
	// in Output.Send) is never put here: the serializer's error names it.
	SchemaID string
	Stage    Stage
	Err      error
}

func (e *RecordError) Error() string {
	s := "kafkalambda: " + string(e.Stage) + " " + e.Topic + "-" +
		strconv.FormatInt(int64(e.Partition), 10) + "@" + strconv.FormatInt(e.Offset, 10)
	if e.SchemaID != "" {
		s += " (schema id " + e.SchemaID + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// sendError is the failure of Output.Send (or SendTombstone): a record
// whose Process returns it failed at StageSend.
type sendError struct {
	topic string
	err   error
}

func (e *sendError) Error() string { return "kafkalambda: send to " + e.topic + ": " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// Is makes a key or value failure match ErrDeserialize.
func (e *RecordError) Is(target error) bool {
	return target == ErrDeserialize && (e.Stage == StageKey || e.Stage == StageValue)
}

// PanicError is a recovered panic. errors.Is(err, ErrPanic) holds for it.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("kafkalambda: panic: %v\n%s", e.Value, e.Stack)
}

// Unwrap returns Value when it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Is reports whether target is ErrPanic.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }
