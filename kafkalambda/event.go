package kafkalambda

import (
	"time"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Event sources as they appear in the eventSource field of the event.
const (
	// SourceMSK is the event source of an Amazon MSK event source mapping.
	SourceMSK = "aws:kafka"
	// SourceSelfManaged is the event source of a self-managed Apache Kafka
	// (or Confluent Cloud) event source mapping.
	SourceSelfManaged = "SelfManagedKafka"
	// SourceSelfManagedAlt is the spelling of SourceSelfManaged seen in some
	// documentation and tools; ParseEvent accepts it as well.
	SourceSelfManagedAlt = "aws:SelfManagedKafka"
)

// Timestamp types as they appear in the timestampType field of a record.
const (
	TimestampCreateTime    = "CREATE_TIME"
	TimestampLogAppendTime = "LOG_APPEND_TIME"
	TimestampNone          = "NO_TIMESTAMP_TYPE"
)

// Event is a Lambda event from a Kafka event source mapping, parsed by
// [ParseEvent].
//
// Partitions are sorted by topic, then partition number; the records of each
// partition are in offset order. An Event and everything it holds are
// read-only after ParseEvent returns: the byte slices of all records share
// one buffer, each capped at its own length.
type Event struct {
	// Source is the eventSource field: SourceMSK, SourceSelfManaged or
	// SourceSelfManagedAlt.
	Source string
	// SourceARN is the eventSourceArn field: the MSK cluster's ARN, empty
	// for self-managed Kafka.
	SourceARN string
	// BootstrapServers is the comma-separated bootstrapServers field, split.
	BootstrapServers []string
	// Partitions holds the records, one entry per key of the event's
	// records map.
	Partitions []Partition
}

// Len reports the number of records in the event.
func (e *Event) Len() int {
	n := 0
	for i := range e.Partitions {
		n += len(e.Partitions[i].Records)
	}
	return n
}

// Partition is one key of the event's records map: the records of one topic
// partition, in offset order.
type Partition struct {
	// Key is the map key exactly as the event gives it ("<topic>-<n>"). It
	// is the partition identifier batch item failures report back.
	Key string
	// Topic and Partition name the Kafka topic partition.
	Topic     string
	Partition int32
	// Records are in offset order.
	Records []RawRecord
}

// Header is one Kafka record header. Value is nil for a null header value.
// It is serde.Header, so a record's headers reach a Deserializer
// (serde.Message.Headers) without a copy.
type Header = serde.Header

// RawRecord is one Kafka record of an event, before deserialization.
type RawRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	// Timestamp is the record's timestamp (milliseconds in the event); the
	// zero Time when the event has none.
	Timestamp     time.Time
	TimestampType string
	// Headers are in record order; a key that appears several times appears
	// several times here.
	Headers []Header
	// Key and Value are base64-decoded. Each is nil when Kafka's key or value
	// is null (absent or null in the event) and empty, not nil, when it is
	// present and empty.
	Key, Value []byte
	// KeySchema and ValueSchema are the keySchemaMetadata and
	// valueSchemaMetadata that an event source mapping with schema registry
	// integration adds; nil otherwise. Records may share these values: treat
	// them as read-only.
	KeySchema, ValueSchema *serde.SchemaMeta
}

// IsTombstone reports whether the record's value is null.
func (r *RawRecord) IsTombstone() bool { return r.Value == nil }
