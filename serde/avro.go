package serde

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/hamba/avro/v2"
)

// Avro returns the codec for Avro values of type T through a Confluent
// Schema Registry, built on github.com/hamba/avro/v2 (typed, reflection-free
// decoding into structs by `avro` tags; it beats srclient's goavro codec,
// see BENCHMARKS.md).
//
// Deserialize reads the schema id (from the header, or from the ESM metadata
// in SOURCE mode), fetches the writer schema (once per id) and decodes the
// body into T. With WithSchema, T's schema is the reader schema and data
// written with a different, compatible writer schema is resolved against it
// (Avro schema resolution: a field T has and the writer lacks takes its
// default, a field the writer has and T lacks is skipped, promotions such as
// int→long apply); incompatible schemas fail with ErrIncompatible. Without
// WithSchema the writer schema decodes straight into T. In ESM JSON mode the
// JSON value is mapped through the writer schema (or T's) into T; see
// "ESM JSON mode" in the package documentation.
//
// Serialize writes the Confluent header and the Avro body. It registers (or
// looks up) T's schema, given with WithSchema, under its subject; with
// WithUseLatest it writes with the latest registered version instead,
// taking that schema's fields from T (T's own schema plays no part in
// writing, so the latest version need not be readable as T).
//
// Options: WithSchema, WithReferences, WithSubjectNameStrategy (record name
// = the schema's full name), WithAutoRegister, WithUseLatest, WithLatestTTL,
// WithEventRecordFormat, WithRetry.
func Avro[T any](r Registry, opts ...Option) (Codec[T], error) {
	cfg, err := newConfig(avroFormat, opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkRegistry(r, "Avro", avroFormat); err != nil {
		return nil, err
	}
	// Hostile lengths must not allocate: no Kafka record is larger than
	// 16 MiB, and no array in one has more than 1M elements (found by
	// FuzzDeserialize: an array count of 10^11 made hamba allocate it).
	api := avro.Config{TagKey: "avro", MaxByteSliceSize: 16 << 20, MaxSliceAllocSize: 1 << 20}.Freeze()
	c := &avroCodec[T]{
		cfg:        cfg,
		c:          newRegistryClient(r, cfg),
		api:        api,
		writerPool: avroWriters{api: api},
	}
	c.targets = &targets[avro.Schema]{c: c.c, cfg: cfg, format: avroFormat,
		subject: c.avroSubject, latest: c.latestWriter, own: c.ownWriter}
	if cfg.schemaSet && len(cfg.refs) == 0 {
		// Parse now so that a bad schema fails the constructor; with
		// references it is parsed on first use, when they can be fetched.
		s, err := avro.ParseWithCache(cfg.schema, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("serde: %w: Avro: %w", ErrInvalidOption, errf(ErrInvalidSchema, err, "WithSchema"))
		}
		c.reader.Store(&avroReader{schema: s})
	}
	return c, nil
}

// avroFormat is the Avro codec's Error.Format and registry schema type.
const avroFormat = "AVRO"

var _ Codec[any] = (*avroCodec[any])(nil)

type avroCodec[T any] struct {
	cfg *config
	c   *client
	api avro.API

	reader   atomic.Pointer[avroReader] // T's schema; nil without WithSchema or until parsed
	readerMu sync.Mutex

	schemas cowMap[schemaRef, avro.Schema] // parsed writer schemas, by id
	writers idCache[*avroWriter]           // how to decode each writer schema id into T
	targets *targets[avro.Schema]          // the schema of each Target's id: T's, or the latest registered one

	readerPool sync.Pool // *avro.Reader
	writerPool avroWriters
}

type avroReader struct{ schema avro.Schema }

// avroWriter is what the deserializer knows about one writer schema id.
type avroWriter struct {
	schema avro.Schema // the writer schema
	decode avro.Schema // what decodes into T: writer, or writer resolved against T's schema
}

// avroWriters pools the avro.Writers of one codec (serializing, and
// re-encoding ESM JSON values).
type avroWriters struct {
	api  avro.API
	pool sync.Pool // *avro.Writer
}

// get returns an empty writer; give it back with put.
func (p *avroWriters) get() *avro.Writer {
	w, _ := p.pool.Get().(*avro.Writer)
	if w == nil {
		return avro.NewWriter(nil, 512, avro.WithWriterConfig(p.api))
	}
	return w
}

// put empties w and returns it to the pool; the caller must not use w or
// its Buffer afterwards.
func (p *avroWriters) put(w *avro.Writer) {
	w.Reset(nil)
	w.Error = nil
	p.pool.Put(w)
}

// readerSchema returns T's schema, parsing it (with its references) on
// first use; nil, nil without WithSchema.
func (c *avroCodec[T]) readerSchema(ctx context.Context) (avro.Schema, error) {
	if r := c.reader.Load(); r != nil {
		return r.schema, nil
	}
	if !c.cfg.schemaSet {
		return nil, nil
	}
	c.readerMu.Lock()
	defer c.readerMu.Unlock()
	if r := c.reader.Load(); r != nil {
		return r.schema, nil
	}
	s, err := c.parse(ctx, &schemaInfo{text: c.cfg.schema, typ: avroFormat, refs: c.cfg.refs})
	if err != nil {
		return nil, err
	}
	c.reader.Store(&avroReader{schema: s})
	return s, nil
}

// parse parses a schema after the schemas it references, all into a cache of
// its own (hamba's package-level cache would let two versions of one named
// type overwrite each other).
func (c *avroCodec[T]) parse(ctx context.Context, info *schemaInfo) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	seen := map[string]bool{}
	var load func(info *schemaInfo, depth int) (avro.Schema, error)
	load = func(info *schemaInfo, depth int) (avro.Schema, error) {
		if depth > 32 {
			return nil, errf(ErrInvalidSchema, nil, "references nested deeper than 32")
		}
		for _, ref := range info.refs {
			key := fmt.Sprintf("%s\x00%d", ref.Subject, ref.Version)
			if seen[key] {
				continue
			}
			seen[key] = true
			dep, err := c.c.schemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return nil, err
			}
			if _, err := load(dep, depth+1); err != nil {
				return nil, err
			}
		}
		s, err := avro.ParseWithCache(info.text, "", cache)
		if err != nil {
			return nil, errf(ErrInvalidSchema, err, "Avro schema")
		}
		return s, nil
	}
	return load(info, 0)
}

