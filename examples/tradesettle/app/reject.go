package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// SettlementRejected is what the function writes to its dead-letter topic,
// with Config.RejectedTopic (DEAD_LETTER_FORMAT=REJECTION), for a user_trades
// record that it cannot read through the record's own fault: bytes that do
// not decode, a schema id the registry does not know. It is plain JSON, not
// Protobuf through the registry, so that writing it never depends on the
// registry, which may be the very thing that is failing.
//
// It carries the record's bytes as they came, so that a rejected trade can
// be replayed once whatever wrote it is fixed; the Kafka record is keyed by
// the trade's key (null when it had none) and has a HeaderSource header.
type SettlementRejected struct {
	// Source is where the trade was, as HeaderSource writes it
	// ("user_trades/3/1207"); Topic, Partition and Offset are its parts.
	Source    string `json:"source"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Timestamp is the trade record's timestamp; the zero time when the
	// event had none.
	Timestamp time.Time `json:"timestamp"`
	// Stage is the step that failed, as kafkalambda.Stage names it
	// ("deserialize value", "process", ...).
	Stage string `json:"stage"`
	// SchemaID is the record's schema id, where known.
	SchemaID string `json:"schemaId,omitempty"`
	// Reason is the error, cut to MaxRejectReason bytes. The SDK's and
	// serde's errors never quote a record's contents.
	Reason string `json:"reason"`
	// Key and Value are the record's bytes (base64 in the JSON); null when
	// Kafka's key or value was null.
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

// MaxRejectReason bounds SettlementRejected.Reason (a panic's error holds
// its stack).
const MaxRejectReason = 2048

// Reject writes f's record to Config.RejectedTopic as a SettlementRejected:
// it is the kafkalambda.DeadLetterFunc of a Function built with a
// RejectedTopic, called by the handler for each record that failed through
// its own fault (never for a failure of the registry, the brokers or the
// configuration: those are retried). ctx must be the one the handler
// passes, so that the write is covered by the invocation's flush: a
// rejection the brokers did not acknowledge fails the invocation, and the
// record is retried, never dropped.
//
// Without a RejectedTopic it returns an error marked
// kafkalambda.Misconfigured (and matching ErrConfig).
func (f *Function) Reject(ctx context.Context, fl *kafkalambda.Failure) error {
	if f.rejected == nil {
		return kafkalambda.Misconfigured(fmt.Errorf("%w: Reject needs Config.RejectedTopic", ErrConfig))
	}
	raw := fl.Record
	src := Source{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset}.String()
	rej := SettlementRejected{
		Source: src, Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset,
		Timestamp: raw.Timestamp,
		Key:       raw.Key, Value: raw.Value,
	}
	if e := fl.Err; e != nil {
		rej.Stage, rej.SchemaID = string(e.Stage), e.SchemaID
		if e.Err != nil {
			rej.Reason = e.Err.Error()
		}
	}
	if len(rej.Reason) > MaxRejectReason {
		rej.Reason = strings.ToValidUTF8(rej.Reason[:MaxRejectReason], "")
	}
	if err := f.rejected.Send(ctx, raw.Key, rej, kafkalambda.Header{Key: HeaderSource, Value: []byte(src)}); err != nil {
		return fmt.Errorf("tradesettle: reject %s: %w", src, err)
	}
	return nil
}
