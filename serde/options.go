package serde

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
)

// Option configures any registry codec: Avro, Protobuf or JSONSchema.
// Each option says its default. An option that applies to one format only
// has its own type ([JSONSchemaOption]), so giving it to another format's
// constructor does not compile; a bad value is an [ErrInvalidOption] error
// from the constructor. A nil Option is ignored.
//
// Option and JSONSchemaOption are sealed: only this package implements
// them.
type Option interface {
	JSONSchemaOption
	applyRegistry(*config)
}

// JSONSchemaOption configures [JSONSchema]. Every [Option] is one, and so
// is [WithValidation], which applies to JSON Schema only. A nil
// JSONSchemaOption is ignored.
type JSONSchemaOption interface {
	applyJSONSchema(*config)
}

// registryOption is an Option: it applies to every registry codec.
type registryOption func(*config)

func (o registryOption) applyRegistry(c *config)   { o(c) }
func (o registryOption) applyJSONSchema(c *config) { o(c) }

// jsonSchemaOption applies to JSONSchema only.
type jsonSchemaOption func(*config)

func (o jsonSchemaOption) applyJSONSchema(c *config) { o(c) }

type config struct {
	schemaSet    bool // WithSchema was given
	refsSet      bool // WithReferences was given
	errs         []error
	schema       string
	refs         []Reference
	subject      SubjectNameStrategy
	autoRegister bool
	autoRegSet   bool // WithAutoRegister was given
	useLatest    bool
	latestTTL    time.Duration
	validate     bool
	recordFormat EventRecordFormat
	wireFormat   WireFormat
	idHeader     bool // WithSchemaIDHeader
	retry        retry.Policy
}

func (c *config) bad(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// subjectFor names the subject for t with the subject name strategy.
// recordName is T's record name, "" when its schema has none; a strategy
// that uses the record name (it names another subject when called again
// with another name) then fails with ErrNoSchema, need saying what would
// give T a record name.
func (c *config) subjectFor(t Target, recordName, need string) (string, error) {
	subject := c.subject(t, recordName)
	if recordName == "" && subject != c.subject(t, "x") {
		return "", errf(ErrNoSchema, nil, "a record-name subject strategy needs %s", need)
	}
	return subject, nil
}

func defaultConfig() *config {
	return &config{
		subject:      TopicNameStrategy,
		autoRegister: true,
		latestTTL:    5 * time.Minute,
		validate:     true,
		retry:        defaultRetry,
	}
}

// newConfig applies the options of an Avro or Protobuf codec over the
// defaults.
func newConfig(format string, opts []Option) (*config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.applyRegistry(c)
		}
	}
	return c.check(format)
}

// newJSONSchemaConfig applies the options of a JSONSchema codec over the
// defaults.
func newJSONSchemaConfig(opts []JSONSchemaOption) (*config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.applyJSONSchema(c)
		}
	}
	return c.check("JSON Schema")
}

// checkRegistry checks r for a codec named codec of format, and the
// options that depend on its kind.
func (c *config) checkRegistry(r Registry, codec, format string) error {
	if r == nil {
		return fmt.Errorf("serde: %w: %s: nil Registry", ErrInvalidOption, codec)
	}
	if b, ok := r.(*bundledRegistry); ok {
		return c.checkBundled(b, codec, format)
	}
	_, glue := r.(glueKind)
	switch {
	case glue && c.refsSet:
		return fmt.Errorf("serde: %w: %s: WithReferences: an AWS Glue registry has no schema references", ErrInvalidOption, codec)
	case glue && c.wireFormat == WireFormatConfluent:
		return fmt.Errorf("serde: %w: %s: WithWireFormat(WireFormatConfluent) with an AWS Glue registry", ErrInvalidOption, codec)
	case glue && c.idHeader:
		return fmt.Errorf("serde: %w: %s: WithSchemaIDHeader with an AWS Glue registry (schema id headers are Confluent's)", ErrInvalidOption, codec)
	case !glue && c.wireFormat == WireFormatGlue:
		return fmt.Errorf("serde: %w: %s: WithWireFormat(WireFormatGlue) with a Confluent registry", ErrInvalidOption, codec)
	}
	return nil
}

// newRegistryClient makes the codec's client of r with c's retries, and
// applies the defaults that depend on r's kind (auto-registration is off by
// default for AWS Glue).
func newRegistryClient(r Registry, c *config) *client {
	cl := newClient(r, c.retry, c.latestTTL)
	if cl.glue != nil && !c.autoRegSet {
		c.autoRegister = false
	}
	if b := cl.bundled; b != nil && !c.schemaSet && b.info.text != "" {
		c.schema, c.schemaSet = b.info.text, true // the bundled schema is T's
	}
	return cl
}

// checkBundled checks a Bundled registry for a codec named codec of
// format, and the options that cannot go with it.
func (c *config) checkBundled(b *bundledRegistry, codec, format string) error {
	if err := b.check(codec, format); err != nil {
		return err
	}
	switch {
	case c.refsSet:
		return fmt.Errorf("serde: %w: %s: WithReferences with a Bundled registry (a bundled schema stands alone)", ErrInvalidOption, codec)
	case b.glue && c.idHeader:
		return fmt.Errorf("serde: %w: %s: WithSchemaIDHeader with a bundled schema that writes an AWS Glue schema version id", ErrInvalidOption, codec)
	}
	return nil
}

// check reports every bad option value at once.
func (c *config) check(format string) (*config, error) {
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("serde: %w: %s: %w", ErrInvalidOption, format, errors.Join(c.errs...))
	}
	return c, nil
}

