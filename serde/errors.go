package serde

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
)

// The errors of this package. Every error a Serializer or Deserializer of this
// package returns is an *Error whose chain holds at least one of these
// sentinels, so callers branch with errors.Is and never on message text.
// Usually that is one sentinel (the four that wrap ErrMalformed match it
// too); a failure that is two things at once matches both, such as a
// Protobuf message-index list cut short: ErrMessageIndexes and ErrTruncated.
//
// Two umbrellas group them:
//
//   - ErrMalformed: the bytes themselves are bad (ErrTruncated, ErrMagicByte,
//     ErrMessageIndexes, ErrCompression, ErrDecode wrap it). Retrying cannot help.
//   - ErrRegistry: the Schema Registry could not be used (after retries
//     within the caller's context deadline); ErrRegistryAuth wraps it. The
//     same record may decode on the next attempt.
//
// Everything else is a permanent mismatch between the data, the registry's
// schemas and the Go type. Whose fault a failure is, and so what a caller
// does next, depends on the sentinel and on the direction (Op): see
// Error.FailureClass.
var (
	// ErrMalformed is the umbrella for bytes that cannot be framed or decoded.
	ErrMalformed = errors.New("serde: malformed data")

	// ErrTruncated: the data is empty, shorter than the Confluent header
	// (magic byte + 4-byte schema id), or the body ends before the value
	// does. Wraps ErrMalformed.
	ErrTruncated = fmt.Errorf("%w: truncated", ErrMalformed)

	// ErrMagicByte: the first byte of the data is neither 0 (Confluent)
	// nor 3 (AWS Glue), or not the one the codec is pinned to. Wraps
	// ErrMalformed.
	ErrMagicByte = fmt.Errorf("%w: unknown magic byte", ErrMalformed)

	// ErrMessageIndexes: the Protobuf message-index list is not a valid
	// zig-zag varint list (bad varint, negative count or index, count past
	// the end of the data). Wraps ErrMalformed.
	ErrMessageIndexes = fmt.Errorf("%w: bad protobuf message indexes", ErrMalformed)

	// ErrCompression: the compression byte of AWS Glue-framed data is not
	// 0 (none) or 5 (zlib), or the zlib body is corrupt, ends early, or
	// inflates past 16 MiB (a zip bomb). Wraps ErrMalformed.
	ErrCompression = fmt.Errorf("%w: bad compressed body", ErrMalformed)

	// ErrDecode: the body does not decode with the writer schema (or is not
	// valid JSON / Protobuf for T). Wraps ErrMalformed.
	ErrDecode = fmt.Errorf("%w: cannot decode", ErrMalformed)

	// ErrUnknownSchema: the registry has no such schema id, or no such
	// subject or version, or the schema given to a serializer that does not
	// auto-register is not registered under its subject.
	ErrUnknownSchema = errors.New("serde: unknown schema")

	// ErrSchemaNotAllowed: the record names a schema id that a Bundled
	// registry does not accept (see WithAllowedIDs). It wraps
	// ErrUnknownSchema, so it is the record's fault when reading.
	ErrSchemaNotAllowed = fmt.Errorf("%w: schema id not allowed", ErrUnknownSchema)

	// ErrUnknownRecordType: a Union has no case for the record type that
	// the record's writer schema names (Error.RecordType says which), or
	// the writer schema names no record type a Union can dispatch on.
	ErrUnknownRecordType = errors.New("serde: unknown record type")

	// ErrRegistry: the registry could not be used: it is down or slow (HTTP
	// 5xx, 429, 408 after the retries; a transport error: refused
	// connection, DNS, TLS, timeout; the caller's context ended while
	// waiting), or what answered is not a Schema Registry (an HTTP error
	// without a Confluent error code, such as a plain or HTML 404 from a
	// wrong host or path prefix, or a 2xx answer that is not its JSON), or it
	// refused the credentials (ErrRegistryAuth wraps it). Never the record's
	// fault: the same record may decode on the next attempt. The cause (for
	// example context.DeadlineExceeded, or the registry's error code and a
	// trimmed, bounded copy of its message) is in the chain.
	ErrRegistry = errors.New("serde: schema registry unavailable")

	// ErrRegistryAuth: the registry answered HTTP 401 or 403 (with or
	// without a Confluent error code such as 40301): the credentials are
	// missing or rejected, or they may not read or write the subject. It is
	// the operator's to fix, so it is not retried. It wraps ErrRegistry, so
	// code that only asks "is the registry usable?" still never dead-letters
	// on it; Error.FailureClass tells it apart ("configuration").
	ErrRegistryAuth = fmt.Errorf("%w: credentials rejected or access denied", ErrRegistry)

	// ErrInvalidSchema: a schema (given with WithSchema, derived from a
	// descriptor, or fetched from the registry) does not parse or compile,
	// or the registry rejected it as invalid (HTTP 422).
	ErrInvalidSchema = errors.New("serde: invalid schema")

	// ErrIncompatible: the writer schema cannot be read with the reader
	// schema (Avro schema resolution failed), or the registry refused to
	// register a schema as incompatible with the subject's history (409).
	ErrIncompatible = errors.New("serde: incompatible schemas")

	// ErrMessageMismatch: the Protobuf message indexes name no message of the
	// writer schema, or a message other than T's.
	ErrMessageMismatch = errors.New("serde: protobuf message mismatch")

	// ErrFormatMismatch: the record's schema metadata, or the registry's
	// schema type, names another format than the codec's (for example an
	// AVRO schema id given to a Protobuf deserializer), or the record names
	// its schema the other registry's way (Confluent-framed data or a
	// numeric id for an AWS Glue registry; Glue-framed data or a UUID for a
	// Confluent one).
	ErrFormatMismatch = errors.New("serde: format mismatch")

	// ErrSchemaID: the schema id in the record's schema metadata is
	// missing, or neither a Confluent schema id (a decimal number in
	// 1..4294967295) nor an AWS Glue schema version id (a UUID). An id of
	// the other registry's kind (a UUID for a Confluent registry, a number
	// for a Glue one) is ErrFormatMismatch.
	ErrSchemaID = errors.New("serde: bad schema id in metadata")

	// ErrSchemaIDHeader: the record's KeySchemaIDHeader or
	// ValueSchemaIDHeader header is malformed (empty, short, an unknown
	// magic byte, or bytes after the id where the format has none). The
	// error names the header, never its payload; it always wraps
	// ErrMalformed too, so it is the record's fault.
	ErrSchemaIDHeader = errors.New("serde: bad schema id header")

	// ErrNoSchema: a serializer has no schema to write with: it was built
	// without WithSchema (Avro, JSON Schema) and without WithUseLatest.
	ErrNoSchema = errors.New("serde: no schema to serialize with")

	// ErrEncode: the value cannot be encoded with the writer schema.
	ErrEncode = errors.New("serde: cannot encode")

	// ErrValidation: a JSON value does not validate against its JSON Schema.
	ErrValidation = errors.New("serde: JSON Schema validation failed")

	// ErrInvalidOption: a constructor was given a nil Registry or an option
	// with a bad value. (An option that does not apply to a format does not
	// compile: see Option.)
	// Constructors return it directly, not inside an *Error, wrapped in a
	// message that starts "serde: invalid option: ". It is the same
	// sentinel as kafkalambda.ErrInvalidOption (every package of the module
	// exports it under this name), so kafkalambda classifies it as the
	// operator's fault.
	ErrInvalidOption = invalid.ErrOption
)

