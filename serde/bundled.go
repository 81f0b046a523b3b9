package serde

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Bundled returns a Registry that holds one schema compiled into the
// function and makes no call at all: for functions that must not depend on
// a schema registry at run time. The codecs (Avro, Protobuf, JSONSchema)
// take it like any Registry and read every framing they read through one:
// the Confluent prefix (magic byte 0, 4-byte id, Protobuf message indexes),
// the AWS Glue prefix (version byte 3, compression 0 or 5, schema version
// id; zlib bodies inflated), a schema id header (a numeric id or a GUID),
// and the ESM's SOURCE and JSON modes with either kind of id in the
// metadata. The prefix is checked and skipped, the id it names is checked
// against the accepted ids, and the body is decoded with s; a record naming
// an id that is not accepted is ErrSchemaNotAllowed, the record's fault.
//
// The accepted ids: by default, s.ID or s.GUID, the id it writes with, and
// no other; WithAllowedIDs replaces that with its own list. With neither
// id set and no WithAllowedIDs, every id is accepted: whatever id a record
// names, its body is decoded with s.
//
// s.Type is the codec's format ("AVRO", also meant by "", "PROTOBUF" or
// "JSON"); a codec of another format is ErrInvalidOption. s.Text is the
// schema: required for Avro and JSON Schema; for Protobuf "" means T's own
// file, as the codec derives it from T's descriptor, and .proto text is
// only needed when the writers' file differs from T's (the message indexes
// are read against it). A Union has no T: over a Bundled registry it
// needs s.Text whatever the type (ErrInvalidOption without). s.References
// must be empty: a bundled schema is self-contained (WithReferences is
// ErrInvalidOption with it too).
//
// The bundled schema is taken as the writer schema of every id it accepts.
// That is right only if every producer of an accepted id writes with
// exactly that schema (for Avro, whose binary encoding carries no field
// tags, a different writer schema decodes into garbage or fails, or worse,
// succeeds), so accept only ids known to name it: set s.ID or s.GUID, or
// list them with WithAllowedIDs. Leaving both out accepts any id. Avro
// schema resolution still applies between the bundled writer schema and
// T's schema given with WithSchema.
//
// Unless WithSchema says otherwise, s is also T's schema for the codec: the
// Avro reader schema, the JSON Schema that values are validated against,
// the Protobuf text whose message indexes name T.
//
// Serializing writes s's pinned id: s.ID in the Confluent wire format, or
// s.GUID (a UUID) as an AWS Glue schema version id in Glue's format
// (uncompressed). The codec's schema must be s (WithSchema, if given, must
// be s.Text), else Serialize fails with ErrUnknownSchema; with neither id
// set, a serializer fails with ErrUnknownSchema (the configuration's fault)
// and only reading works. Setting both is ErrInvalidOption. The subject name
// strategy plays no part; WithUseLatest writes s too.
//
// Mistakes in s or the options (an unknown Type, an id that is neither a
// Confluent id nor a UUID) surface as ErrInvalidOption from the codec's
// constructor. One Bundled registry may serve several codecs of its format.
func Bundled(s Schema, opts ...BundledOption) Registry {
	b := &bundledRegistry{}
	for _, o := range opts {
		if o != nil {
			o.applyBundled(b)
		}
	}
	b.setSchema(s)
	return b
}

// BundledOption configures a Bundled registry; it is accepted nowhere
// else. A nil BundledOption is ignored. It is sealed: only this package
// implements it.
type BundledOption interface {
	applyBundled(*bundledRegistry)
}

type bundledOption func(*bundledRegistry)

func (o bundledOption) applyBundled(b *bundledRegistry) { o(b) }

