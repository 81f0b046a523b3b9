package kafkalambda

import (
	"context"
	"strconv"
)

// maxErrorHeader bounds the error text in a dead-lettered record's header
// (a panic's includes its stack).
const maxErrorHeader = 8 << 10

// deadLetter writes raw, as it came, to the policy's topic with headers
// saying why and where from. The write is tracked like any send.
func (inv *invocation) deadLetter(ctx context.Context, r *partRun, raw *RawRecord, cause error) error {
	msg := cause.Error()
	if len(msg) > maxErrorHeader {
		msg = msg[:maxErrorHeader]
	}
	stage := ""
	if re, ok := cause.(*RecordError); ok {
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
	inv.eng.cfg.logger.Warn("kafkalambda: record dead-lettered", "topic", raw.Topic, "partition", raw.Partition,
		"offset", raw.Offset, "dead_letter_topic", inv.eng.cfg.policy.topic, "error", cause.Error())
	return r.send(ctx, inv.eng.cfg.policy.topic, raw.Key, raw.Value, headers)
}
