package kafkalambda

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Handler runs a typed Process func over the records of Kafka events. It
// is a lambda.Handler: pass it to lambda.Start or lambda.StartWithOptions,
// or use Start.
// A Handler is safe for concurrent use by several invocations at once
// (aws-lambda-go runs them concurrently with AWS_LAMBDA_MAX_CONCURRENCY).
type Handler[K, V any] struct {
	eng *engine
}

// NewHandler returns a Handler that deserializes each record's key with
// keys and value with values, then calls process with the record.
//
// Records of one partition are processed one at a time in offset order;
// partitions are visited in the order ParseEvent gives (topic, then
// partition), one at a time unless WithConcurrency says otherwise. A null
// key or value is not handed to its deserializer (see Record). An error or
// a panic in a deserializer or in process is that record's failure
// (a *RecordError; a panic's cause is a *PanicError with the stack); what
// happens next is the handler's FailurePolicy.
//
// NewHandler reports invalid arguments and options as an error wrapping
// ErrInvalidOption.
func NewHandler[K, V any](keys serde.Deserializer[K], values serde.Deserializer[V],
	process func(ctx context.Context, r *Record[K, V]) error, opts ...Option) (*Handler[K, V], error) {
	if keys == nil || values == nil || process == nil {
		return nil, fmt.Errorf("kafkalambda: %w: NewHandler needs a key deserializer, a value deserializer and a process func", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.policy.kind == policyDeadLetter && cfg.policy.fn == nil && cfg.producer == nil {
		return nil, fmt.Errorf("kafkalambda: %w: %v needs WithProducer", ErrInvalidOption, cfg.policy)
	}
	if cfg.tel != nil && cfg.tel.tracer == nil && cfg.tel.metrics == nil {
		cfg.tel = nil // WithPropagator alone: nothing to do
	}
	if cfg.tel != nil {
		cfg.tel.flushIn = cfg.noDeadlineWait
	}
	if err := cfg.checkExactlyOnce(); err != nil {
		return nil, err
	}
	if cfg.envItemFailures && cfg.policy.kind == policyFailBatch {
		return nil, fmt.Errorf("kafkalambda: %w: WithEnvironmentItemFailures needs ReportItemFailures or a DeadLetter policy", ErrInvalidOption)
	}
	keyDec, valueDec := newDecoder(keys), newDecoder(values)
	// Records of a partition are allocated together, one slab per
	// partition rather than one allocation per record.
	runner := func(n int) recordRunner {
		slab := make([]Record[K, V], n)
		var strs stringBlock
		return func(ctx context.Context, raw *RawRecord, i int) (err error) {
			stage := StageKey
			defer func() {
				if v := recover(); v != nil {
					err = recordError(raw, stage, &PanicError{Value: v, Stack: debug.Stack()})
				}
			}()
			// The slab is fresh (zeroed): set the fields one by one rather
			// than copy a composite literal, which costs a bulk write
			// barrier per record.
			r := &slab[i]
			r.Topic, r.Partition, r.Offset = raw.Topic, raw.Partition, raw.Offset
			r.Timestamp, r.TimestampType = raw.Timestamp, raw.TimestampType
			r.Headers = raw.Headers
			r.RawKey, r.RawValue = raw.Key, raw.Value
			r.KeySchema, r.ValueSchema = raw.KeySchema, raw.ValueSchema
			if raw.Key != nil {
				if err := keyDec.decode(ctx, &strs, serde.Message{
					Topic: raw.Topic, Data: raw.Key, IsKey: true, Schema: raw.KeySchema, Headers: raw.Headers}, &r.Key); err != nil {
					return recordError(raw, stage, err)
				}
			}
			stage = StageValue
			if raw.Value != nil {
				if err := valueDec.decode(ctx, &strs, serde.Message{
					Topic: raw.Topic, Data: raw.Value, Schema: raw.ValueSchema, Headers: raw.Headers}, &r.Value); err != nil {
					return recordError(raw, stage, err)
				}
			}
			stage = StageProcess
			if err := process(ctx, r); err != nil {
				return recordError(raw, stage, err)
			}
			return nil
		}
	}
	return &Handler[K, V]{eng: &engine{cfg: cfg, runner: runner}}, nil
}

// Invoke handles one invocation: it parses payload (as ParseEvent does,
// into memory kept from one invocation to the next: see Record), processes
// every record, waits for the brokers to acknowledge everything sent
// during the invocation, and answers according to the FailurePolicy.
//
// Success — a nil error, and with ReportItemFailures an empty
// batchItemFailures list — means every record was processed (or, with
// DeadLetter, dead-lettered) and every record sent while doing so was
// acknowledged by the brokers. A send that failed or was not acknowledged
// before the Lambda deadline minus the margin is a failure: its queued
// copies are purged so they cannot be delivered after the invocation has
// failed, and the record that sent it is failed (ReportItemFailures) or the
// whole invocation is (otherwise). A malformed payload is an error
// wrapping ErrMalformedEvent.
func (h *Handler[K, V]) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.eng.invoke(ctx, payload)
}

// Close flushes and closes the handler's producer, if it has one. Start
// calls it when the runtime sends SIGTERM.
func (h *Handler[K, V]) Close() {
	if p := h.eng.cfg.producer; p != nil {
		p.Close()
	}
}

func recordError(raw *RawRecord, stage Stage, err error) *RecordError {
	if stage == StageProcess {
		if _, ok := errors.AsType[*sendError](err); ok {
			stage = StageSend
		}
	}
	re := &RecordError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Stage: stage, Err: err}
	switch {
	case stage == StageKey && raw.KeySchema != nil:
		re.SchemaID = raw.KeySchema.SchemaID
	case stage == StageValue && raw.ValueSchema != nil:
		re.SchemaID = raw.ValueSchema.SchemaID
	}
	// The input's schema id only: an output's, in a serializer's error,
	// is named by that error's own text.
	if se, ok := errors.AsType[*serde.Error](err); ok && re.SchemaID == "" &&
		se.Op == serde.OpDeserialize && se.SchemaID != 0 {
		re.SchemaID = strconv.Itoa(se.SchemaID)
	}
	return re
}