// WithAllowedIDs sets the schema ids a Bundled registry accepts: a
// Confluent schema id in decimal ("42"), or a UUID, which matches an AWS
// Glue schema version id and a Confluent schema GUID (from a schema id
// header) alike. A record naming any other id is ErrSchemaNotAllowed, the
// record's fault.
//
// The list replaces the default, it does not add to it: the id the
// registry writes with (Schema.ID or GUID) is accepted only if it is on the
// list too. Repeating the option adds to the list. An empty list (the
// option given, no id) is ErrInvalidOption, as is an id of neither form.
//
// Default, without the option: with Schema.ID or Schema.GUID set, that id
// alone is accepted, so a producer that moves to a new schema version is
// refused rather than decoded with the wrong writer schema; with neither
// set, EVERY id is accepted and decoded with the one bundled schema.
func WithAllowedIDs(ids ...string) BundledOption {
	return bundledOption(func(b *bundledRegistry) {
		if b.allowed == nil {
			b.allowed = map[schemaRef]bool{}
		}
		for _, s := range ids {
			ref, err := metaSchemaID(strings.TrimSpace(s))
			if err != nil {
				b.errs = append(b.errs, fmt.Sprintf("WithAllowedIDs: %.40q is neither a Confluent schema id nor a UUID", s))
				continue
			}
			b.allowed[ref] = true
		}
	})
}

// bundledRegistry is Bundled's Registry. It is immutable once built.
type bundledRegistry struct {
	info    *schemaInfo        // the schema; its ref is the id written with, else bundledKey
	write   bool               // info names an id to write with
	glue    bool               // the write id is an AWS Glue schema version id
	allowed map[schemaRef]bool // nil: every id (no write id, no option); keys carry no cguid mark
	errs    []string           // for the codec's constructor
}

var _ Registry = (*bundledRegistry)(nil)

// bundledKey is the ref a bundled schema without a write id is cached
// under; no record names it (a Confluent id is at least 1).
var bundledKey = schemaRef{id: -1}

func (b *bundledRegistry) setSchema(s Schema) {
	typ := avroFormat
	if s.Type != "" {
		typ = strings.ToUpper(s.Type)
	}
	switch typ {
	case avroFormat, protobufFormat, jsonSchemaFormat:
	default:
		b.errs = append(b.errs, fmt.Sprintf("Bundled: unknown schema type %.40q", s.Type))
	}
	if len(s.References) > 0 {
		b.errs = append(b.errs, "Bundled: a bundled schema has no references")
	}
	if s.ID < 0 || int64(s.ID) > 0xFFFFFFFF {
		b.errs = append(b.errs, fmt.Sprintf("Bundled: Schema.ID %d out of range", s.ID))
	}
	b.info = &schemaInfo{typ: typ, text: s.Text, version: 1}
	g, ok := parseUUID(s.GUID)
	switch {
	case s.GUID != "" && !ok:
		b.errs = append(b.errs, fmt.Sprintf("Bundled: Schema.GUID %.40q is not a UUID", s.GUID))
	case s.GUID != "" && s.ID != 0:
		b.errs = append(b.errs, "Bundled: set Schema.ID (Confluent) or Schema.GUID (AWS Glue) to write with, not both")
	case s.GUID != "":
		b.info.guid, b.write, b.glue = g, true, true
	case s.ID > 0:
		b.info.id, b.write = s.ID, true
	}
	switch {
	case b.allowed == nil && b.write: // the default: the write id alone
		b.allowed = map[schemaRef]bool{b.info.ref(): true}
	case b.allowed != nil && len(b.allowed) == 0:
		b.errs = append(b.errs, "WithAllowedIDs: no id (every record would be refused)")
	}
}

// check reports what the constructor of a codec of format (named codec)
// must refuse.
func (b *bundledRegistry) check(codec, format string) error {
	var errs []string
	errs = append(errs, b.errs...)
	if len(b.errs) == 0 && b.info.typ != format {
		errs = append(errs, fmt.Sprintf("Bundled: the bundled schema is %s, the codec reads %s", b.info.typ, format))
	}
	if b.info.text == "" && format != protobufFormat {
		errs = append(errs, "Bundled: empty Schema.Text (only a Protobuf schema may leave it to T's descriptor)")
	}
	if len(errs) > 0 {
		return fmt.Errorf("serde: %w: %s: %s", ErrInvalidOption, codec, strings.Join(errs, "; "))
	}
	return nil
}