// writerSchema returns the parsed schema of info, a registered Avro schema,
// parsing it once per id. It is all a serializer needs: writing T with a
// schema takes that schema's fields from T, whatever T's own schema says.
func (c *avroCodec[T]) writerSchema(ctx context.Context, info *schemaInfo) (avro.Schema, error) {
	if s, ok := c.schemas.load(info.ref()); ok {
		return s, nil
	}
	s, err := c.parse(ctx, info)
	if err != nil {
		return nil, err
	}
	c.schemas.store(info.ref(), s)
	return s, nil
}

// writer returns what reads data written with schema id into T: the writer
// schema, resolved against T's schema (WithSchema) when they differ, so an
// incompatible writer schema fails here with ErrIncompatible. Only
// deserializing resolves.
func (c *avroCodec[T]) writer(ctx context.Context, id schemaRef) (*avroWriter, error) {
	id, err := c.c.key(id)
	if err != nil {
		return nil, err
	}
	if wr, ok := c.writers.load(id); ok {
		return wr, nil
	}
	info, err := c.c.schemaByID(ctx, id, avroFormat)
	if err != nil {
		return nil, err
	}
	ws, err := c.writerSchema(ctx, info)
	if err != nil {
		return nil, err
	}
	wr := &avroWriter{schema: ws, decode: ws}
	rs, err := c.readerSchema(ctx)
	if err != nil {
		return nil, err
	}
	if rs != nil && rs.Fingerprint() != ws.Fingerprint() {
		resolved, err := avro.NewSchemaCompatibility().Resolve(rs, ws)
		if err != nil {
			return nil, errf(ErrIncompatible, err, "writer %s cannot be read as T's schema", id)
		}
		wr.decode = resolved
	}
	c.writers.store(id, wr)
	return wr, nil
}

func (c *avroCodec[T]) Deserialize(ctx context.Context, m Message) (T, error) {
	var v T
	err := c.DeserializeInto(ctx, m, &v)
	return v, err
}

