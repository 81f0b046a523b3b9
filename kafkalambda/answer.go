package kafkalambda

import (
	"encoding/json"
	"fmt"
)

// ItemFailures is the response of a handler with ReportItemFailures, as
// the event source mapping reads it.
type ItemFailures struct {
	BatchItemFailures []ItemFailure `json:"batchItemFailures"`
}

// ItemFailure names one record the event source mapping must retry.
type ItemFailure struct {
	ItemIdentifier ItemIdentifier `json:"itemIdentifier"`
}

// ItemIdentifier is a partition (the event's records map key) and an
// offset.
type ItemIdentifier struct {
	Partition string `json:"partition"`
	Offset    int64  `json:"offset"`
}

// outcome is Invoke's answer and what the outcome log line says of it.
type outcome struct {
	payload []byte
	err     error
	// items is the number of records the response names; partitions, the
	// number of partitions they belong to.
	items, partitions int
}

// answer turns the invocation's outcome into Invoke's result.
//
// The invocation fails as a whole (an error: the event source mapping
// retries the batch) when a record's failure was handled that way, or when
// a send was not acknowledged and the response cannot name its record (not
// itemMode) or the failure is not one a response may report (the
// environment's or the operator's fault without WithEnvironmentItemFailures).
// Otherwise, in itemMode, each partition with a failure is reported from
// its first failed record to its last record in the event; see
// itemFailures.
func (inv *invocation) answer(failures []sendFailure) outcome {
	if inv.firstErr != nil {
		return outcome{err: fmt.Errorf("%w: %w", ErrBatchFailed, inv.firstErr)}
	}
	for _, f := range failures {
		if !inv.itemMode() || (Classify(f.err) != ClassRecord && !inv.eng.cfg.envItemFailures) {
			return outcome{err: fmt.Errorf("%w: %d sent records not acknowledged, first: %w",
				ErrBatchFailed, len(failures), failures[0].err)}
		}
	}
	if !inv.itemMode() {
		return outcome{payload: []byte("null")}
	}
	return inv.itemFailures(failures)
}

// itemFailures names, for each partition with a failure, the first record
// that failed — the one Process failed on, or the earliest whose sends were
// not acknowledged — and every record of the partition after it in the
// event. The records after the failure were not processed (or, after an
// unacknowledged send, are retried to keep the partition's order), so the
// answer is right whether the mapping resumes the partition from the
// lowest offset named or retries exactly the records named.
func (inv *invocation) itemFailures(failures []sendFailure) outcome {
	from := make(map[*partRun]int64)
	for i := range inv.runs {
		if r := &inv.runs[i]; r.stopped() {
			from[r] = r.stopAt
		}
	}
	for _, f := range failures { // every send is made by a record of a run
		if at, ok := from[f.run]; !ok || f.offset < at {
			from[f.run] = f.offset
		}
	}
	resp := ItemFailures{BatchItemFailures: []ItemFailure{}}
	o := outcome{}
	for i := range inv.runs {
		r := &inv.runs[i]
		at, ok := from[r]
		if !ok {
			continue
		}
		o.partitions++
		for j := range r.pt.Records {
			if off := r.pt.Records[j].Offset; off >= at {
				resp.BatchItemFailures = append(resp.BatchItemFailures,
					ItemFailure{ItemIdentifier{Partition: r.pt.Key, Offset: off}})
			}
		}
	}
	o.items = len(resp.BatchItemFailures)
	o.payload, o.err = json.Marshal(resp)
	return o
}