// checkUnion reports what Union must refuse of a Bundled registry: the
// mistakes check reports for any codec, and an empty Schema.Text of any
// type. A Union has no T whose descriptor could stand in for a Protobuf
// file, so it would read its message indexes against an empty file and
// fail every record with ErrMessageMismatch, the record's fault.
func (b *bundledRegistry) checkUnion() []string {
	errs := slices.Clone(b.errs)
	if b.info.text == "" {
		errs = append(errs, "Bundled: empty Schema.Text: a Union has no T to take the schema from; give the schema text (for Protobuf, the .proto file that declares the cases' messages)")
	}
	return errs
}

// key checks that ref is allowed and returns the one ref that the codecs
// cache the bundled schema under: every id a record names maps to it, so
// records naming many ids add nothing to any cache.
func (b *bundledRegistry) key(ref schemaRef) (schemaRef, error) {
	if b.allowed != nil {
		plain := ref
		plain.cguid = false
		if !b.allowed[plain] {
			return schemaRef{}, errf(ErrSchemaNotAllowed, nil, "%s is not one of the bundled schema's allowed ids", ref)
		}
	}
	return b.cacheKey(), nil
}

// cacheKey is the ref the bundled schema is cached under: its write id,
// else bundledKey.
func (b *bundledRegistry) cacheKey() schemaRef {
	if b.write {
		return b.info.ref()
	}
	return bundledKey
}

func (b *bundledRegistry) schema() Schema {
	s := Schema{ID: b.info.id, Version: 1, Type: b.info.typ, Text: b.info.text}
	if b.glue {
		s.GUID = b.info.guid.String()
	}
	return s
}

// SchemaByID returns the bundled schema for an allowed id.
func (b *bundledRegistry) SchemaByID(_ context.Context, id int) (Schema, error) {
	if _, err := b.key(schemaRef{id: id}); err != nil {
		return Schema{}, err
	}
	return b.schema(), nil
}

// SubjectVersions is [1] for every subject: the bundled schema is the one
// version of any subject (WithUseLatest writes it). Without an id to write
// with there is no version to write: ErrUnknownSchema.
func (b *bundledRegistry) SubjectVersions(context.Context, string) ([]int, error) {
	if !b.write {
		return nil, errf(ErrUnknownSchema, nil, "the bundled schema has no id to write with (set Schema.ID or Schema.GUID)")
	}
	return []int{1}, nil
}

// SchemaByVersion returns the bundled schema as version 1 of any subject.
func (b *bundledRegistry) SchemaByVersion(_ context.Context, subject string, version int) (Schema, error) {
	if version != 1 {
		return Schema{}, errf(ErrUnknownSchema, nil, "subject %q has only version 1 (the bundled schema), not %d", subject, version)
	}
	return b.schema(), nil
}

// Register is Lookup: nothing is registered anywhere.
func (b *bundledRegistry) Register(ctx context.Context, subject string, s Schema) (Schema, error) {
	return b.Lookup(ctx, subject, s)
}

// Lookup returns the bundled schema with its write id when s is it.
func (b *bundledRegistry) Lookup(_ context.Context, _ string, s Schema) (Schema, error) {
	if !b.write {
		return Schema{}, errf(ErrUnknownSchema, nil, "the bundled schema has no id to write with (set Schema.ID or Schema.GUID)")
	}
	if b.info.text != "" && strings.TrimSpace(s.Text) != strings.TrimSpace(b.info.text) {
		return Schema{}, errf(ErrUnknownSchema, nil, "the schema to write is not the bundled schema")
	}
	out := b.schema()
	out.Text = s.Text
	return out, nil
}
