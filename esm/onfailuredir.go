package esm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// DestinationKind is the AWS on-failure destination a local folder stands
// for (WithOnFailureDir): what each file in it holds.
type DestinationKind string

const (
	// DestinationSQS and DestinationSNS: each file is the message body AWS
	// sends to an SQS queue or SNS topic for a failed batch, an
	// InvocationRecord without payload.
	DestinationSQS DestinationKind = "sqs"
	DestinationSNS DestinationKind = "sns"
	// DestinationS3: each file is the object AWS puts in an S3 bucket for a
	// failed batch, an InvocationRecord with the payload, the event of the
	// batch's failed records.
	DestinationS3 DestinationKind = "s3"
)

// ConditionRetryAttemptsExhausted is the condition SQS, SNS and S3
// destinations carry for a batch that exhausted its retries (the Kafka
// topic destination's record spells it ConditionRetriesExhausted). The
// other conditions are the same for every destination.
const ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"

// InvocationRecord is what the mapping writes for a failed batch to a
// folder destination (WithOnFailureDir), one file per batch. It mirrors the
// invocation record AWS documents for SQS, SNS and S3 on-failure
// destinations of Kafka event sources: the failure metadata and, per
// partition, the range of the failed records; S3's also has the payload.
type InvocationRecord struct {
	RequestContext FailureRequest `json:"requestContext"`
	// ResponseContext is the function's last answer; nil when the batch
	// was never invoked.
	ResponseContext *FailureResponse `json:"responseContext"`
	Version         string           `json:"version"`
	// Timestamp is when the batch was given up, ISO 8601 in UTC with
	// milliseconds.
	Timestamp      string           `json:"timestamp"`
	KafkaBatchInfo BatchFailureInfo `json:"KafkaBatchInfo"`
	// Payload is the event of the failed records, as the function would
	// have been invoked with them; S3 destinations only.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// BatchFailureInfo is the KafkaBatchInfo of an InvocationRecord.
type BatchFailureInfo struct {
	// BatchSize is the number of failed records.
	BatchSize        int    `json:"batchSize"`
	EventSourceARN   string `json:"eventSourceArn,omitempty"`
	BootstrapServers string `json:"bootstrapServers"`
	// PayloadSize is the size in bytes of the event of the failed records.
	PayloadSize int `json:"payloadSize"`
	// RecordsInfo is keyed by "topic-partition".
	RecordsInfo map[string]FailedRange `json:"recordsInfo"`
}

// FailedRange is the first and last failed record of a partition, in an
// InvocationRecord. Offsets are decimal strings, timestamps ISO 8601 in UTC.
type FailedRange struct {
	FirstRecordOffset    string `json:"firstRecordOffset"`
	LastRecordOffset     string `json:"lastRecordOffset"`
	FirstRecordTimestamp string `json:"firstRecordTimestamp"`
	LastRecordTimestamp  string `json:"lastRecordTimestamp"`
}

// ParseInvocationRecord decodes a file of a folder destination.
func ParseInvocationRecord(b []byte) (*InvocationRecord, error) {
	var ir InvocationRecord
	if err := json.Unmarshal(b, &ir); err != nil {
		return nil, fmt.Errorf("esm: invocation record: %w", err)
	}
	return &ir, nil
}

// Event parses the record's payload (S3 destinations).
func (ir *InvocationRecord) Event() (*kafkalambda.Event, error) {
	if len(ir.Payload) == 0 {
		return nil, fmt.Errorf("esm: invocation record has no payload (not an S3 destination's)")
	}
	return kafkalambda.ParseEvent(ir.Payload)
}

// dirDest numbers the files of a folder destination: failed batches of
// different runners are written one at a time, in the order given up, after
// any file already there (a name is never reused, so an earlier run's files
// are kept).
type dirDest struct {
	mu      sync.Mutex
	seq     int  // the last number used
	scanned bool // seq starts after the files found at the first write
}

// write writes b as the next file, through a temporary file linked into
// place so that a reader never sees a partial one and no file is replaced.
func (d *dirDest) write(dir, condition string, b []byte) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("on-failure folder %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("on-failure folder %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := cmp.Or(werr, cerr); err != nil {
		return "", fmt.Errorf("on-failure folder %s: %w", dir, err)
	}
	if !d.scanned {
		d.seq, d.scanned = lastSeq(dir), true
	}
	for { // a name taken meanwhile (another writer) is skipped
		d.seq++
		name := filepath.Join(dir, fmt.Sprintf("%06d-%s.json", d.seq, condition))
		err := os.Link(tmp.Name(), name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			d.seq--
			return "", fmt.Errorf("on-failure file %s: %w", name, err)
		}
	}
}

// lastSeq returns the highest number that starts a file name in dir.
func lastSeq(dir string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "-")
		if v, err := strconv.Atoi(num); ok && err == nil {
			n = max(n, v)
		}
	}
	return n
}

