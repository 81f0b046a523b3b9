//go:build !serde.noglue

package serde

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"
)

// Glue returns the Registry of the AWS Glue Schema Registry named
// registryName, reached through c, an aws-sdk-go-v2 Glue client; it returns
// nil for a nil c or an empty registryName, which the codecs reject with
// ErrInvalidOption. One Registry serves any number of codecs, and the same
// codecs (Avro, Protobuf, JSONSchema) read and write through it: only the
// wire format and the registry calls differ from a Confluent registry.
//
// # Wire format
//
// A codec of a Glue registry writes AWS's format: the header version byte
// 3, a compression byte (0 none, 5 zlib: see WithGlueCompression), the
// 16-byte schema version id, then the body (for Protobuf, the message's
// index among the schema's messages sorted by full name as one unsigned
// varint, then the message). It reads that format, zlib bodies included
// (inflated to at most 16 MiB; more is ErrCompression), and the ESM's
// SOURCE and JSON modes with a schema version id (a UUID) in the record's
// schema metadata. Data in Confluent's format (first byte 0), or metadata
// with a numeric schema id, is ErrFormatMismatch: no Glue schema has a
// numeric id.
//
// # Schemas and subjects
//
// A subject is a Glue schema name in registryName. Readers call
// GetSchemaVersion by schema version id, once per id (the codecs cache
// what they fetch, never a failure). Serializers look their schema up with
// GetSchemaByDefinition; with WithAutoRegister(true) they register it with
// RegisterSchemaVersion instead, creating the schema (CreateSchema, BACKWARD
// compatibility, as AWS's serializers do) when the name is new.
// Auto-registration is off by default for a Glue registry. WithUseLatest
// reads the latest version with ListSchemaVersions and GetSchemaVersion.
// Glue schemas have no references: WithReferences is ErrInvalidOption, and a
// Protobuf T whose file imports others (google/protobuf/* aside) cannot be
// registered.
//
// # Errors and retries
//
// c's own retryer runs first (the SDK retries throttling and 5xx answers);
// the codecs then retry within the caller's deadline as for any Registry.
// EntityNotFoundException is ErrUnknownSchema; AccessDeniedException and
// rejected credentials (UnrecognizedClientException,
// InvalidSignatureException, ExpiredTokenException, HTTP 401/403) are
// ErrRegistryAuth; a registration Glue answers with status FAILURE is
// ErrIncompatible, InvalidInputException to a registration is
// ErrInvalidSchema; ThrottlingException, InternalServiceException, HTTP 5xx
// and transport errors are ErrRegistry and retried; anything else is
// ErrRegistry, not retried. Glue's message enters the error on one line,
// cut to 200 bytes.
func Glue(c *glue.Client, registryName string, opts ...GlueOption) Registry {
	if c == nil || registryName == "" {
		return nil
	}
	g := &glueRegistry{c: c, registry: registryName}
	for _, o := range opts {
		if o != nil {
			o.applyGlue(g)
		}
	}
	return g
}

// GlueOption configures a Glue registry (see Glue); it is accepted nowhere
// else. A nil GlueOption is ignored. It is sealed: only this package
// implements it.
type GlueOption interface {
	applyGlue(*glueRegistry)
}

type glueOption func(*glueRegistry)

func (o glueOption) applyGlue(g *glueRegistry) { o(g) }

// WithGlueCompression makes the codecs of the Glue registry zlib-compress
// the bodies they write (compression byte 5), as AWS's serializers do with
// compressionType ZLIB. Readers inflate zlib bodies either way. Default:
// off.
func WithGlueCompression(on bool) GlueOption {
	return glueOption(func(g *glueRegistry) { g.compress = on })
}

// glueRegistry adapts *glue.Client to Registry; the codecs find schemas by
// version id through schemaByVersionID.
type glueRegistry struct {
	c        *glue.Client
	registry string
	compress bool
}

var _ glueKind = (*glueRegistry)(nil)

func (g *glueRegistry) compresses() bool { return g.compress }

