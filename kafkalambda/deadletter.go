package kafkalambda

import (
	"context"
	"errors"
	"strconv"
)

// maxErrorHeader bounds the error text in a dead-lettered record's header
// (a panic's includes its stack).
const maxErrorHeader = 8 << 10

// Failure is a record that failed through its own fault, as a
// DeadLetterFunc destination receives it.
type Failure struct {
	// Record is the record as it came: raw key, value and headers.
	Record *RawRecord
	// Err says which stage failed and why; Err.SchemaID names the input's
	// schema id where known.
	Err *RecordError
	// Class is the failure's class: always ClassRecord, since only a
	// record's own failures are dead-lettered.
	Class FailureClass
}

// deadLetter hands a record that failed through its own fault to the
// policy's destination: the dead-letter topic (as it came, with headers
// saying why and where from) or the user's func. What either sends is
// tracked like any send of the record.
func (inv *invocation) deadLetter(ctx context.Context, r *partRun, raw *RawRecord, cause error) error {
	p := inv.eng.cfg.policy
	if p.fn != nil {
		re, ok := errors.AsType[*RecordError](cause)
		if !ok {
			re = recordError(raw, StageProcess, cause)
		}
		return p.fn(ctx, &Failure{Record: raw, Err: re, Class: ClassRecord})
	}
	msg := cause.Error()
	if len(msg) > maxErrorHeader {
		msg = msg[:maxErrorHeader]
	}
	stage := ""
	if re, ok := errors.AsType[*RecordError](cause); ok {
		stage = string(re.Stage)
	}
	headers := make([]Header, 0, len(raw.Headers)+5)
	headers = append(headers, raw.Headers...)
	headers = append(headers,
		Header{Key: HeaderError, Value: []byte(msg)},
		Header{Key: HeaderErrorStage, Value: []byte(stage)},
		Header{Key: HeaderSourceTopic, Value: []byte(raw.Topic)},
		Header{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(raw.Partition), 10)},
		Header{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, raw.Offset, 10)},
	)
	return r.send(ctx, outMsg{topic: p.topic, key: raw.Key, value: raw.Value}, headers)
}