// failToDir writes recs, given up together, as one InvocationRecord file,
// writing again after a backoff when the folder refuses it, until the
// mapping stops (then errStopped, and the records are not handled).
func (e *runEnv) failToDir(recs []*rec, condition string, inv *invocation) (sent int, err error) {
	if condition == ConditionRetriesExhausted {
		condition = ConditionRetryAttemptsExhausted
	}
	b := e.invocationRecord(recs, condition, inv, time.Now().UTC().Format(isoMillis))
	ctx, cancel := context.WithCancel(context.WithoutCancel(e.stopCtx))
	defer cancel()
	stop := context.AfterFunc(e.stopCtx, cancel)
	defer stop()
	var name string
	p := retry.Policy{Attempts: math.MaxInt, Initial: e.set.backoffMin, Max: e.set.backoffMax,
		OnRetry: func(_ int, err error, wait time.Duration) {
			e.log.Warn("esm: on-failure folder did not take a batch; retrying", "err", err, "wait", wait)
		}}
	err = retry.Do(ctx, p, func(context.Context) (bool, error) {
		var werr error
		name, werr = e.dir.write(e.set.onFailureDir, condition, b)
		return werr != nil && e.stopCtx.Err() == nil, werr
	})
	if err != nil {
		return 0, errStopped
	}
	handled(recs)
	e.stats.onFailure.Add(int64(len(recs)))
	e.log.Error("esm: batch written to the on-failure folder", "file", name, "condition", condition, "records", recsString(recs))
	return len(recs), nil
}

func (e *runEnv) invocationRecord(recs []*rec, condition string, inv *invocation, now string) []byte {
	var parts []kafkalambda.Partition
	info := make(map[string]FailedRange)
	invokes := 0
	for _, r := range recs {
		invokes = max(invokes, r.invokes)
		ts := r.raw.Timestamp.UTC().Format(isoMillis)
		off := strconv.FormatInt(r.raw.Offset, 10)
		i := len(parts) - 1
		if i < 0 || parts[i].Key != r.ps.key {
			i = -1
			for k := range parts {
				if parts[k].Key == r.ps.key {
					i = k
				}
			}
		}
		if i < 0 {
			parts = append(parts, kafkalambda.Partition{Key: r.ps.key, Topic: r.raw.Topic, Partition: r.raw.Partition})
			i = len(parts) - 1
			info[r.ps.key] = FailedRange{FirstRecordOffset: off, FirstRecordTimestamp: ts}
		}
		parts[i].Records = append(parts[i].Records, r.raw)
		pr := info[r.ps.key]
		pr.LastRecordOffset, pr.LastRecordTimestamp = off, ts
		info[r.ps.key] = pr
	}
	payload := e.shape.event(parts).AppendJSON(nil)
	ir := InvocationRecord{
		RequestContext: FailureRequest{
			RequestID:              newRequestID(),
			FunctionARN:            e.set.functionARN,
			Condition:              condition,
			ApproximateInvokeCount: invokes,
		},
		Version:   "1.0",
		Timestamp: now,
		KafkaBatchInfo: BatchFailureInfo{
			BatchSize:        len(recs),
			EventSourceARN:   e.cfg.EventSourceARN,
			BootstrapServers: strings.Join(e.cfg.Brokers, ","),
			PayloadSize:      len(payload),
			RecordsInfo:      info,
		},
	}
	if e.set.onFailureKind == DestinationS3 {
		ir.Payload = payload
	}
	if inv != nil && inv.outcome != OutcomeInvokeError {
		if inv.res.RequestID != "" {
			ir.RequestContext.RequestID = inv.res.RequestID
		}
		ir.ResponseContext = &FailureResponse{
			StatusCode:      cmp.Or(inv.res.StatusCode, 200),
			ExecutedVersion: cmp.Or(inv.res.ExecutedVersion, "$LATEST"),
			FunctionError:   inv.res.FunctionError,
		}
	}
	b, err := json.Marshal(ir)
	if err != nil { // cannot happen: the payload is AppendJSON's
		ir.Payload = nil
		b, _ = json.Marshal(ir)
	}
	return b
}