func (g *glueRegistry) schemaID(subject string) *types.SchemaId {
	return &types.SchemaId{RegistryName: &g.registry, SchemaName: &subject}
}

// schemaByVersionID is GetSchemaVersion by schema version id.
func (g *glueRegistry) schemaByVersionID(ctx context.Context, id uuid) (Schema, error) {
	s := id.String()
	out, err := g.c.GetSchemaVersion(ctx, &glue.GetSchemaVersionInput{SchemaVersionId: &s})
	if err != nil {
		return Schema{}, glueError(err, false)
	}
	return glueSchema(out.SchemaVersionId, out.VersionNumber, out.DataFormat, out.SchemaDefinition, out.Status)
}

// SchemaByID is ErrUnknownSchema: Glue schemas have no numeric ids.
func (g *glueRegistry) SchemaByID(_ context.Context, id int) (Schema, error) {
	return Schema{}, errf(ErrUnknownSchema, nil, "schema id %d: AWS Glue schemas have no numeric ids", id)
}

func (g *glueRegistry) SubjectVersions(ctx context.Context, subject string) ([]int, error) {
	var versions []int
	in := &glue.ListSchemaVersionsInput{SchemaId: g.schemaID(subject)}
	for {
		out, err := g.c.ListSchemaVersions(ctx, in)
		if err != nil {
			return nil, glueError(err, false)
		}
		for _, v := range out.Schemas {
			if v.VersionNumber != nil && v.Status == types.SchemaVersionStatusAvailable {
				versions = append(versions, int(*v.VersionNumber))
			}
		}
		if out.NextToken == nil || *out.NextToken == "" {
			return versions, nil
		}
		in.NextToken = out.NextToken
	}
}

func (g *glueRegistry) SchemaByVersion(ctx context.Context, subject string, version int) (Schema, error) {
	v := int64(version)
	out, err := g.c.GetSchemaVersion(ctx, &glue.GetSchemaVersionInput{
		SchemaId:            g.schemaID(subject),
		SchemaVersionNumber: &types.SchemaVersionNumber{VersionNumber: &v},
	})
	if err != nil {
		return Schema{}, glueError(err, false)
	}
	return glueSchema(out.SchemaVersionId, out.VersionNumber, out.DataFormat, out.SchemaDefinition, out.Status)
}

// Register is RegisterSchemaVersion, or CreateSchema when Glue has no
// schema of that name.
func (g *glueRegistry) Register(ctx context.Context, subject string, s Schema) (Schema, error) {
	out, err := g.c.RegisterSchemaVersion(ctx, &glue.RegisterSchemaVersionInput{SchemaId: g.schemaID(subject), SchemaDefinition: &s.Text})
	var nf *types.EntityNotFoundException
	if errors.As(err, &nf) {
		return g.create(ctx, subject, s)
	}
	if err != nil {
		return Schema{}, glueError(err, true)
	}
	return registeredGlue(subject, out.SchemaVersionId, out.VersionNumber, out.Status, s)
}

func (g *glueRegistry) create(ctx context.Context, subject string, s Schema) (Schema, error) {
	format := s.Type
	if format == "" {
		format = avroFormat
	}
	out, err := g.c.CreateSchema(ctx, &glue.CreateSchemaInput{
		RegistryId:       &types.RegistryId{RegistryName: &g.registry},
		SchemaName:       &subject,
		DataFormat:       types.DataFormat(format),
		Compatibility:    types.CompatibilityBackward,
		SchemaDefinition: &s.Text,
	})
	var exists *types.AlreadyExistsException
	if errors.As(err, &exists) { // created meanwhile by another writer
		return Schema{}, &temporary{err: glueError(err, true)}
	}
	if err != nil {
		return Schema{}, glueError(err, true)
	}
	return registeredGlue(subject, out.SchemaVersionId, out.LatestSchemaVersion, out.SchemaVersionStatus, s)
}

