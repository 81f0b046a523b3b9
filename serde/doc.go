// Package serde turns the keys and values of Kafka records into typed Go
// values and back: plain String, Bytes and JSON, and Avro, Protobuf and JSON
// Schema through a Confluent Schema Registry, an AWS Glue Schema Registry,
// or a schema bundled into the function.
//
// The contract: a Deserializer[T] turns a Message (topic, data, key or
// value, ESM schema metadata) into a T; a Serializer[T] turns a T into the
// bytes of a key or value for a Target (topic, key or value). Every
// constructor returns a Codec[T], one value that does both, safe for
// concurrent use. Deserializers are never asked to decode a Kafka null (a
// tombstone); they do not keep Message.Data after they return. Serialized
// bytes belong to the caller. Every failure is an *Error carrying the topic,
// key or value, and schema id where known, wrapping one sentinel error. The
// JSON and Avro codecs are also DeserializerInto[T]s: they decode into a T
// the caller holds, which kafkalambda's Handler uses to fill each Record.
//
//	registry := serde.Confluent(srclient.NewSchemaRegistryClient(url))
//	keys := serde.String()
//	values, err := serde.Protobuf[*pb.Trade](registry)
//	trade, err := values.Deserialize(ctx, serde.Message{Topic: "trades", Data: raw})
//
// # Wire formats
//
// Registry formats use the Confluent wire format: a magic byte 0, the
// schema id as a 4-byte big-endian integer, for Protobuf the message-index
// list (a zig-zag varint count, then that many zig-zag varint indexes into
// the schema's nested message declarations; the single byte 0 means [0],
// the first message of the file), then the encoded value. Lengths, the magic
// byte and varint counts are checked before any slicing; no input panics
// (the decoders are fuzzed). ParseHeader reads the header for code outside
// the codecs (the local event source mapping, the test kit).
//
// With an AWS Glue registry (Glue) the codecs write AWS's wire format
// instead: the header version byte 3, a compression byte (0 none, 5 zlib),
// the 16-byte schema version id (a UUID), then the body, zlib-compressed
// when byte 1 is 5; a Protobuf body starts with the message's index among
// all messages of the schema sorted by full name, one unsigned varint.
// Readers tell the two formats apart by the first byte (0 or 3) of each
// record; zlib bodies are inflated to at most 16 MiB (more is
// ErrCompression, so a zip bomb is an error, not an out-of-memory).
//
// # Schema ids in headers
//
// Newer Confluent serializers can put the schema id in a record header,
// KeySchemaIDHeader or ValueSchemaIDHeader, instead of the payload prefix:
// its value is the magic byte 0 and a 4-byte big-endian id, or the magic
// byte 1 and a 16-byte schema GUID, then (Protobuf only) the message
// indexes; the payload is the bare body. When Message.Headers has the
// header for the message's side (the last one, if repeated) and there is
// no ESM schema metadata, the header names the schema and the payload is
// not searched for a prefix, as in Confluent's deserializers. A malformed
// header is ErrSchemaIDHeader (it also wraps ErrMalformed); Confluent's
// deserializers fall back to the payload then, this package does not,
// since a bare body cannot be told from a prefixed one. A GUID is looked
// up through GUIDRegistry, which a Registry may implement; the Confluent
// adapter over srclient v0.7.3 does not, so with it a GUID is
// ErrUnknownSchema.
// ParseSchemaIDHeader reads a header value.
//
// Writing, WithSchemaIDHeader makes a Confluent codec's
// SerializeWithHeaders (HeaderSerializer) return the bare body and the
// schema id header (magic byte 0 and the id: srclient knows no GUIDs);
// kafkalambda.Output sends it after the caller's headers. Serialize, which
// has no way to return headers, keeps writing the prefix.
//
// A value reaches a Lambda function in one of three ways, told apart by
// Message.Schema (the record's keySchemaMetadata or valueSchemaMetadata):
//
//   - Message.Schema == nil: no ESM schema registry integration. The data is
//     the full wire format as the producer wrote it.
//   - SOURCE mode (the ESM's EventRecordFormat SOURCE): the ESM validated
//     the record, removed the 5-byte prefix and reports the schema id in
//     Schema.SchemaID (a decimal string for a Confluent registry, the schema
//     version UUID for AWS Glue; a Glue body arrives inflated). Protobuf
//     message indexes (the Glue index, for Glue) are still at the front of
//     the data, as AWS's own Powertools deserializers expect.
//   - JSON mode (EventRecordFormat JSON): the ESM decoded the value and
//     delivers JSON text; Schema.SchemaID still names the writer schema.
//
// Schema.DataFormat ("AVRO", "PROTOBUF", or "JSON" for JSON Schema) names
// the schema's format in both ESM modes, so it is checked against the
// codec's format (ErrFormatMismatch) but does not tell the modes apart: the
// event does not carry the EventRecordFormat setting. The codecs therefore
// look at the data itself, unless the mode is pinned with
// WithEventRecordFormat:
//
//   - Protobuf: JSON mode when the first byte is '{'. In SOURCE mode the
//     first byte starts a zig-zag varint count, which is even for every
//     valid count, and '{' (0x7b) is odd, so this never misreads.
//   - Avro: JSON mode when the data starts with '{', '[' or '"' (after JSON
//     white space) and the whole of it is valid JSON. Avro binary that is
//     also valid JSON text is possible in theory, and a top-level scalar
//     schema (a bare long, say) cannot be told apart at all: pin the mode for
//     those.
//   - JSON Schema: both modes carry the same JSON text; nothing to decide.
//     The metadata's schema id, when it is a Confluent id, picks the schema
//     to validate with.
//
// In SOURCE mode a schema id that is neither a Confluent id nor a UUID is
// ErrSchemaID, and one of the other registry's kind is ErrFormatMismatch.
// In JSON mode the id is optional.
//
// # ESM JSON mode
//
// Protobuf JSON is read with protojson (unknown fields ignored). JSON Schema
// JSON is read with encoding/json. Avro JSON is encoded back to Avro binary
// with the writer schema (or, without an id, T's schema) and then decoded
// like any Avro body, so `avro` struct tags, defaults and schema resolution
// apply unchanged; both plain JSON and the Avro JSON encoding (unions as
// {"type": value}, bytes as code points 0-255) are accepted, as are
// RFC 3339 text for timestamp logical types and numbers for decimals.
//
// # Registry and caching
//
// Registry is this package's own interface to a schema registry: the five
// calls the codecs make (a schema by id, a subject's versions, a version of
// a subject, register, look up), each taking a context, with Schema and
// Reference values of this package. Confluent adapts a
// github.com/riferrei/srclient client, the usual way to reach a Confluent
// Schema Registry:
//
//	client := srclient.NewSchemaRegistryClient(url)
//	client.SetCredentials(key, secret) // when the registry needs them
//	registry := serde.Confluent(client)
//
// srclient takes no context: the adapter returns when the context ends and
// leaves the call to finish in the background, bounded by srclient's HTTP
// timeout (see Confluent). srclient has no retries, caches "latest"
// forever and has a data race in (*Schema).Codec(); each codec keeps them
// out of its path with a layer of its own:
//
//   - An id → schema cache (compiled for the codec: parsed Avro schema
//     resolved against T's, Protobuf message tree, compiled JSON Schema)
//     in a copy-on-write map behind an atomic pointer: the decode path takes
//     no lock. Schema ids are immutable, so entries never expire. What a
//     serializer writes for a Target (the id of its registered schema, or
//     with WithUseLatest the subject's latest version, kept while it stays
//     the latest) is cached the same way.
//   - Concurrent misses for one key make one call (singleflight); every
//     caller still waits only as long as its own context allows. The call
//     gets the first caller's context values, not its deadline or its
//     cancellation, since others may be waiting for it; it is canceled
//     when every caller waiting for it has given up.
//   - HTTP 408, 429, 5xx and transport errors are retried with jittered
//     exponential backoff (WithRetry: 5 attempts, 50 ms doubling to 1 s by
//     default), never sleeping past the caller's context deadline; a
//     registry that stays down or slow gives ErrRegistry (with the context's
//     error in the chain when the deadline ended it) within that deadline.
//   - An answer means what the registry says only when it carries a
//     Confluent error code: 404xx (40401 subject, 40402 version, 40403
//     schema not found, ...) is ErrUnknownSchema, 409 or 409xx
//     ErrIncompatible, 422 or 422xx ErrInvalidSchema. A 404 without one (a
//     plain-text or HTML page, an empty body, or the bare code 404 that
//     answers a path the registry does not serve) means the URL does not
//     point at a Schema Registry: ErrRegistry, not retried. HTTP 401 and
//     403 are ErrRegistryAuth, not retried. Registry messages enter errors
//     trimmed, on one line and cut to 200 bytes. (That is how Confluent
//     reads srclient's errors; another Registry says what the registry
//     answered with this package's sentinels, see Registry.)
//   - Failures are never cached: the next call asks again.
//   - "Latest" (WithUseLatest) is the subject's versions, then the highest
//     of them by version, which is immutable; the codec re-reads it after
//     WithLatestTTL (5 minutes by default). With Confluent, srclient's
//     GetLatestSchema, which caches forever, is never used, nor Codec()
//     and JsonSchema(); keep srclient's codec creation off (its default).
//     srclient's own id and version caches may stay on: what they hold
//     cannot change.
//
// Serializers name subjects with a SubjectNameStrategy: TopicNameStrategy
// (default, "<topic>-key"/"<topic>-value"), RecordNameStrategy or
// TopicRecordNameStrategy. By default they register their schema
// (WithAutoRegister(false) only looks it up); WithUseLatest writes with the
// latest registered version instead.
//
// # Bundled schemas
//
// Bundled is a Registry of one schema compiled into the function, for
// functions that must not depend on a registry at run time: it makes no
// call. The codecs take it like any Registry and read every framing above
// (Confluent and AWS Glue prefixes, schema id headers, ESM SOURCE and JSON
// mode); the prefix is checked and skipped and the body decoded with the
// bundled schema if the record names an accepted id: by default
// Schema.ID or Schema.GUID alone, or exactly the ids WithAllowedIDs lists
// (decimal Confluent ids, or UUIDs for Glue schema version ids and
// Confluent GUIDs; the list replaces the default). Another id is
// ErrSchemaNotAllowed, which wraps ErrUnknownSchema and is the record's
// fault. A bundled schema with neither id nor WithAllowedIDs accepts every
// id and decodes whatever a record names with the one schema: right only
// if every producer writes exactly that schema. Unless WithSchema says
// otherwise the bundled schema is T's schema too; a Protobuf bundled schema
// may leave its text to T's descriptor (not for a Union, which has no T
// and needs the .proto text). Serializing writes the pinned id,
// Schema.ID (Confluent's format) or Schema.GUID (Glue's, uncompressed), and
// only the bundled schema; without one it is ErrUnknownSchema.
//
//	//go:embed order.avsc
//	var orderSchema string
//
//	values, err := serde.Avro[Order](serde.Bundled(
//		serde.Schema{Type: "AVRO", Text: orderSchema, ID: 42},
//		serde.WithAllowedIDs("41", "42")))
//
// # Several record types on one topic
//
// Producers using RecordNameStrategy or TopicRecordNameStrategy put records
// of several types on one topic. Union reads them: it finds each record's
// writer schema (by the id, from any framing), reads the record type it
// names (the Avro full name, the Protobuf message full name that the
// message indexes or the Glue index name, the JSON Schema "title") and
// hands the record to the Case for that type, whose Deserializer decodes
// it into a U and whose func turns that into the union's T:
//
//	events, err := serde.Union[Event](registry,
//		serde.Case[Event]("shop.Order", orders, nil), // Order implements Event
//		serde.Case("shop.Refund", refunds, func(r Refund) Event { return refundEvent{r} }))
//
// A type without a case is ErrUnknownRecordType, the record's fault; the
// *Error names the type (RecordType), the topic and the schema id. In ESM
// JSON mode a Protobuf record has no message indexes, and the record type
// is the one message of the writer schema that has a case.
//
// # Errors
//
// Every error from a Serializer or Deserializer is an *Error; its chain
// holds one sentinel of errors.go (two where a failure is both, such as
// ErrMessageIndexes and ErrTruncated). ErrMalformed (ErrTruncated,
// ErrMagicByte, ErrMessageIndexes, ErrDecode) means the bytes are bad;
// ErrRegistry means the registry could not be used (ErrRegistryAuth, which
// wraps it: it refused the credentials). Constructors return ErrInvalidOption.
// Messages start with "serde: ". They never quote a record's key or value
// (often personal data): a decode or encode error says where and why (byte
// offset, line and column, field or JSON path, Go type, schema keyword and
// location), not what was there; the library's own error, whose text may
// quote it, stays in the chain for errors.As. Registry messages are trimmed
// and bounded.
//
// Error.FailureClass says whose fault a failure is: "record" (permanent:
// the record may be dead-lettered or reported while the others go on),
// "environment" (transient: retry, never dead-letter) or "configuration"
// (the operator's: fail loudly). Package kafkalambda classifies any error
// whose chain holds a FailureClass() string method. The class follows from
// the sentinel and the direction:
//
//	sentinel (first match, top down)   Deserialize     Serialize
//	ErrRegistryAuth: HTTP 401, 403     configuration   configuration
//	ErrRegistry: 5xx, 429, 408,        environment     environment
//	  transport errors, the context
//	  ended, an answer that is not a
//	  registry's (404 without a 404xx
//	  code, HTML, not its JSON)
//	ErrInvalidOption, ErrNoSchema      configuration   configuration
//	ErrMalformed (and its four)        record          record
//	ErrValidation                      record          record
//	ErrEncode                          record          record
//	ErrUnknownSchema (404xx)           record          configuration
//	ErrSchemaID                        record          configuration
//	ErrFormatMismatch                  record          configuration
//	ErrMessageMismatch                 record          configuration
//	ErrIncompatible (409, 409xx)       record          configuration
//	ErrInvalidSchema (422, 422xx)      record          configuration
//	ErrUnknownRecordType (Union)       record          configuration
//
// ErrSchemaNotAllowed (Bundled) wraps ErrUnknownSchema and shares its row.
//
// Reading, the record picks the schema (by its id), so a schema that is
// missing, of another format or message, unusable, or not readable as T is
// the record's fault. Writing, the codec picks it, so the same failures are
// the configuration's (a schema not registered with auto-registration off,
// a registration the registry refused), and only the value itself is the
// record's. What none of the rows matches is "environment".
//
// # Schema evolution
//
// Avro: with WithSchema, T's schema is the reader schema and every writer
// schema is resolved against it (hamba/avro's schema resolution): fields T
// added with a default take the default, fields T removed are skipped,
// numeric promotions apply; incompatible pairs are ErrIncompatible.
// Without WithSchema the writer schema decodes straight into T, matching
// fields by `avro` tag. Protobuf: fields are matched by number as always;
// the message indexes must name T's message (by full name) in the writer
// schema, else ErrMessageMismatch. JSON Schema: encoding/json rules.
//
// # Protobuf schemas
//
// A Protobuf serializer derives its schema text from T's file descriptor
// (printed as .proto source with nested declarations in descriptor order,
// so message indexes agree with any registry client's parser) and registers
// the files it imports first, each under its import path as subject, then
// references them, as Confluent's serializers do; google/protobuf/*,
// google/type/* and confluent/* imports are built into registry clients and
// are not registered. WithSchema gives the text instead (needed for proto2
// groups and editions files, which the printer does not print).
//
// # Performance
//
// Measured against Confluent's Go serdes on the same bytes (see
// BENCHMARKS.md and bench_test.go): decoding and encoding skip Confluent's
// per-record subject lookup, rule engine and LRU locks; Protobuf encoding
// sizes the output once and marshals into it.
//
// # Binary size
//
// Glue takes an aws-sdk-go-v2 Glue client, so the package imports the
// SDK's Glue service, and a program importing serde links it and runs its
// package initialisation whether it calls Glue or not: about 1 MiB of the
// binary (the Glue operations themselves are left out when nothing calls
// Glue), and at start 2 MiB of allocations that build the description of
// every Glue operation (5 to 12 ms of a Lambda cold start on a 2-vCPU
// machine; see BENCHMARKS.md). A function that does not use a Glue
// registry builds with
//
//	go build -tags serde.noglue
//
// which leaves out Glue, GlueOption and WithGlueCompression, and the SDK's
// Glue client with them; everything else, reading and writing AWS Glue's
// wire format included (ParseGlueHeader, Bundled with a schema version id,
// the ESM's Glue schema metadata), is unchanged. A program that calls Glue
// does not compile with the tag.
package serde
