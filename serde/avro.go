package serde

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// WithUseLatest it writes with the latest registered version instead.
//
// Options: WithSchema, WithReferences, WithSubjectNameStrategy (record name
// = the schema's full name), WithAutoRegister, WithUseLatest, WithLatestTTL,
// WithEventRecordFormat, WithRetry.
func Avro[T any](r Registry, opts ...Option) (Codec[T], error) {
	cfg, err := newConfig("AVRO", optSchema|optReferences|optSubject|optAutoRegister|optUseLatest|optLatestTTL|optRecordFormat|optRetry, opts)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%w: Avro: nil Registry", ErrConfig)
	}
	c := &avroCodec[T]{
		cfg: cfg,
		c:   newClient(r, cfg.retry, cfg.latestTTL),
		// Hostile lengths must not allocate: no Kafka record is larger than
		// 16 MiB, and no array in one has more than 1M elements (found by
		// FuzzDeserialize: an array count of 10^11 made hamba allocate it).
		api: avro.Config{TagKey: "avro", MaxByteSliceSize: 16 << 20, MaxSliceAllocSize: 1 << 20}.Freeze(),
	}
	if cfg.set&optSchema != 0 && len(cfg.refs) == 0 {
		// Parse now so that a bad schema fails the constructor; with
		// references it is parsed on first use, when they can be fetched.
		s, err := avro.ParseWithCache(cfg.schema, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("%w: Avro: %w", ErrConfig, errf(ErrInvalidSchema, err, "WithSchema"))
		}
		c.reader.Store(&avroReader{schema: s})
	}
	return c, nil
}

var _ Codec[any] = (*avroCodec[any])(nil)

type avroCodec[T any] struct {
	cfg *config
	c   *client
	api avro.API

	reader   atomic.Pointer[avroReader] // T's schema; nil without WithSchema or until parsed
	readerMu sync.Mutex

	writers cowMap[int, *avroWriter]
	targets cowMap[Target, *avroTarget]

	readerPool sync.Pool // *avro.Reader
	writerPool sync.Pool // *avro.Writer
}

type avroReader struct{ schema avro.Schema }

// avroWriter is what the codec knows about one writer schema id.
type avroWriter struct {
	schema avro.Schema // the writer schema
	decode avro.Schema // what decodes into T: writer, or writer resolved against T's schema
}

// avroTarget is what a serializer writes for one Target.
type avroTarget struct {
	id     int
	schema avro.Schema
}

// readerSchema returns T's schema, parsing it (with its references) on
// first use; nil, nil without WithSchema.
func (c *avroCodec[T]) readerSchema(ctx context.Context) (avro.Schema, error) {
	if r := c.reader.Load(); r != nil {
		return r.schema, nil
	}
	if c.cfg.set&optSchema == 0 {
		return nil, nil
	}
	c.readerMu.Lock()
	defer c.readerMu.Unlock()
	if r := c.reader.Load(); r != nil {
		return r.schema, nil
	}
	s, err := c.parse(ctx, &schemaInfo{text: c.cfg.schema, typ: "AVRO", refs: c.cfg.refs})
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

// writer returns the writer schema with the given id, resolved against T's
// schema when they differ.
func (c *avroCodec[T]) writer(ctx context.Context, id int) (*avroWriter, error) {
	if wr, ok := c.writers.load(id); ok {
		return wr, nil
	}
	info, err := c.c.schemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if info.typ != "AVRO" {
		return nil, errf(ErrFormatMismatch, nil, "schema id %d is %s, not AVRO", id, info.typ)
	}
	ws, err := c.parse(ctx, info)
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
			return nil, errf(ErrIncompatible, err, "writer schema id %d cannot be read as T's schema", id)
		}
		wr.decode = resolved
	}
	c.writers.store(id, wr)
	return wr, nil
}

