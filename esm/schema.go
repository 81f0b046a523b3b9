package esm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// SchemaRegistry configures the Schema Registry integration: a Confluent
// Schema Registry (or compatible), named by URL, or an AWS Glue Schema
// Registry, named by Glue and GlueRegistry, that the mapping asks for each
// schema id's format. Records whose key or value (as Key and Value say) is
// not in the registry's wire format, or names a schema id it does not
// know, are rejected before any invocation, as DESERIALIZATION_ERROR and
// SCHEMA_NOT_FOUND.
//
// With a Glue registry, a key or value must be in AWS Glue's wire format
// (header version byte 3, compression byte 0 or 5 for zlib, the 16-byte
// schema version id). The mapping asks Glue for the version with
// GetSchemaVersion, once per id: a version Glue does not have
// (EntityNotFoundException), one that is not AVAILABLE, and one whose
// schema ARN names another registry than GlueRegistry are
// SCHEMA_NOT_FOUND. A zlib body that does not inflate (or inflates past
// 16 MiB) is DESERIALIZATION_ERROR. Any other Glue error (throttling,
// rejected credentials, a refused connection) retries the batch later, as
// an unreachable Confluent registry does.
type SchemaRegistry struct {
	// URL of a Confluent registry, e.g. "http://localhost:8081". Required
	// unless Glue is set; it must be empty when Glue is.
	URL string
	// Username and Password, for HTTP basic auth when set (Confluent
	// only: a Glue client signs its requests with its own credentials).
	Username, Password string
	// Glue, when set, makes the registry the AWS Glue Schema Registry
	// GlueRegistry (AWS's SchemaRegistryURI is that registry's ARN),
	// reached through this aws-sdk-go-v2 Glue client: its region,
	// credentials, endpoint and retryer are used as they are.
	Glue *glue.Client
	// GlueRegistry is the name of the Glue registry; required with Glue.
	GlueRegistry string
	// Format is the event record format (the ESM's EventRecordFormat
	// setting). serde.EventRecordFormatSource delivers the original bytes
	// with the Confluent prefix or the Glue header removed (a
	// zlib-compressed Glue body inflated); empty
	// (serde.EventRecordFormatAuto) means it too.
	// serde.EventRecordFormatJSON delivers the key or value decoded with
	// its writer schema, as JSON: Avro in the Avro JSON encoding (a union
	// branch other than null as {"branch": value}, bytes and fixed as
	// strings of code points 0-255), Protobuf as protojson renders it
	// (lowerCamelCase names), a JSON Schema body as it is; serde's codecs
	// read each back (see serde.WithEventRecordFormat). Either way the
	// schema id is in the record's schema metadata: the decimal id for
	// Confluent, the schema version id (a UUID) for Glue.
	//
	// In both formats every key or value handled (as Key and Value say)
	// is decoded with its writer schema, as AWS validates records before
	// delivering them: one that does not decode (truncated, bytes left
	// over, a bad union or enum index, Protobuf message indexes naming no
	// message, a JSON Schema body that is not JSON or that the schema does
	// not validate) is rejected as DESERIALIZATION_ERROR, as is one whose
	// schema cannot be used (it does not compile, or has references other
	// than a Protobuf schema's imports).
	Format serde.EventRecordFormat
	// Key and Value say which parts of a record are handled (AWS's
	// SchemaValidationConfigs attributes KEY and VALUE). With neither set,
	// the value is.
	Key, Value bool
	// HTTPClient, when set, makes the registry requests (default: 5 s
	// timeout).
	HTTPClient *http.Client
}

func (r SchemaRegistry) validate() error {
	var errs []error
	switch {
	case r.Glue != nil && r.URL != "":
		errs = append(errs, errors.New("schema registry with both a URL and a Glue client; give one"))
	case r.Glue != nil && r.GlueRegistry == "":
		errs = append(errs, errors.New("AWS Glue schema registry without a registry name"))
	case r.Glue == nil && r.GlueRegistry != "":
		errs = append(errs, errors.New("AWS Glue schema registry name without a Glue client"))
	case r.Glue != nil && (r.Username != "" || r.Password != ""):
		errs = append(errs, errors.New("schema registry username or password with a Glue client (it signs with its own credentials)"))
	case r.Glue == nil && r.URL == "":
		errs = append(errs, errors.New("schema registry without a URL"))
	}
	switch r.Format {
	case serde.EventRecordFormatAuto, serde.EventRecordFormatSource, serde.EventRecordFormatJSON:
	default:
		errs = append(errs, fmt.Errorf("unknown event record format %q", r.Format))
	}
	return errors.Join(errs...)
}

// maxMetaBytes bounds what schema metadata adds to a record in an event,
// the longest being a Glue schema version id (98 bytes):
// ,"valueSchemaMetadata":{"dataFormat":"PROTOBUF","schemaId":"0f8e1c2a-6b1d-4c3e-9a7f-1d2e3f4a5b6c"}
const maxMetaBytes = 100

// schemaResolver applies the registry integration: it strips the
// Confluent prefix (or, through glue, the Glue header), names the schema's
// format and id, and decodes the body with the schema (decs). Formats and
// decoders are cached per id (a registered schema never changes).
type schemaResolver struct {
	client     *sr.Client
	glue       *glueSchemas // set for a Glue registry; client is then nil
	key, value bool
	json       bool // deliver the JSON rendering (EventRecordFormat JSON)
	decs       *decoders
	mu         sync.RWMutex
	metas      map[int]*serde.SchemaMeta // nil value: the registry does not know the id
}

