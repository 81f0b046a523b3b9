package esm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// Conditions, the requestContext.condition of an on-failure record: why the
// record was not processed.
const (
	// ConditionRetriesExhausted: the function failed on the record more
	// than MaximumRetryAttempts times after the first try (AWS's Kafka
	// on-failure documentation spells it this way).
	ConditionRetriesExhausted = "RetriesExhausted"
	// ConditionRecordAgeExceeded: the record was older than
	// MaximumRecordAgeInSeconds before it could be processed. AWS does not
	// document the name it uses for Kafka; this is the name the mapping
	// uses.
	ConditionRecordAgeExceeded = "RecordAgeExceeded"
	// ConditionPayloadTooLarge: the record alone makes an event larger than
	// the 6 MB invoke payload; it is never invoked.
	ConditionPayloadTooLarge = "MaximumPayloadSizeExceeded"
	// ConditionSchemaNotFound and ConditionDeserializationError are the
	// conditions of records the schema registry integration rejects before
	// any invocation: a schema id the registry does not know, and a key or
	// value not in the registry's wire format.
	ConditionSchemaNotFound       = "SCHEMA_NOT_FOUND"
	ConditionDeserializationError = "DESERIALIZATION_ERROR"
)

// FailureRecord is the value of a message the mapping writes to the
// on-failure topic, one per failed record, keyed by the record's key. It
// mirrors what AWS documents for a Kafka on-failure destination ("Record
// format for a Kafka destination"): the failure metadata, and under payload
// the event the function would have been invoked with for that one record.
type FailureRecord struct {
	RequestContext FailureRequest `json:"requestContext"`
	// ResponseContext is the function's last answer; nil when the record
	// was never invoked (age exceeded before a first try, payload too
	// large).
	ResponseContext *FailureResponse `json:"responseContext"`
	Version         string           `json:"version"`
	// Timestamp is when the record was given up, ISO 8601 in UTC with
	// milliseconds.
	Timestamp      string         `json:"timestamp"`
	KafkaBatchInfo KafkaBatchInfo `json:"KafkaBatchInfo"`
	// Payload is the one-record event, as JSON; null when the message with
	// it was too large for the on-failure topic.
	Payload json.RawMessage `json:"payload"`
}

// FailureRequest is the requestContext of a FailureRecord.
type FailureRequest struct {
	// RequestID is the last invocation's request id.
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	// Condition is one of the Condition constants.
	Condition string `json:"condition"`
	// ApproximateInvokeCount is how many invocations included the record.
	ApproximateInvokeCount int `json:"approximateInvokeCount"`
}

// FailureResponse is the responseContext of a FailureRecord.
type FailureResponse struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	// FunctionError is "Unhandled" or "Handled"; empty when the function
	// did not fail but reported the record in batchItemFailures or answered
	// with an invalid batchItemFailures document.
	FunctionError string `json:"functionError,omitempty"`
}

// KafkaBatchInfo is the KafkaBatchInfo of a FailureRecord.
type KafkaBatchInfo struct {
	// BatchSize is always 1: a FailureRecord describes one record.
	BatchSize        int    `json:"batchSize"`
	EventSourceARN   string `json:"eventSourceArn,omitempty"`
	BootstrapServers string `json:"bootstrapServers"`
	// PayloadSize is the size of Payload in bytes.
	PayloadSize int        `json:"payloadSize"`
	RecordInfo  RecordInfo `json:"recordInfo"`
}

// RecordInfo locates the failed record.
type RecordInfo struct {
	// Offset is the record's offset, as a decimal string.
	Offset string `json:"offset"`
	// Timestamp is the record's timestamp, ISO 8601 in UTC.
	Timestamp string `json:"timestamp"`
}

// ParseFailureRecord decodes the value of an on-failure message.
func ParseFailureRecord(value []byte) (*FailureRecord, error) {
	var fr FailureRecord
	if err := json.Unmarshal(value, &fr); err != nil {
		return nil, fmt.Errorf("esm: on-failure record: %w", err)
	}
	return &fr, nil
}

// Event parses the record's payload.
func (f *FailureRecord) Event() (*kafkalambda.Event, error) {
	return kafkalambda.ParseEvent(f.Payload)
}

const isoMillis = "2006-01-02T15:04:05.000Z"

// errStopped: the mapping stopped (Run's context was done) before the
// on-failure topic acknowledged the records.
var errStopped = errors.New("esm: stopped")