// Op says which way an Error happened.
type Op string

// The two directions.
const (
	OpSerialize   Op = "serialize"
	OpDeserialize Op = "deserialize"
)

// Error is the error every Serializer and Deserializer of this package
// returns. It says where the failure happened (topic, key or value, schema
// id where known) and wraps the cause, whose chain holds one of the package's
// sentinel errors: use errors.Is(err, serde.ErrTruncated) and so on, or
// errors.As(err, &e) with e *serde.Error for the fields. Its message never
// quotes the record's key or value: causes from encoding/json,
// go-json, protojson, hamba/avro, the JSON Schema validator and user
// Marshal/Unmarshal methods are described by position, path, type and
// keyword instead, and stay in the chain for errors.As.
type Error struct {
	Op     Op     // serialize or deserialize
	Format string // "AVRO", "PROTOBUF", "JSON" (JSON Schema) or "JSON_PLAIN" (String and Bytes never fail)
	Topic  string
	IsKey  bool
	// SchemaID is the registry's schema id when it is known (read from the
	// header or the metadata, or the id the serializer wrote with); 0 if not,
	// and for an AWS Glue schema.
	SchemaID int
	// SchemaVersionID is the AWS Glue schema version id (a UUID) when it
	// is known; "" if not, and for a Confluent schema.
	SchemaVersionID string
	// RecordType is the record type (Avro full name, Protobuf message
	// full name, JSON Schema title) that a Union read from the writer
	// schema when it has no case for it (ErrUnknownRecordType); "" in
	// every other error.
	RecordType string
	Err        error
}

// The failure classes of Error.FailureClass: the names are a convention
// shared with package kafkalambda, which classifies any error whose chain
// holds a value with a FailureClass() string method.
const (
	classRecord        = "record"
	classEnvironment   = "environment"
	classConfiguration = "configuration"
)

