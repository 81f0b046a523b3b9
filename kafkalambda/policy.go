package kafkalambda

import "fmt"

type policyKind int

const (
	policyFailBatch policyKind = iota
	policyItemFailures
	policyDeadLetter
)

// FailurePolicy says what the failure of one record does to the
// invocation. A handler has one; FailBatch is the default, and the zero
// FailurePolicy is FailBatch.
type FailurePolicy struct {
	kind  policyKind
	topic string
}

// FailBatch makes any record failure fail the invocation: Invoke stops at
// the first failure and returns an error wrapping ErrBatchFailed and the
// record's *RecordError, and the event source mapping retries the whole
// batch. Records processed before the failure are processed again on the
// retry, so what they sent may be sent twice (at-least-once).
func FailBatch() FailurePolicy { return FailurePolicy{kind: policyFailBatch} }

// ReportItemFailures reports failed records back to an event source mapping
// configured with FunctionResponseTypes ReportBatchItemFailures. Each
// partition stops at its first failed record while the others go on, and
// Invoke returns {"batchItemFailures":[...]} naming, per failed partition,
// the lowest offset the mapping must resume from: the first record that
// failed, or an earlier one whose sends were not acknowledged. Invoke
// returns an error only when the event itself cannot be read.
//
// Use it only with a mapping that reads the response: one without
// ReportBatchItemFailures ignores it and treats the batch as done, so the
// failed records would be skipped. (AWS documents partial batch responses
// for Kafka event source mappings in provisioned mode.)
func ReportItemFailures() FailurePolicy { return FailurePolicy{kind: policyItemFailures} }

// DeadLetter writes each failed record, as it came (raw key, value and
// headers), to topic through the handler's producer (WithProducer is
// required), with headers naming the error and where the record came from
// (HeaderError, HeaderErrorStage, HeaderSourceTopic, HeaderSourcePartition,
// HeaderSourceOffset), and goes on with the next record. A failure that is
// not the record's fault (IsTransient: the registry or the brokers
// unavailable, the deadline, an error marked with Transient) is not
// dead-lettered: it fails the invocation, and the batch is retried. The dead-letter
// write is covered by the flush at the end of the invocation like any other
// send: if it is not acknowledged, the invocation fails and the batch is
// retried, so a record is never dropped.
func DeadLetter(topic string) FailurePolicy {
	return FailurePolicy{kind: policyDeadLetter, topic: topic}
}

func (p FailurePolicy) String() string {
	switch p.kind {
	case policyItemFailures:
		return "ReportItemFailures"
	case policyDeadLetter:
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
