package kafkalambda

import (
	"context"
	"errors"
	"net"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// FailureClass says whose fault a failure is, which decides what the
// handler does with it. Every failure is exactly one of the three.
//
// The table in the README ("Failure handling") maps every error source —
// the Schema Registry, the brokers, the secret source, the deserializers,
// Process — to its class; a test checks the table against the real
// components so that it cannot drift from the code.
type FailureClass string

// The failure classes.
const (
	// ClassRecord: the record's fault — its bytes do not decode, its schema
	// id is unknown, Process rejected it, an output made from it is too
	// large or invalid. Permanent: retrying the same record fails the same
	// way. A record's failure is what a FailurePolicy handles: fail the
	// batch, report it, or dead-letter it.
	ClassRecord FailureClass = "record"

	// ClassEnvironment: the environment's fault — the registry, the brokers
	// or the secret source down, slow or throttling, the invocation's
	// deadline; also a registry URL answered by something that is not a
	// Schema Registry (a plain 404), which may as well be a proxy's passing
	// fault. Transient: the same record may pass on a retry, so it is
	// never dead-lettered. It fails the invocation (a Lambda function
	// error, counted by the Errors metric; the event source mapping retries
	// the batch) unless WithEnvironmentItemFailures says otherwise.
	ClassEnvironment FailureClass = "environment"

	// ClassConfiguration: the operator's fault — wrong credentials, a
	// secret that is missing or malformed, an output topic that does not
	// exist, a schema the output may not register. Waiting does not help, but the records are good:
	// never dead-lettered; it fails the invocation like an environmental
	// failure, and, where it can be found before the first invocation,
	// fails the function's INIT phase (see Start).
	ClassConfiguration FailureClass = "configuration"
)

// classifier is the convention by which packages that this one may not
// import (secrets) or that sit below it (serde) say which class their
// errors are: an error in the chain with a FailureClass method returning
// "record", "environment" or "configuration" decides. serde.Error and
// secrets.Error implement it.
type classifier interface{ FailureClass() string }

// Classify returns the class of a failure (see FailureClass); "" for a nil
// error. The first error in err's chain (outermost first) that says its
// class decides: one marked with Transient or Misconfigured, a
// *serde.Error, a *secrets.Error, a producer or delivery error that knows
// its cause. Otherwise ErrInvalidOption (the one sentinel every package of
// the module exports under that name, serde's included) and
// ErrNoInvocation are the operator's fault; ErrProducer, ErrUndelivered,
// ErrTransaction (a transaction that could not begin, read its progress
// or commit is never a record's doing), serde.ErrRegistry, a context that
// ended and a network error (net.Error) are the environment's; and anything else — a
// Process error that says nothing, a panic — is the record's.
func Classify(err error) FailureClass {
	if err == nil {
		return ""
	}
	var c classifier
	if errors.As(err, &c) {
		switch cl := FailureClass(c.FailureClass()); cl {
		case ClassRecord, ClassEnvironment, ClassConfiguration:
			return cl
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrInvalidOption), errors.Is(err, ErrNoInvocation):
		return ClassConfiguration
	case errors.Is(err, ErrProducer), errors.Is(err, ErrUndelivered), errors.Is(err, ErrTransaction), errors.Is(err, serde.ErrRegistry),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &ne):
		return ClassEnvironment
	}
	return ClassRecord
}

// classified marks an error with a class; see Transient and Misconfigured.
type classified struct {
	class    FailureClass
	sentinel error
	err      error
}

func (e *classified) Error() string {
	if e.sentinel == nil {
		return e.err.Error()
	}
	return e.sentinel.Error() + ": " + e.err.Error()
}

func (e *classified) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.err}
	}
	return []error{e.sentinel, e.err}
}

func (e *classified) FailureClass() string { return string(e.class) }

// Classified marks err with class c (ClassRecord, ClassEnvironment or
// ClassConfiguration) and sentinel, which errors.Is then matches along
// with err: how a Producer (or another library) says whose fault its
// errors are. A nil sentinel adds none. It returns nil for a nil err.
func Classified(c FailureClass, sentinel, err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: c, sentinel: sentinel, err: err}
}

// Transient marks err as the environment's fault (ClassEnvironment): a
// dependency down or slow, not a bad record. Return Transient(err) from
// Process for such failures, so that the handler retries the batch rather
// than fail or dead-letter a good record. The result matches ErrTransient
// and err with errors.Is. It returns nil for a nil err.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return Classified(ClassEnvironment, ErrTransient, err)
}

// Permanent marks err as the record's fault (ClassRecord): the same record
// fails the same way on every retry. It is what an unmarked Process error
// is taken to be; use it to say so of an error that would otherwise look
// like the environment's (a network error that is in fact a rejection of
// this record), and in a Producer, for a message that can never be
// accepted. The result matches err with errors.Is. It returns nil for a
// nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return Classified(ClassRecord, nil, err)
}

// Misconfigured marks err as the operator's fault (ClassConfiguration):
// a setting is wrong, not the record. Like a transient failure it is never
// dead-lettered and fails the invocation. The result matches
// ErrMisconfigured and err with errors.Is. It returns nil for a nil err.
func Misconfigured(err error) error {
	if err == nil {
		return nil
	}
	return Classified(ClassConfiguration, ErrMisconfigured, err)
}

// IsTransient reports whether a failure is the environment's fault:
// Classify(err) == ClassEnvironment. Such a failure, like a configuration
// failure, is never dead-lettered.
func IsTransient(err error) bool { return Classify(err) == ClassEnvironment }