func newSchemaResolver(r SchemaRegistry) (*schemaResolver, error) {
	decs, json := newDecoders(), r.Format == serde.EventRecordFormatJSON
	if r.Glue != nil {
		return &schemaResolver{glue: newGlueSchemas(r, decs), key: r.Key, value: r.Value || !r.Key, json: json, decs: decs}, nil
	}
	opts := []sr.ClientOpt{sr.URLs(r.URL)}
	if r.Username != "" || r.Password != "" {
		opts = append(opts, sr.BasicAuth(r.Username, r.Password))
	}
	if r.HTTPClient != nil {
		opts = append(opts, sr.HTTPClient(r.HTTPClient))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("esm: %w: schema registry: %w", ErrInvalidOption, err)
	}
	return &schemaResolver{client: cl, key: r.Key, value: r.Value || !r.Key, json: json, decs: decs, metas: map[int]*serde.SchemaMeta{}}, nil
}

// meta returns the metadata for schema id, nil when the registry does not
// know it, or an error when the registry cannot be asked. The schema's
// decoder is in s.decs once it returns metadata.
func (s *schemaResolver) meta(ctx context.Context, id int) (*serde.SchemaMeta, error) {
	s.mu.RLock()
	m, ok := s.metas[id]
	s.mu.RUnlock()
	if ok {
		return m, nil
	}
	sch, err := s.client.SchemaByID(ctx, id)
	var re *sr.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		m = nil
	case err != nil:
		return nil, fmt.Errorf("esm: schema registry: schema %d: %w", id, err)
	default:
		m = &serde.SchemaMeta{DataFormat: sch.Type.String(), SchemaID: strconv.Itoa(id)}
		if err := s.confluentDecoder(ctx, id, sch, m); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.metas[id] = m
	s.mu.Unlock()
	return m, nil
}

// apply gives one key or value its metadata. Data that is null, not in the
// registry's wire format, or of a schema id the registry does not know is
// left as it is (miss reports the last).
func (s *schemaResolver) apply(ctx context.Context, data []byte) (out []byte, meta *serde.SchemaMeta, miss bool, err error) {
	if s.glue != nil {
		return s.glue.apply(ctx, data)
	}
	id, rest, err := serde.ParseHeader(data)
	if err != nil {
		return data, nil, false, nil // not in the wire format: passed on
	}
	meta, err = s.meta(ctx, id)
	if err != nil {
		return data, nil, false, err
	}
	if meta == nil {
		return data, nil, true, nil
	}
	return rest, meta, false, nil
}

// applySchema applies the registry integration to the records of j that
// have not had it yet. As AWS's integration does, a record whose key or
// value (as SchemaRegistry.Key and Value say) is not in the registry's wire
// format, does not decode with its writer schema, or names a schema id the
// registry does not know, is not delivered: it is taken out of j and
// returned, in rejects, under
// ConditionDeserializationError or ConditionSchemaNotFound, for the caller
// to give up. It fails only when the registry cannot be reached; the batch
// is then retried later.
func (e *runEnv) applySchema(ctx context.Context, j *job) (rejects map[string][]*rec, err error) {
	if e.schema == nil {
		return nil, nil
	}
	for i := range j.parts {
		p := &j.parts[i]
		kept := p.recs[:0:0]
		for _, r := range p.recs {
			if !r.schema {
				condition, err := e.schemaOf(ctx, r)
				if err != nil {
					return nil, err
				}
				if condition != "" {
					if rejects == nil {
						rejects = map[string][]*rec{}
					}
					rejects[condition] = append(rejects[condition], r)
					continue
				}
				r.schema = true
			}
			kept = append(kept, r)
		}
		p.recs = kept
	}
	return rejects, nil
}

// schemaOf gives r's key and value their metadata, or returns the
// on-failure condition that rejects r.
func (e *runEnv) schemaOf(ctx context.Context, r *rec) (condition string, err error) {
	parts := []struct {
		on   bool
		data *[]byte
		meta **serde.SchemaMeta
		what string
	}{{e.schema.key, &r.raw.Key, &r.raw.KeySchema, "key"}, {e.schema.value, &r.raw.Value, &r.raw.ValueSchema, "value"}}
	type result struct {
		data []byte
		meta *serde.SchemaMeta
	}
	var results [2]result
	for i, p := range parts {
		if !p.on || *p.data == nil {
			results[i] = result{*p.data, *p.meta}
			continue
		}
		data, meta, miss, err := e.schema.apply(ctx, *p.data)
		if err != nil {
			return "", err
		}
		where := r.ps.key + "@" + strconv.FormatInt(r.raw.Offset, 10)
		switch {
		case miss:
			e.stats.schemaMisses.Add(1)
			e.log.Warn("esm: schema id unknown to the registry; record rejected", "record", where, "part", p.what)
			return ConditionSchemaNotFound, nil
		case meta == nil:
			e.stats.schemaDecodeErrors.Add(1)
			e.log.Warn("esm: not in the schema registry's wire format; record rejected", "record", where, "part", p.what)
			return ConditionDeserializationError, nil
		}
		if data, err = e.schema.decs.check(meta, data, e.schema.json); err != nil {
			e.stats.schemaDecodeErrors.Add(1)
			e.log.Warn("esm: does not decode with its writer schema; record rejected", "record", where, "part", p.what,
				"schema", meta.SchemaID, "err", err)
			return ConditionDeserializationError, nil
		}
		results[i] = result{data, meta}
	}
	for i, p := range parts {
		*p.data, *p.meta = results[i].data, results[i].meta
	}
	return "", nil
}
