package serde

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// JSONSchema returns the codec for JSON values of type T described by a JSON
// Schema in a Confluent Schema Registry. Values are encoding/json text after
// the Confluent header (no message indexes).
//
// Validation (WithValidation, default on) follows Confluent's serdes where
// it matters: the same validator (santhosh-tekuri/jsonschema v5), the same
// default draft when "$schema" is absent (2020-12), references resolved as
// Confluent does (a $ref by reference name, relative to "mem://input/"), no
// other URL is ever loaded, and the value is validated as generic JSON (the
// text), not as the Go value. A serializer validates what it is about to
// write against its writer schema; a deserializer validates what it read
// against the schema the id names. Failures are ErrValidation; their
// messages name where the value failed and the keyword that failed it
// ("/amount fails "minimum" (schema /properties/amount/minimum)"), never the
// value.
//
// In ESM SOURCE and JSON mode the data is the same JSON text; the metadata's
// schema id, when it is a Confluent id, selects the schema to validate
// with, and without one the value is not validated.
//
// Serialize registers (or looks up) the WithSchema document under its
// subject, or writes with the latest registered version (WithUseLatest).
//
// Options: WithSchema, WithReferences, WithSubjectNameStrategy (record name
// = the schema's "title"), WithAutoRegister, WithUseLatest, WithLatestTTL,
// WithValidation, WithEventRecordFormat, WithRetry.
func JSONSchema[T any](r Registry, opts ...JSONSchemaOption) (Codec[T], error) {
	cfg, err := newJSONSchemaConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkRegistry(r, "JSONSchema", jsonSchemaFormat); err != nil {
		return nil, err
	}
	c := &jsonSchemaCodec[T]{cfg: cfg, c: newRegistryClient(r, cfg)}
	c.targets = &targets[*jsonschema.Schema]{c: c.c, cfg: cfg, format: jsonSchemaFormat,
		subject: c.jsonSubject, latest: c.latestValidator, own: c.ownValidator}
	if cfg.schemaSet {
		var doc map[string]any
		if err := json.Unmarshal([]byte(cfg.schema), &doc); err != nil {
			return nil, fmt.Errorf("serde: %w: JSONSchema: %w", ErrInvalidOption, errf(ErrInvalidSchema, err, "WithSchema is not a JSON object"))
		}
		c.title, _ = doc["title"].(string)
		if len(cfg.refs) == 0 && cfg.validate {
			// Compile now so that a bad schema fails the constructor, and
			// keep it; with references it is compiled on first use, when
			// they can be fetched.
			s, err := compileJSONSchema(cfg.schema, nil)
			if err != nil {
				return nil, fmt.Errorf("serde: %w: JSONSchema: %w", ErrInvalidOption, err)
			}
			c.own.Store(s)
		}
	}
	return c, nil
}

// jsonSchemaFormat is the JSON Schema codec's Error.Format and registry
// schema type.
const jsonSchemaFormat = "JSON"

var _ Codec[any] = (*jsonSchemaCodec[any])(nil)

type jsonSchemaCodec[T any] struct {
	cfg   *config
	c     *client
	title string

	compiled cowMap[schemaRef, *jsonschema.Schema] // by schema id
	targets  *targets[*jsonschema.Schema]          // what validates each Target's values; nil when not validating
	mu       sync.Mutex
	own      atomic.Pointer[jsonschema.Schema] // the WithSchema document, compiled
}

const jsonSchemaBase = "mem://input/"

// compileJSONSchema compiles text with its references (name → text).
func compileJSONSchema(text string, deps map[string]string) (*jsonschema.Schema, error) {
	comp := jsonschema.NewCompiler()
	comp.LoadURL = func(u string) (io.ReadCloser, error) {
		if name, ok := strings.CutPrefix(u, jsonSchemaBase); ok {
			if d, ok := deps[name]; ok {
				return io.NopCloser(strings.NewReader(d)), nil
			}
		}
		return nil, fmt.Errorf("%q is not a registered reference", u)
	}
	if err := comp.AddResource(jsonSchemaBase, strings.NewReader(text)); err != nil {
		return nil, errf(ErrInvalidSchema, err, "JSON Schema")
	}
	s, err := comp.Compile(jsonSchemaBase)
	if err != nil {
		return nil, errf(ErrInvalidSchema, err, "JSON Schema")
	}
	return s, nil
}

