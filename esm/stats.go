package esm

import (
	"sync/atomic"
	"time"
)

// Outcome is what one invocation came to.
type Outcome string

// Outcomes of an invocation.
const (
	// OutcomeSuccess: the function succeeded (and, with item failures on,
	// reported none).
	OutcomeSuccess Outcome = "success"
	// OutcomePartial: the function reported batch item failures; which
	// records succeeded depends on the ItemFailureModel: those before each
	// reported partition's lowest reported offset (ResumeFromLowest), or
	// every record not reported (RetryListed), and in both the records of
	// partitions not reported.
	OutcomePartial Outcome = "partial"
	// OutcomeFunctionError: the function failed; the whole batch failed.
	OutcomeFunctionError Outcome = "function-error"
	// OutcomeBadResponse: the batch item failures response was malformed
	// or named a record not in the batch; the whole batch failed.
	OutcomeBadResponse Outcome = "bad-response"
	// OutcomeInvokeError: the function could not be invoked; the batch is
	// retried without counting an attempt.
	OutcomeInvokeError Outcome = "invoke-error"
)

// PartitionRange is the part of a batch from one partition.
type PartitionRange struct {
	Topic     string
	Partition int32
	// First and Last are the offsets of the first and last record.
	First, Last int64
	Records     int
}

// BatchResult reports one invocation and what the mapping did about it.
type BatchResult struct {
	// Seq numbers the mapping's calls to the target from 1, each call once
	// whatever its outcome: invoke errors included, so it runs ahead of
	// Stats.Invocations by Stats.InvokeErrors.
	Seq int64
	// Attempt is 1 for a batch's first invocation, 2 for its first retry...
	// Halves of a bisected batch keep their parent's count.
	Attempt    int
	Partitions []PartitionRange
	Records    int
	// PayloadBytes is the size of the event.
	PayloadBytes int
	Duration     time.Duration
	Outcome      Outcome
	// Err is the failure: a *FunctionError, an ErrBadResponse or an
	// ErrInvoke error; nil on success.
	Err       error
	RequestID string

	// Succeeded counts records the function processed: all of them on
	// success, on a partial failure those the ItemFailureModel does not
	// retry.
	Succeeded int
	// Retrying counts records that will be invoked again.
	Retrying int
	// Bisected is set when the failed batch was split in two.
	Bisected bool
	// OnFailure counts records sent to the on-failure destination, and Discarded
	// records dropped without one, because they ran out of retries.
	OnFailure, Discarded int
	// Committed counts records whose offsets the broker acknowledged as
	// committed right after this invocation (it includes records of earlier
	// invocations whose commit had failed).
	Committed int
}

// Stats are counters over the mapping's life; read them with
// (*Mapping).Stats at any time.
type Stats struct {
	// RecordsPolled counts records read from Kafka.
	RecordsPolled int64
	// Invocations counts the calls to the target that reached the function
	// (every outcome but OutcomeInvokeError), and RecordsInvoked the records
	// in them (a record retried three times counts four times). Calls that
	// did not reach it are counted by InvokeErrors only.
	Invocations, RecordsInvoked int64
	// RecordsSucceeded counts records the function processed.
	RecordsSucceeded int64
	// RecordsRetried counts records put back for another invocation after a
	// failed one.
	RecordsRetried int64
	// Bisections counts failed batches split in two.
	Bisections int64
	// RecordsOnFailure counts records the on-failure topic acknowledged or
	// the on-failure folder took;
	// RecordsDiscarded counts records dropped without a destination.
	RecordsOnFailure, RecordsDiscarded int64
	// RecordsCommitted counts handled records (succeeded, sent to the
	// on-failure topic, discarded or filtered out) whose offset commit the broker
	// acknowledged.
	RecordsCommitted int64
	// FunctionErrors, BadResponses and PartialFailures count Invocations by
	// outcome (the rest succeeded); InvokeErrors counts the calls to the
	// target that did not reach the function (OutcomeInvokeError), which
	// Invocations leaves out.
	FunctionErrors, BadResponses, PartialFailures, InvokeErrors int64
	// CommitErrors counts failed offset commits (retried with the next one).
	CommitErrors int64
	// RecordsFiltered counts records that matched no pattern of
	// WithFilterCriteria: not delivered, handled (RecordsCommitted counts
	// them too once committed).
	RecordsFiltered int64
	// SchemaMisses counts records the schema registry integration rejected
	// because the registry did not know their schema id (SCHEMA_NOT_FOUND);
	// SchemaDecodeErrors those whose key or value was not in its wire
	// format or did not decode with its writer schema
	// (DESERIALIZATION_ERROR). Either way the record went to the
	// on-failure topic or was discarded.
	SchemaMisses, SchemaDecodeErrors int64
}

type counters struct {
	polled, invocations, invoked, succeeded, retried, bisections  atomic.Int64
	onFailure, discarded, committed                               atomic.Int64
	functionErrors, badResponses, partialFailures, invokeErrors   atomic.Int64
	commitErrors, schemaMisses, seq, filtered, schemaDecodeErrors atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		RecordsPolled:      c.polled.Load(),
		Invocations:        c.invocations.Load(),
		RecordsInvoked:     c.invoked.Load(),
		RecordsSucceeded:   c.succeeded.Load(),
		RecordsRetried:     c.retried.Load(),
		Bisections:         c.bisections.Load(),
		RecordsOnFailure:   c.onFailure.Load(),
		RecordsDiscarded:   c.discarded.Load(),
		RecordsCommitted:   c.committed.Load(),
		RecordsFiltered:    c.filtered.Load(),
		SchemaDecodeErrors: c.schemaDecodeErrors.Load(),
		FunctionErrors:     c.functionErrors.Load(),
		BadResponses:       c.badResponses.Load(),
		PartialFailures:    c.partialFailures.Load(),
		InvokeErrors:       c.invokeErrors.Load(),
		CommitErrors:       c.commitErrors.Load(),
		SchemaMisses:       c.schemaMisses.Load(),
	}
}