// Lookup is GetSchemaByDefinition.
func (g *glueRegistry) Lookup(ctx context.Context, subject string, s Schema) (Schema, error) {
	out, err := g.c.GetSchemaByDefinition(ctx, &glue.GetSchemaByDefinitionInput{SchemaId: g.schemaID(subject), SchemaDefinition: &s.Text})
	if err != nil {
		return Schema{}, glueError(err, false)
	}
	if out.Status != types.SchemaVersionStatusAvailable {
		return Schema{}, errf(ErrUnknownSchema, nil, "the schema is %s under %q", out.Status, subject)
	}
	id, ok := parseUUID(deref(out.SchemaVersionId))
	if !ok {
		return Schema{}, errf(ErrRegistry, nil, "AWS Glue answered schema version id %.40q, not a UUID", deref(out.SchemaVersionId))
	}
	return Schema{GUID: id.String(), Type: string(out.DataFormat), Text: s.Text}, nil
}

// registeredGlue is the answer to a registration: a version that is
// AVAILABLE; PENDING (Glue still checking compatibility) is retried,
// FAILURE is ErrIncompatible.
func registeredGlue(subject string, versionID *string, version *int64, status types.SchemaVersionStatus, s Schema) (Schema, error) {
	switch status {
	case types.SchemaVersionStatusAvailable:
	case types.SchemaVersionStatusPending:
		return Schema{}, &temporary{err: fmt.Errorf("AWS Glue has the new version of %q pending", subject)}
	case types.SchemaVersionStatusFailure:
		return Schema{}, errf(ErrIncompatible, nil, "AWS Glue refused the new version of %q (status FAILURE)", subject)
	default:
		return Schema{}, errf(ErrRegistry, nil, "AWS Glue answered status %.40q for the new version of %q", status, subject)
	}
	id, ok := parseUUID(deref(versionID))
	if !ok {
		return Schema{}, errf(ErrRegistry, nil, "AWS Glue answered schema version id %.40q, not a UUID", deref(versionID))
	}
	out := Schema{GUID: id.String(), Type: s.Type, Text: s.Text}
	if version != nil {
		out.Version = int(*version)
	}
	return out, nil
}

func glueSchema(versionID *string, version *int64, format types.DataFormat, def *string, status types.SchemaVersionStatus) (Schema, error) {
	if def == nil {
		return Schema{}, errf(ErrRegistry, nil, "AWS Glue answered no schema definition")
	}
	if status != "" && status != types.SchemaVersionStatusAvailable {
		return Schema{}, errf(ErrUnknownSchema, nil, "the schema version is %s, not AVAILABLE", status)
	}
	s := Schema{GUID: deref(versionID), Type: string(format), Text: *def}
	if version != nil {
		s.Version = int(*version)
	}
	return s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// glueError says what an SDK error means (see Glue, "Errors and
// retries"); registering says the call was a registration.
func glueError(err error, registering bool) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		said := describe(err, "AWS Glue answered %s: %s", oneLine(api.ErrorCode()), oneLine(api.ErrorMessage()))
		switch api.ErrorCode() {
		case "EntityNotFoundException":
			return fmt.Errorf("%w: %w", ErrUnknownSchema, said)
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken":
			return fmt.Errorf("%w: %w", ErrRegistryAuth, said)
		case "InvalidInputException":
			if registering {
				return fmt.Errorf("%w: %w", ErrInvalidSchema, said)
			}
		case "ThrottlingException", "InternalServiceException", "ConcurrentModificationException":
			return &temporary{err: said}
		}
		if status, ok := httpStatus(err); ok {
			switch {
			case status == 401 || status == 403:
				return fmt.Errorf("%w: %w", ErrRegistryAuth, said)
			case status == 408 || status == 429 || status >= 500:
				return &temporary{err: said}
			}
		}
		return fmt.Errorf("%w: %w", ErrRegistry, said)
	}
	if status, ok := httpStatus(err); ok && (status == 408 || status == 429 || status >= 500) {
		return &temporary{err: describe(err, "AWS Glue: HTTP %s", strconv.Itoa(status))}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrRegistry, describe(err, "AWS Glue: %s", oneLine(err.Error())))
}

func httpStatus(err error) (int, bool) {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode(), true
	}
	return 0, false
}