func (c *avroCodec[T]) DeserializeInto(ctx context.Context, m Message, v *T) error {
	w := where{op: OpDeserialize, format: avroFormat, topic: m.Topic, isKey: m.IsKey}
	mode, id, rest, err := locate(m, []string{avroFormat}, c.cfg, looksLikeJSONValue)
	if err != nil {
		return w.err(id, err)
	}
	if mode == framedJSON {
		if *v, err = c.fromJSON(ctx, id, rest); err != nil {
			return w.err(id, err)
		}
		return nil
	}
	wr, err := c.writer(ctx, id)
	if err != nil {
		return w.err(id, err)
	}
	if err := c.decode(wr.decode, rest, v); err != nil {
		return w.err(id, err)
	}
	return nil
}

// decode reads one T from body into *v (the zero value) with a pooled
// reader; *v is the zero value again on an error. Unlike hamba's
// Unmarshal, which ignores io.EOF, a body that ends early is ErrTruncated.
func (c *avroCodec[T]) decode(s avro.Schema, body []byte, v *T) error {
	r, _ := c.readerPool.Get().(*avro.Reader)
	if r == nil {
		r = avro.NewReader(nil, 0, avro.WithReaderConfig(c.api))
	}
	r.Reset(body)
	r.Error = nil
	r.ReadVal(s, v)
	err := r.Error
	r.Reset(nil)
	r.Error = nil
	c.readerPool.Put(r)
	if err != nil {
		var zero T
		*v = zero
		detail := describe(err, "%s", avroDetail(err, s, reflect.TypeFor[T]()))
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errf(ErrTruncated, detail, "Avro body of %d bytes ends early", len(body))
		}
		return errf(ErrDecode, detail, "Avro body")
	}
	return nil
}

func (c *avroCodec[T]) Serialize(ctx context.Context, t Target, v T) ([]byte, error) {
	w := where{op: OpSerialize, format: avroFormat, topic: t.Topic, isKey: t.IsKey}
	tg, err := c.targets.get(ctx, t)
	if err != nil {
		return nil, w.err(schemaRef{}, err)
	}
	aw := c.writerPool.get()
	var hdr [glueHeaderLen]byte
	_, _ = aw.Write(c.c.appendPrefix(hdr[:0], tg.ref))
	aw.WriteVal(tg.w, v)
	err = aw.Error
	var out []byte
	if err == nil {
		out = append([]byte(nil), aw.Buffer()...)
	}
	c.writerPool.put(aw)
	if err == nil {
		out, err = c.c.finish(out)
	}
	if err != nil {
		if !errors.Is(err, ErrEncode) {
			err = errf(ErrEncode, describe(err, "%s", avroDetail(err, tg.w, reflect.TypeFor[T]())), "Avro")
		}
		return nil, w.err(tg.ref, err)
	}
	return out, nil
}

// avroSubject names t's subject; the record name is the full name of T's
// schema (WithSchema), "" without one.
func (c *avroCodec[T]) avroSubject(ctx context.Context, t Target) (string, error) {
	rs, err := c.readerSchema(ctx)
	if err != nil {
		return "", err
	}
	recordName := ""
	if n, ok := rs.(avro.NamedSchema); ok {
		recordName = n.FullName()
	}
	return c.cfg.subjectFor(t, recordName, "WithSchema of a named type")
}

// latestWriter is the writer schema of the subject's latest version.
func (c *avroCodec[T]) latestWriter(ctx context.Context, _ string, info *schemaInfo) (avro.Schema, error) {
	return c.writerSchema(ctx, info)
}

// ownWriter registers (or looks up) T's schema (WithSchema) under subject.
func (c *avroCodec[T]) ownWriter(ctx context.Context, subject string) (schemaRef, avro.Schema, error) {
	rs, err := c.readerSchema(ctx)
	if err != nil {
		return schemaRef{}, nil, err
	}
	if rs == nil {
		return schemaRef{}, nil, errf(ErrNoSchema, nil, "give T's schema with WithSchema, or use WithUseLatest")
	}
	info, err := c.c.register(ctx, c.cfg.autoRegister, subject, c.cfg.schema, avroFormat, c.cfg.refs, false)
	if err != nil {
		return schemaRef{}, nil, err
	}
	return info.ref(), rs, nil
}

// SerializeWithHeaders implements HeaderSerializer (WithSchemaIDHeader).
func (c *avroCodec[T]) SerializeWithHeaders(ctx context.Context, t Target, v T) ([]byte, []Header, error) {
	out, err := c.Serialize(ctx, t, v)
	return withIDHeader(c.cfg, t, out, false, err)
}
