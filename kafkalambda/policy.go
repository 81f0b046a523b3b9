package kafkalambda

import (
	"context"
	"fmt"
)

type policyKind int

const (
	policyFailBatch policyKind = iota
	policyItemFailures
	policyDeadLetter
)

// FailurePolicy says what a record's own failure does to the invocation
// (see FailureClass). A handler has one; FailBatch is the default, and the
// zero FailurePolicy is FailBatch.
//
// Whatever the policy, a failure that is not the record's fault (the
// environment's or the operator's) is never dead-lettered and never
// reported as the record's: it fails the invocation — a Lambda function
// error that the Errors metric counts and the event source mapping retries
// — unless WithEnvironmentItemFailures reports it instead.
type FailurePolicy struct {
	kind  policyKind
	topic string
	fn    func(ctx context.Context, f *Failure) error
}

// FailBatch makes any record failure fail the invocation: Invoke stops at
// the first failure and returns an error wrapping ErrBatchFailed and the
// record's *RecordError, and the event source mapping retries the whole
// batch. Records processed before the failure are processed again on the
// retry, so what they sent may be sent twice (at-least-once).
func FailBatch() FailurePolicy { return FailurePolicy{kind: policyFailBatch} }

// ReportItemFailures reports records that failed through their own fault
// back to an event source mapping configured with FunctionResponseTypes
// ReportBatchItemFailures. A partition stops at its first failed record,
// the others go on, and Invoke answers {"batchItemFailures":[...]} naming,
// for each partition that stopped, the record it stopped at and every
// record of the partition after it in the event; a partition whose sends
// were not all acknowledged is named from its earliest record whose sends
// failed. Naming every record left, not only the first, makes the answer
// right under both readings of a partial batch response: a mapping that
// resumes from the lowest offset named, and one that retries exactly the
// records named (AWS documents only that Lambda "retries only the failed
// records").
//
// A failure that is not the record's fault fails the invocation (see
// FailurePolicy); records the invocation had no time for are reported.
//
// Use it only with a mapping that reads the response: one without
// ReportBatchItemFailures ignores it and treats the batch as done, so the
// failed records would be skipped.
func ReportItemFailures() FailurePolicy { return FailurePolicy{kind: policyItemFailures} }

// DeadLetter isolates poison records: each record that failed through its
// own fault is written, as it came (raw key, value and headers), to topic
// through the handler's producer (WithProducer is required), with headers
// naming the error and where the record came from (HeaderError,
// HeaderErrorStage, HeaderSourceTopic, HeaderSourcePartition,
// HeaderSourceOffset), and processing goes on with the next record. A
// failure that is not the record's fault is never dead-lettered: it fails
// the invocation, or with WithEnvironmentItemFailures is reported as with
// ReportItemFailures, so a poison record never drags good ones after it
// into the mapping's on-failure destination.
//
// The dead-letter write is covered by the flush at the end of the
// invocation like any other send: if it is not acknowledged, the
// invocation fails and the batch is retried, so a record is never dropped.
func DeadLetter(topic string) FailurePolicy {
	return FailurePolicy{kind: policyDeadLetter, topic: topic}
}

// DeadLetterFunc is DeadLetter with the destination in the user's hands:
// fn receives each record that failed through its own fault, with the
// reason, and typically sends a typed record of the user's own to a
// dead-letter Output — with the ctx it is given, so that the send is
// covered by the invocation's flush like any other. An error from fn (or
// an unacknowledged send) fails the invocation, so the record is retried,
// never dropped.
func DeadLetterFunc(fn func(ctx context.Context, f *Failure) error) FailurePolicy {
	return FailurePolicy{kind: policyDeadLetter, fn: fn}
}

func (p FailurePolicy) String() string {
	switch p.kind {
	case policyItemFailures:
		return "ReportItemFailures"
	case policyDeadLetter:
		if p.fn != nil {
			return "DeadLetterFunc"
		}
		return fmt.Sprintf("DeadLetter(%q)", p.topic)
	}
	return "FailBatch"
}

// Headers of a dead-lettered record, added after its own.
const (
	HeaderError           = "kafkalambda.error"
	HeaderErrorStage      = "kafkalambda.error.stage"
	HeaderSourceTopic     = "kafkalambda.source.topic"
	HeaderSourcePartition = "kafkalambda.source.partition"
	HeaderSourceOffset    = "kafkalambda.source.offset"
)