// FailureClass says whose fault the failure is. It returns exactly one of:
//
//   - "record": the record's own fault, permanent: the same record fails the
//     same way every time, so it may be dead-lettered or reported while the
//     others go on.
//   - "environment": a transient fault of something the record does not
//     control (the registry unavailable, the caller's context ended): retry;
//     never dead-letter.
//   - "configuration": the operator's fault (credentials rejected, a codec
//     that cannot write what it was built for): fail loudly; retrying does
//     not help until the configuration changes, and no record is to blame.
//
// The class follows from the sentinel in Err's chain and from Op:
//
//	sentinel in the chain              OpDeserialize   OpSerialize
//	ErrRegistryAuth (HTTP 401/403)     configuration   configuration
//	ErrRegistry (any other)            environment     environment
//	ErrInvalidOption, ErrNoSchema      configuration   configuration
//	ErrMalformed and its five          record          record
//	ErrValidation                      record          record
//	ErrEncode                          record          record
//	ErrUnknownSchema                   record          configuration
//	ErrSchemaID                        record          configuration
//	ErrFormatMismatch                  record          configuration
//	ErrMessageMismatch                 record          configuration
//	ErrIncompatible                    record          configuration
//	ErrInvalidSchema                   record          configuration
//	ErrUnknownRecordType               record          configuration
//
// ErrSchemaNotAllowed wraps ErrUnknownSchema and shares its row. Reading, a schema mismatch is the record's: it names a schema id the
// registry does not have, a schema of another format or message, or one
// that cannot be read as T's. Writing, the codec picks the schema, so a
// mismatch is the configuration's, and only the value itself (ErrEncode,
// ErrValidation, ErrMalformed) is the record's. Rows are checked in the
// order above, so ErrRegistryAuth wins over ErrRegistry. An Error whose Op
// is neither direction, or whose chain holds none of the sentinels, is
// "environment": what cannot be classified is never dead-lettered.
func (e *Error) FailureClass() string {
	err := e.Err
	switch {
	case err == nil, e.Op != OpDeserialize && e.Op != OpSerialize:
		return classEnvironment
	case errors.Is(err, ErrRegistryAuth):
		return classConfiguration
	case errors.Is(err, ErrRegistry):
		return classEnvironment
	case errors.Is(err, ErrInvalidOption), errors.Is(err, ErrNoSchema):
		return classConfiguration
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrValidation), errors.Is(err, ErrEncode):
		return classRecord
	}
	for _, s := range []error{ErrUnknownSchema, ErrSchemaID, ErrFormatMismatch, ErrMessageMismatch, ErrIncompatible, ErrInvalidSchema, ErrUnknownRecordType} {
		if errors.Is(err, s) {
			if e.Op == OpSerialize {
				return classConfiguration
			}
			return classRecord
		}
	}
	return classEnvironment
}

// Error renders "serde: deserialize value of topic "t" (AVRO, schema id 7): cause".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("serde: ")
	b.WriteString(string(e.Op))
	if e.IsKey {
		b.WriteString(" key")
	} else {
		b.WriteString(" value")
	}
	b.WriteString(" of topic ")
	b.WriteString(strconv.Quote(e.Topic))
	b.WriteString(" (")
	b.WriteString(e.Format)
	if e.SchemaID != 0 {
		b.WriteString(", schema id ")
		b.WriteString(strconv.Itoa(e.SchemaID))
	}
	if e.SchemaVersionID != "" {
		b.WriteString(", schema version id ")
		b.WriteString(e.SchemaVersionID)
	}
	b.WriteString(")")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "serde: "))
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is and errors.As see the sentinels.
func (e *Error) Unwrap() error { return e.Err }

// errf builds a cause that wraps sentinel and, when cause is not nil, cause:
// "serde: truncated: <detail>: <cause>". Both match errors.Is.
func errf(sentinel error, cause error, format string, args ...any) error {
	detail := fmt.Sprintf(format, args...)
	if cause != nil {
		return fmt.Errorf("%w: %s: %w", sentinel, detail, cause)
	}
	return fmt.Errorf("%w: %s", sentinel, detail)
}

// where identifies the record an error is about; codecs fill it once per call.
type where struct {
	op     Op
	format string
	topic  string
	isKey  bool
}

func (w where) err(ref schemaRef, cause error) error {
	e := &Error{Op: w.op, Format: w.format, Topic: w.topic, IsKey: w.isKey, SchemaID: ref.id, Err: cause}
	if ref.guid != (uuid{}) {
		e.SchemaVersionID = ref.guid.String()
	}
	return e
}
