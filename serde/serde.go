package serde

import "context"

// SchemaMeta is the schema metadata that a Lambda event source mapping with
// Schema Registry integration attaches to a record's key or value
// (keySchemaMetadata / valueSchemaMetadata in the event).
//
// DataFormat is what the event source mapping reports ("AVRO", "PROTOBUF",
// "JSON"); SchemaID is the registry's id for the writer schema, as a string
// (a decimal number for a Confluent registry).
type SchemaMeta struct {
	DataFormat string
	SchemaID   string
}

// Message is one key or value handed to a Deserializer.
//
// Data is never nil: a null key or value (a tombstone) is not handed to a
// deserializer at all. Schema is the record's schema metadata for this side
// (key or value) when the event source mapping added it, else nil; it tells
// how Data is framed (full Confluent wire format, SOURCE mode with the prefix
// stripped, or JSON mode).
//
// Headers are the record's headers, in order, duplicates kept (nil when it
// has none). The registry codecs read one of them: KeySchemaIDHeader or
// ValueSchemaIDHeader, where newer Confluent serializers put the schema id
// instead of the payload prefix (see the package documentation, "Schema
// ids in headers").
type Message struct {
	Topic   string
	Data    []byte
	IsKey   bool
	Schema  *SchemaMeta
	Headers []Header
}

// Header is one Kafka record header. Value is nil for a null header value.
// kafkalambda.Header is this type, so a record's headers pass to a
// Deserializer without a copy.
type Header struct {
	Key   string
	Value []byte
}

// Deserializer turns the bytes of a key or a value into a T.
//
// Implementations must be safe for concurrent use and must not keep m.Data
// after they return: the caller may reuse it.
type Deserializer[T any] interface {
	Deserialize(ctx context.Context, m Message) (T, error)
}

// DeserializerInto is a Deserializer that can also decode into a T the
// caller holds, which saves copying the T that Deserialize returns: a
// struct of a hundred bytes or so per record, with a write barrier for each
// of its pointers. kafkalambda's Handler decodes into each Record's Key and
// Value with it when a deserializer has it. *v must be the zero value on
// entry: DeserializeInto then leaves in it what Deserialize would have
// returned, the zero value with an error. (A non-zero *v is decoded over,
// as encoding/json does: what the data does not set stays.) The JSON and
// Avro codecs have it.
type DeserializerInto[T any] interface {
	Deserializer[T]
	DeserializeInto(ctx context.Context, m Message, v *T) error
}

// Target says where serialized bytes go: the topic, and whether they are the
// record's key or its value. Registry serializers derive the subject from it
// (by default "<topic>-key" or "<topic>-value").
type Target struct {
	Topic string
	IsKey bool
}

// Serializer turns a T into the bytes of a key or a value written to t.Topic.
//
// Implementations must be safe for concurrent use. The returned slice is
// owned by the caller.
type Serializer[T any] interface {
	Serialize(ctx context.Context, t Target, v T) ([]byte, error)
}

// HeaderSerializer is a Serializer that can also return record headers to
// send with the bytes. The registry codecs implement it: with
// WithSchemaIDHeader they return the bare body and the schema id header,
// else what Serialize returns and no headers. kafkalambda.Output checks
// for it and sends the headers after the caller's.
type HeaderSerializer[T any] interface {
	Serializer[T]
	SerializeWithHeaders(ctx context.Context, t Target, v T) ([]byte, []Header, error)
}

// RawSerializer is a Serializer whose encoding of a value is the value's
// own bytes: Bytes and String implement it. SerializeRaw returns those
// bytes without a copy — they alias v and must not be modified — with
// Serialize's nil-ness (nil for a nil []byte, a Kafka null; an empty,
// non-nil slice for an empty value). A caller that keeps the encoding
// copies it: kafkalambda.Output copies it into memory the invocation
// reuses, where Serialize would allocate a copy per record.
type RawSerializer[T any] interface {
	Serializer[T]
	SerializeRaw(v T) []byte
}

// Codec is what every constructor of this package returns: one value that
// serializes and deserializes T. Codecs are safe for concurrent use.
type Codec[T any] interface {
	Serializer[T]
	Deserializer[T]
}
