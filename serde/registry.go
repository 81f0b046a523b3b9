package serde

import "context"

// Registry is the part of a schema registry that the registry codecs (Avro,
// Protobuf, JSONSchema) use: five calls, each bounded by its context.
// Confluent adapts a github.com/riferrei/srclient client, the usual one,
// to it; Glue an AWS Glue Schema Registry; Bundled serves one schema
// compiled into the function, with no calls.
//
// The codecs put their own layer in front of it (see the package
// documentation, "Registry and caching"): an id → schema cache read without
// locks, one call for concurrent misses of one key, retries within the
// caller's context deadline, and no cached failures. So an implementation
// needs no cache of its own (one does no harm: what the codecs ask for by id
// or version never changes) and no retries.
//
// Implementations must be safe for concurrent use, and must return once ctx
// ends (with ctx.Err() or an error wrapping it). The ctx a codec passes is
// not canceled when the one caller that started a call gives up, because
// other callers may be waiting for the same answer, but it carries that
// caller's deadline and values.
//
// Errors say what the registry answered through this package's sentinels,
// which the codecs take as final, never retried: ErrUnknownSchema (no such
// id, subject or version; for Lookup, the schema is not registered under
// the subject), ErrIncompatible (Register: refused as incompatible),
// ErrInvalidSchema (Register: refused as invalid) and ErrRegistryAuth
// (credentials rejected or access denied). A net.Error (a refused
// connection, DNS, TLS, a timeout, context.DeadlineExceeded) is retried.
// Anything else is ErrRegistry, not retried.
type Registry interface {
	// SchemaByID returns the schema with the given global id. Its Version
	// may be 0: an id is not tied to one subject.
	SchemaByID(ctx context.Context, id int) (Schema, error)
	// SubjectVersions lists the versions registered under subject, in any
	// order (ErrUnknownSchema when there is no such subject).
	SubjectVersions(ctx context.Context, subject string) ([]int, error)
	// SchemaByVersion returns one version of a subject, with its id.
	SchemaByVersion(ctx context.Context, subject string, version int) (Schema, error)
	// Register registers s (its Type, Text and References) under subject,
	// or finds it registered there already, and returns it with its ID;
	// Version is 0 when the registry's answer does not say it (a
	// Confluent registry's does not).
	Register(ctx context.Context, subject string, s Schema) (Schema, error)
	// Lookup returns the version of subject that is s (its Type, Text and
	// References), with its ID and Version; ErrUnknownSchema when s is not
	// registered under subject.
	Lookup(ctx context.Context, subject string, s Schema) (Schema, error)
}

// GUIDRegistry is a Registry that can also find a schema by its GUID, as
// newer Confluent registries name schemas besides their numeric id. It is
// optional: a codec reading a record whose schema id header holds a GUID
// (magic byte 1) asks the registry for it through this interface, and fails
// that record with ErrUnknownSchema when the registry does not implement
// it. The Confluent adapter over srclient v0.7.3 does not (that client has
// no GUID lookup); a Confluent registry serves GET /schemas/guids/{guid},
// which an implementation can call. The same caching, retry and error rules as for
// SchemaByID apply.
type GUIDRegistry interface {
	Registry
	// SchemaByGUID returns the schema with the given GUID (36-character
	// form), with its numeric ID when the registry knows one.
	SchemaByGUID(ctx context.Context, guid string) (Schema, error)
}

// Schema is one schema as a registry holds it.
type Schema struct {
	// ID is the registry's global id; 0 in what a codec passes to
	// Register and Lookup.
	ID int
	// GUID is the schema's GUID, when the registry names schemas by one:
	// an AWS Glue registry's schema version id (a UUID, in its 36-character
	// form). "" for a Confluent registry.
	GUID string
	// Version is the schema's version under the subject it was asked for
	// by; 0 when unknown (see the Registry methods).
	Version int
	// Type is "AVRO", "PROTOBUF" or "JSON" (JSON Schema). An empty Type
	// from a registry means "AVRO", as in Confluent's REST API.
	Type string
	// Text is the schema itself: Avro JSON, .proto source or a JSON Schema
	// document.
	Text string
	// References are the registered schemas that Text refers to.
	References []Reference
}

// Reference names a registered schema that another schema refers to: an
// Avro named type, a Protobuf import, a JSON Schema $ref.
type Reference struct {
	// Name is how the referring schema names it: the Avro type's full
	// name, the Protobuf import path, the JSON Schema $ref.
	Name string
	// Subject and Version say where it is registered.
	Subject string
	Version int
}

// SubjectNameStrategy names the registry subject under which a serializer
// registers or looks up its schema. recordName is the schema's record name:
// the Avro record's full name, the Protobuf message's full name, or the JSON
// Schema's "title".
type SubjectNameStrategy func(t Target, recordName string) string

// TopicNameStrategy is the default: "<topic>-key" or "<topic>-value".
func TopicNameStrategy(t Target, _ string) string {
	if t.IsKey {
		return t.Topic + "-key"
	}
	return t.Topic + "-value"
}

// RecordNameStrategy uses the record name alone, so one subject spans topics.
func RecordNameStrategy(_ Target, recordName string) string { return recordName }

// TopicRecordNameStrategy is "<topic>-<record name>", for topics that carry
// several record types.
func TopicRecordNameStrategy(t Target, recordName string) string {
	return t.Topic + "-" + recordName
}