// fail gives up on recs. Without an on-failure topic it discards them and
// returns discarded = len(recs). With one it writes them there and waits
// for the acknowledgement, writing again after a backoff what the topic did
// not take, until the topic took them all (sent = len(recs)) or the mapping
// stops: a write in progress when Run's context is done is waited for (up
// to the shutdown timeout), but no further one is tried, and fail returns
// errStopped; the records are then not handled (and not committed). inv is
// the last invocation, if any. A message the broker refuses as too large
// is written again with a null payload.
func (e *runEnv) fail(recs []*rec, condition string, inv *invocation) (sent, discarded int, err error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	if e.set.onFailureDir != "" {
		sent, err := e.failToDir(recs, condition, inv)
		return sent, 0, err
	}
	if e.set.onFailure == "" {
		handled(recs)
		e.stats.discarded.Add(int64(len(recs)))
		e.log.Error("esm: records discarded (no on-failure topic)", "condition", condition, "records", recsString(recs))
		return 0, len(recs), nil
	}
	out := make([]*kgo.Record, len(recs))
	now := time.Now().UTC().Format(isoMillis)
	for i, r := range recs {
		out[i] = &kgo.Record{Topic: e.set.onFailure, Key: r.origKey, Value: e.failureRecord(r, condition, inv, now)}
	}
	// retry.Do writes again, after a backoff (WithRetryBackoff's, jittered),
	// what the topic did not take. Run's deadline is not one for these
	// retries, which go on until the stop; and the first write is made even
	// when the mapping is stopping already (its batch ran to its end), so
	// the stop cuts waits short only from the first retry on.
	ctx, cancel := context.WithCancel(context.WithoutCancel(e.stopCtx))
	defer cancel()
	var unwatch func() bool
	defer func() {
		if unwatch != nil {
			unwatch()
		}
	}()
	p := retry.Policy{Attempts: math.MaxInt, Initial: e.set.backoffMin, Max: e.set.backoffMax,
		OnRetry: func(_ int, err error, wait time.Duration) {
			e.log.Warn("esm: on-failure topic did not take records; retrying", "topic", e.set.onFailure,
				"records", len(out), "err", err, "wait", wait)
		}}
	err = retry.Do(ctx, p, func(context.Context) (bool, error) {
		var failed []*kgo.Record
		var errs []error
		for _, res := range e.cl.ProduceSync(e.invokeCtx, out...) {
			if res.Err == nil {
				continue
			}
			value := res.Record.Value
			if errors.Is(res.Err, kerr.MessageTooLarge) || errors.Is(res.Err, kerr.RecordListTooLarge) {
				value = withoutPayload(value)
			}
			failed = append(failed, &kgo.Record{Topic: res.Record.Topic, Key: res.Record.Key, Value: value})
			errs = append(errs, res.Err)
		}
		if len(failed) == 0 {
			return false, nil
		}
		if e.invokeCtx.Err() != nil || e.stopCtx.Err() != nil {
			return false, errStopped
		}
		out = failed
		if unwatch == nil {
			unwatch = context.AfterFunc(e.stopCtx, cancel)
		}
		return true, errors.Join(errs...)
	})
	if err != nil {
		// errStopped, or the stop during a wait: with unbounded attempts
		// and no deadline, Do gives up for nothing else.
		return 0, 0, errStopped
	}
	handled(recs)
	e.stats.onFailure.Add(int64(len(recs)))
	e.log.Error("esm: records sent to the on-failure topic", "topic", e.set.onFailure, "condition", condition, "records", recsString(recs))
	return len(recs), 0, nil
}

// handled counts recs as handled, to be covered by their partitions' next
// commit.
func handled(recs []*rec) {
	for _, r := range recs {
		r.ps.handled(1)
	}
}

// withoutPayload returns an on-failure value with its payload replaced by
// null, for a message the broker refused as too large.
func withoutPayload(value []byte) []byte {
	fr, err := ParseFailureRecord(value)
	if err != nil || string(fr.Payload) == "null" {
		return value
	}
	fr.Payload = json.RawMessage("null")
	b, err := json.Marshal(fr)
	if err != nil {
		return value
	}
	return b
}

func (e *runEnv) failureRecord(r *rec, condition string, inv *invocation, now string) []byte {
	payload := e.shape.event([]kafkalambda.Partition{{
		Key: r.ps.key, Topic: r.raw.Topic, Partition: r.raw.Partition, Records: []kafkalambda.RawRecord{r.raw},
	}}).AppendJSON(nil)
	fr := FailureRecord{
		RequestContext: FailureRequest{
			RequestID:              newRequestID(),
			FunctionARN:            e.set.functionARN,
			Condition:              condition,
			ApproximateInvokeCount: r.invokes,
		},
		Version:   "1.0",
		Timestamp: now,
		KafkaBatchInfo: KafkaBatchInfo{
			BatchSize:        1,
			EventSourceARN:   e.cfg.EventSourceARN,
			BootstrapServers: strings.Join(e.cfg.Brokers, ","),
			PayloadSize:      len(payload),
			RecordInfo: RecordInfo{
				Offset:    strconv.FormatInt(r.raw.Offset, 10),
				Timestamp: r.raw.Timestamp.UTC().Format(isoMillis),
			},
		},
		Payload: payload,
	}
	if inv != nil && inv.outcome != OutcomeInvokeError {
		if inv.res.RequestID != "" {
			fr.RequestContext.RequestID = inv.res.RequestID
		}
		fr.ResponseContext = &FailureResponse{
			StatusCode:      cmp.Or(inv.res.StatusCode, 200),
			ExecutedVersion: cmp.Or(inv.res.ExecutedVersion, "$LATEST"),
			FunctionError:   inv.res.FunctionError,
		}
	}
	b, err := json.Marshal(fr)
	if err != nil { // cannot happen: the payload is AppendJSON's
		fr.Payload = json.RawMessage("null")
		b, _ = json.Marshal(fr)
	}
	return b
}

func recsString(recs []*rec) string {
	var b strings.Builder
	for i, r := range recs {
		if i == 8 {
			fmt.Fprintf(&b, " and %d more", len(recs)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s@%d", r.ps.key, r.raw.Offset)
	}
	return b.String()
}