func (c *avroCodec[T]) Deserialize(ctx context.Context, m Message) (T, error) {
	var zero T
	w := where{op: OpDeserialize, format: "AVRO", topic: m.Topic, isKey: m.IsKey}
	mode, id, rest, err := locate(m, []string{"AVRO"}, c.cfg.recordFormat, looksLikeJSONValue)
	if err != nil {
		return zero, w.err(id, err)
	}
	if mode == framedJSON {
		v, err := c.fromJSON(ctx, id, rest)
		if err != nil {
			return zero, w.err(id, err)
		}
		return v, nil
	}
	wr, err := c.writer(ctx, id)
	if err != nil {
		return zero, w.err(id, err)
	}
	v, err := c.decode(wr.decode, rest)
	if err != nil {
		return zero, w.err(id, err)
	}
	return v, nil
}

// decode reads one T from body with a pooled reader. Unlike hamba's
// Unmarshal, which ignores io.EOF, a body that ends early is ErrTruncated.
func (c *avroCodec[T]) decode(s avro.Schema, body []byte) (T, error) {
	var v T
	r, _ := c.readerPool.Get().(*avro.Reader)
	if r == nil {
		r = avro.NewReader(nil, 0, avro.WithReaderConfig(c.api))
	}
	r.Reset(body)
	r.Error = nil
	r.ReadVal(s, &v)
	err := r.Error
	r.Reset(nil)
	r.Error = nil
	c.readerPool.Put(r)
	if err != nil {
		var zero T
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return zero, errf(ErrTruncated, err, "Avro body of %d bytes ends early", len(body))
		}
		return zero, errf(ErrDecode, err, "Avro body")
	}
	return v, nil
}

func (c *avroCodec[T]) Serialize(ctx context.Context, t Target, v T) ([]byte, error) {
	tg, err := c.target(ctx, t)
	if err != nil {
		return nil, &Error{Op: OpSerialize, Format: "AVRO", Topic: t.Topic, IsKey: t.IsKey, Err: err}
	}
	w, _ := c.writerPool.Get().(*avro.Writer)
	if w == nil {
		w = avro.NewWriter(nil, 512, avro.WithWriterConfig(c.api))
	}
	w.Reset(nil)
	w.Error = nil
	var hdr [headerLen]byte
	_, _ = w.Write(appendHeader(hdr[:0], tg.id))
	w.WriteVal(tg.schema, v)
	err = w.Error
	var out []byte
	if err == nil {
		out = append([]byte(nil), w.Buffer()...)
	}
	w.Error = nil
	c.writerPool.Put(w)
	if err != nil {
		return nil, &Error{Op: OpSerialize, Format: "AVRO", Topic: t.Topic, IsKey: t.IsKey, SchemaID: tg.id,
			Err: errf(ErrEncode, err, "Avro")}
	}
	return out, nil
}

// target returns the schema id and writer schema for t.
func (c *avroCodec[T]) target(ctx context.Context, t Target) (*avroTarget, error) {
	if !c.cfg.useLatest {
		if tg, ok := c.targets.load(t); ok {
			return tg, nil
		}
	}
	rs, err := c.readerSchema(ctx)
	if err != nil {
		return nil, err
	}
	recordName := ""
	if n, ok := rs.(avro.NamedSchema); ok {
		recordName = n.FullName()
	}
	subject := c.cfg.subject(t, recordName)
	if recordName == "" && subject != c.cfg.subject(t, "x") {
		return nil, errf(ErrNoSchema, nil, "a record-name subject strategy needs WithSchema of a named type")
	}
	if c.cfg.useLatest {
		info, err := c.c.latestOf(ctx, subject)
		if err != nil {
			return nil, err
		}
		if info.typ != "AVRO" {
			return nil, errf(ErrFormatMismatch, nil, "latest schema of %q is %s, not AVRO", subject, info.typ)
		}
		wr, err := c.writer(ctx, info.id)
		if err != nil {
			return nil, err
		}
		return &avroTarget{id: info.id, schema: wr.schema}, nil
	}
	if rs == nil {
		return nil, errf(ErrNoSchema, nil, "give T's schema with WithSchema, or use WithUseLatest")
	}
	info, err := c.c.register(ctx, c.cfg.autoRegister, subject, c.cfg.schema, "AVRO", c.cfg.refs, false)
	if err != nil {
		return nil, err
	}
	tg := &avroTarget{id: info.id, schema: rs}
	c.targets.store(t, tg)
	return tg, nil
}
