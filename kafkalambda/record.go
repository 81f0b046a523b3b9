package kafkalambda

import (
	"time"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Record is one Kafka record with its key and value deserialized, as
// Process receives it.
//
// A null key or value is never handed to a deserializer: Key or Value then
// stays the zero value of its type and RawKey or RawValue is nil. A record
// whose value is null is a tombstone (IsTombstone).
//
// RawKey, RawValue, header values and schema metadata alias the memory the
// event was parsed into, which the Handler reuses for its next invocation
// (see [Parser]): they are valid until the invocation that delivered the
// record ends, and must not be written to. Copy them to keep them longer.
// Sending them is safe: the Handler copies raw bytes of the event it is
// given to send (a record forwarded as is, or dead-lettered) before a
// producer sees them. Key and Value, decoded by the serde codecs, are
// copies and may be kept, as may Topic and header keys (ordinary strings).
// Keys and values decoded by serde.String are made in blocks of up to 4 KiB
// shared with other strings of the same partition's records, rather than
// allocated one by one: keeping one keeps its block.
type Record[K, V any] struct {
	Topic         string
	Partition     int32
	Offset        int64
	Timestamp     time.Time
	TimestampType string
	// Headers are in record order; a key may appear several times.
	Headers []Header

	Key   K
	Value V

	// RawKey and RawValue are the bytes Key and Value were deserialized
	// from; nil when Kafka's key or value is null.
	RawKey, RawValue []byte
	// KeySchema and ValueSchema are the schema metadata an event source
	// mapping with schema registry integration added; nil otherwise.
	KeySchema, ValueSchema *serde.SchemaMeta
}

// IsTombstone reports whether the record's value is null.
func (r *Record[K, V]) IsTombstone() bool { return r.RawValue == nil }

// HasKey reports whether the record's key is not null.
func (r *Record[K, V]) HasKey() bool { return r.RawKey != nil }

// Header returns the value of the last header named key, as Kafka's
// lastHeader does, and whether there is one.
func (r *Record[K, V]) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}