// WithSchema gives the schema text for T.
//
//   - Avro: T's schema (JSON). It is the reader schema that data written
//     with other (compatible) schemas is resolved against, and the schema a
//     serializer registers. Without it a deserializer decodes with the
//     writer schema alone and a serializer needs WithUseLatest.
//   - Protobuf: .proto text to register instead of the text derived from
//     T's descriptor (T must be a message of it).
//   - JSONSchema: the JSON Schema document for T; needed to serialize
//     unless WithUseLatest.
//
// Default: none.
func WithSchema(text string) Option {
	return registryOption(func(c *config) {
		c.schemaSet = true
		if strings.TrimSpace(text) == "" {
			c.bad("WithSchema: empty schema")
		}
		c.schema = text
	})
}

// WithReferences lists the registered schemas that the WithSchema text
// refers to (Avro named types, Protobuf imports, JSON Schema $refs): name,
// subject, version. The slice is copied. Default: none. Avro, Protobuf
// (with WithSchema), JSONSchema.
func WithReferences(refs ...Reference) Option {
	return registryOption(func(c *config) {
		c.refsSet = true
		c.refs = append([]Reference(nil), refs...)
	})
}

// WithSubjectNameStrategy chooses how a serializer names its subject.
// Default: TopicNameStrategy ("<topic>-key" / "<topic>-value"). All registry
// formats.
func WithSubjectNameStrategy(s SubjectNameStrategy) Option {
	return registryOption(func(c *config) {
		if s == nil {
			c.bad("WithSubjectNameStrategy: nil strategy")
			return
		}
		c.subject = s
	})
}

// WithAutoRegister says whether a serializer registers its schema under the
// subject or only looks up its id and fails with ErrUnknownSchema when it is
// not registered (false). Default: true with a Confluent registry, false
// with an AWS Glue one (as AWS's serializers default). All registry formats.
func WithAutoRegister(on bool) Option {
	return registryOption(func(c *config) {
		c.autoRegister, c.autoRegSet = on, true
	})
}

// WithUseLatest makes a serializer write with the latest version registered
// under its subject instead of its own schema; it never registers. The
// latest version is read again after the latest TTL (WithLatestTTL).
// Default: off. All registry formats.
func WithUseLatest() Option {
	return registryOption(func(c *config) {
		c.useLatest = true
	})
}

// WithLatestTTL sets how long a serializer using WithUseLatest trusts the
// latest version it read before reading it again. Default: 5 minutes. Must
// be positive. All registry formats.
func WithLatestTTL(d time.Duration) Option {
	return registryOption(func(c *config) {
		if d <= 0 {
			c.bad("WithLatestTTL: %v is not positive", d)
		}
		c.latestTTL = d
	})
}

// WithValidation turns JSON Schema validation of values on or off, for both
// directions: a serializer validates what it writes against its writer
// schema, a deserializer validates what it reads against the writer schema
// named by the schema id. Default: on. JSONSchema only.
func WithValidation(on bool) JSONSchemaOption {
	return jsonSchemaOption(func(c *config) {
		c.validate = on
	})
}

// WithEventRecordFormat pins how values that arrive with ESM schema metadata
// (Message.Schema != nil) are framed, instead of inferring it per record.
// Default: EventRecordFormatAuto. All registry formats.
func WithEventRecordFormat(f EventRecordFormat) Option {
	return registryOption(func(c *config) {
		switch f {
		case EventRecordFormatAuto, EventRecordFormatSource, EventRecordFormatJSON:
			c.recordFormat = f
		default:
			c.bad("WithEventRecordFormat: unknown format %q", f)
		}
	})
}

// WithWireFormat pins the wire format a deserializer reads when the record
// has no ESM schema metadata: a record in the other format is ErrMagicByte
// rather than looked up. Default: WireFormatAuto, which tells them apart
// by the first byte of each record (0 Confluent, 3 AWS Glue); both are
// unambiguous. Serializers write the format of their registry. Pinning the
// format the codec's registry does not serve is ErrInvalidOption. All
// registry formats.
func WithWireFormat(f WireFormat) Option {
	return registryOption(func(c *config) {
		switch f {
		case WireFormatAuto, WireFormatConfluent, WireFormatGlue:
			c.wireFormat = f
		default:
			c.bad("WithWireFormat: unknown format %q", f)
		}
	})
}

// WithSchemaIDHeader makes the codec's SerializeWithHeaders (see
// HeaderSerializer) write the schema id into the record header
// KeySchemaIDHeader or ValueSchemaIDHeader (magic byte 0, the 4-byte id,
// then any Protobuf message indexes) and return the bare body, as newer
// Confluent serializers do in header mode; kafkalambda.Output uses it.
// Serialize, which cannot return headers, still writes the prefix.
// Default: off, the id is in the payload prefix. Confluent registry only
// (ErrInvalidOption with AWS Glue). All registry formats.
func WithSchemaIDHeader() Option {
	return registryOption(func(c *config) { c.idHeader = true })
}

// WithRetry sets how registry calls are retried on HTTP 408, 429, 5xx and
// transport errors: at most attempts tries, sleeping a jittered exponential
// backoff from initial up to max between them, and never past the caller's
// context deadline. Default: 5 attempts, 50ms, 1s. attempts >= 1 and
// 0 < initial <= max. All registry formats.
func WithRetry(attempts int, initial, max time.Duration) Option {
	return registryOption(func(c *config) {
		if attempts < 1 || initial <= 0 || max < initial {
			c.bad("WithRetry: want attempts >= 1 and 0 < initial <= max, got %d, %v, %v", attempts, initial, max)
			return
		}
		c.retry = retry.Policy{Attempts: attempts, Initial: initial, Max: max}
	})
}