// compile compiles a registered schema after fetching its references.
func (c *jsonSchemaCodec[T]) compile(ctx context.Context, info *schemaInfo) (*jsonschema.Schema, error) {
	deps := map[string]string{}
	var load func(info *schemaInfo, depth int) error
	load = func(info *schemaInfo, depth int) error {
		if depth > 32 {
			return errf(ErrInvalidSchema, nil, "references nested deeper than 32")
		}
		for _, ref := range info.refs {
			if _, ok := deps[ref.Name]; ok {
				continue
			}
			dep, err := c.c.schemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return err
			}
			deps[ref.Name] = dep.text
			if err := load(dep, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := load(info, 0); err != nil {
		return nil, err
	}
	return compileJSONSchema(info.text, deps)
}

// byID returns the compiled JSON Schema with the given id.
func (c *jsonSchemaCodec[T]) byID(ctx context.Context, id schemaRef) (*jsonschema.Schema, error) {
	id, err := c.c.key(id)
	if err != nil {
		return nil, err
	}
	if s, ok := c.compiled.load(id); ok {
		return s, nil
	}
	info, err := c.c.schemaByID(ctx, id, jsonSchemaFormat)
	if err != nil {
		return nil, err
	}
	return c.compiledOf(ctx, info)
}

// compiledOf returns info, a registered JSON Schema, compiled once per id.
func (c *jsonSchemaCodec[T]) compiledOf(ctx context.Context, info *schemaInfo) (*jsonschema.Schema, error) {
	if s, ok := c.compiled.load(info.ref()); ok {
		return s, nil
	}
	s, err := c.compile(ctx, info)
	if err != nil {
		return nil, err
	}
	c.compiled.store(info.ref(), s)
	return s, nil
}

// decodeJSONValue decodes the first JSON value of data into generic Go
// values (map[string]any, []any, string, bool, nil), with numbers as
// json.Number so that none loses precision.
func decodeJSONValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// validateJSON validates the JSON text data against s: ErrDecode if it is
// not JSON, ErrValidation if it does not validate.
func validateJSON(s *jsonschema.Schema, data []byte) error {
	doc, err := decodeJSONValue(data)
	if err != nil {
		return errf(ErrDecode, describe(err, "%s", jsonDetail(err)), "JSON")
	}
	if err := s.Validate(doc); err != nil {
		return errf(ErrValidation, describe(err, "%s", validationDetail(err)), "value")
	}
	return nil
}

func (c *jsonSchemaCodec[T]) Deserialize(ctx context.Context, m Message) (T, error) {
	var zero T
	w := where{op: OpDeserialize, format: jsonSchemaFormat, topic: m.Topic, isKey: m.IsKey}
	_, id, body, err := locate(m, []string{jsonSchemaFormat, "JSON_SCHEMA", "JSONSCHEMA"}, c.cfg, alwaysJSON)
	if err != nil {
		return zero, w.err(id, err)
	}
	if id != (schemaRef{}) && (c.cfg.validate || m.Schema == nil) {
		// Fetch the schema even without validation on full wire format, so
		// that an unknown id is reported as such.
		s, err := c.byID(ctx, id)
		if err != nil {
			return zero, w.err(id, err)
		}
		if c.cfg.validate {
			if err := validateJSON(s, body); err != nil {
				return zero, w.err(id, err)
			}
		}
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return zero, w.err(id, errf(ErrDecode, describe(err, "%s", jsonDetail(err)), "JSON into %T", v))
	}
	return v, nil
}

func (c *jsonSchemaCodec[T]) Serialize(ctx context.Context, t Target, v T) ([]byte, error) {
	w := where{op: OpSerialize, format: jsonSchemaFormat, topic: t.Topic, isKey: t.IsKey}
	tg, err := c.targets.get(ctx, t)
	if err != nil {
		return nil, w.err(schemaRef{}, err)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, w.err(tg.ref, errf(ErrEncode, describe(err, "%s", jsonDetail(err)), "JSON from %T", v))
	}
	if tg.w != nil {
		if err := validateJSON(tg.w, body); err != nil {
			return nil, w.err(tg.ref, err)
		}
	}
	out := make([]byte, 0, glueHeaderLen+len(body))
	out = c.c.appendPrefix(out, tg.ref)
	out, err = c.c.finish(append(out, body...))
	if err != nil {
		return nil, w.err(tg.ref, err)
	}
	return out, nil
}

// jsonSubject names t's subject; the record name is the schema's "title".
func (c *jsonSchemaCodec[T]) jsonSubject(_ context.Context, t Target) (string, error) {
	return c.cfg.subjectFor(t, c.title, `a schema with a "title"`)
}

// latestValidator is the subject's latest version compiled, nil when not
// validating.
func (c *jsonSchemaCodec[T]) latestValidator(ctx context.Context, _ string, info *schemaInfo) (*jsonschema.Schema, error) {
	if !c.cfg.validate {
		return nil, nil
	}
	return c.compiledOf(ctx, info)
}

// ownValidator registers (or looks up) the WithSchema document under
// subject and returns its id and the document compiled, nil when not
// validating.
func (c *jsonSchemaCodec[T]) ownValidator(ctx context.Context, subject string) (schemaRef, *jsonschema.Schema, error) {
	if !c.cfg.schemaSet {
		return schemaRef{}, nil, errf(ErrNoSchema, nil, "give T's JSON Schema with WithSchema, or use WithUseLatest")
	}
	info, err := c.c.register(ctx, c.cfg.autoRegister, subject, c.cfg.schema, jsonSchemaFormat, c.cfg.refs, false)
	if err != nil {
		return schemaRef{}, nil, err
	}
	if !c.cfg.validate {
		return info.ref(), nil, nil
	}
	s, err := c.ownSchema(ctx)
	if err != nil {
		return schemaRef{}, nil, err
	}
	return info.ref(), s, nil
}

// ownSchema returns the WithSchema document compiled: by the constructor
// when it has no references, else here, once, after fetching them.
func (c *jsonSchemaCodec[T]) ownSchema(ctx context.Context) (*jsonschema.Schema, error) {
	if s := c.own.Load(); s != nil {
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.own.Load(); s != nil {
		return s, nil
	}
	s, err := c.compile(ctx, &schemaInfo{text: c.cfg.schema, typ: jsonSchemaFormat, refs: c.cfg.refs})
	if err != nil {
		return nil, err
	}
	c.own.Store(s)
	return s, nil
}

// SerializeWithHeaders implements HeaderSerializer (WithSchemaIDHeader).
func (c *jsonSchemaCodec[T]) SerializeWithHeaders(ctx context.Context, t Target, v T) ([]byte, []Header, error) {
	out, err := c.Serialize(ctx, t, v)
	return withIDHeader(c.cfg, t, out, false, err)
}
