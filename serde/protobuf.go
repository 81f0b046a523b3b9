package serde

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Protobuf returns the codec for Protobuf messages of type T (a generated
// message pointer type such as *pb.Trade) through a Confluent Schema
// Registry.
//
// Deserialize reads the schema id (from the header, or from the ESM
// metadata in SOURCE mode), then the message-index list, and checks that the
// indexes name T's message (by full name) in the writer schema: indexes that
// name no message, or another message, fail with ErrMessageMismatch rather
// than decoding garbage. The body is decoded with proto.Unmarshal, so fields
// added or removed by schema evolution are handled as Protobuf always does.
// In ESM JSON mode the value is decoded with protojson (unknown fields
// ignored).
//
// Serialize writes the Confluent header, T's message indexes and the
// message. The schema it registers (or looks up) is derived from T's file
// descriptor, with its imports registered first under their file paths as
// subjects and referenced by name, as Confluent's serializers do
// (google/protobuf/*, google/type/* and confluent/* imports are built into
// every registry client and are not registered); or it is the WithSchema
// text with WithReferences. A nil message serializes to nil (a Kafka null).
//
// Options: WithSchema, WithReferences, WithSubjectNameStrategy (record name
// = the message's full name), WithAutoRegister, WithUseLatest,
// WithLatestTTL, WithEventRecordFormat, WithRetry.
func Protobuf[T proto.Message](r Registry, opts ...Option) (Codec[T], error) {
	cfg, err := newConfig(protobufFormat, opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkRegistry(r, "Protobuf", protobufFormat); err != nil {
		return nil, err
	}
	var zero T
	if any(zero) == nil {
		return nil, fmt.Errorf("serde: %w: Protobuf: T must be a concrete generated message type", ErrInvalidOption)
	}
	md := zero.ProtoReflect().Descriptor()
	c := &protoCodec[T]{
		cfg:  cfg,
		c:    newRegistryClient(r, cfg),
		mt:   zero.ProtoReflect().Type(),
		name: md.FullName(),
	}
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Pointer && reflect.TypeOf(c.mt.New().Interface()) == t {
		c.elem = t.Elem()
	}
	if cfg.refsSet && !cfg.schemaSet {
		return nil, fmt.Errorf("serde: %w: Protobuf: WithReferences needs WithSchema", ErrInvalidOption)
	}
	if cfg.schemaSet {
		c.schema = cfg.schema
	} else {
		c.schema, err = printProto(md.ParentFile())
		if err != nil {
			return nil, fmt.Errorf("serde: %w: Protobuf: %w", ErrInvalidOption, err)
		}
		if c.deps, c.rootImports, err = protoDeps(md.ParentFile()); err != nil {
			return nil, fmt.Errorf("serde: %w: Protobuf: %w", ErrInvalidOption, err)
		}
	}
	names, err := parseProtoNames(c.schema)
	if err != nil {
		return nil, fmt.Errorf("serde: %w: Protobuf: %w", ErrInvalidOption, err)
	}
	path := names.pathOf(string(c.name))
	if path == nil {
		return nil, fmt.Errorf("serde: %w: Protobuf: the schema has no message %s", ErrInvalidOption, c.name)
	}
	c.indexes = appendIndexes(nil, path)
	c.targets = &targets[[]byte]{c: c.c, cfg: cfg, format: protobufFormat,
		subject: c.protoSubject, latest: c.latestPrefix, own: c.ownPrefix}
	return c, nil
}

// protobufFormat is the Protobuf codec's Error.Format and registry schema
// type.
const protobufFormat = "PROTOBUF"

var _ Codec[proto.Message] = (*protoCodec[proto.Message])(nil)

type protoCodec[T proto.Message] struct {
	cfg  *config
	c    *client
	mt   protoreflect.MessageType
	name protoreflect.FullName
	// elem is the struct T points to when T is the message type's own Go
	// type (a generated message): a new message is then a new zero struct,
	// which is what mt.New makes, without its reflective round trip (a
	// quarter of a small message's decoding).
	elem reflect.Type

	// serializer
	schema      string           // the WithSchema text (its references are cfg.refs), or T's file printed
	deps        []protoDep       // imported files to register first, dependencies first
	rootImports []string         // the registered imports of T's own file
	indexes     []byte           // T's message indexes in schema, encoded
	targets     *targets[[]byte] // header + message indexes for each Target

	// parsed writer schemas, by id: for the deserializer, and for the
	// serializer with WithUseLatest
	writers idCache[*protoWriter]
}

// protoDep is an imported file registered before the schema that imports it.
type protoDep struct {
	path    string // the import path: subject and reference name
	text    string
	imports []string // its own registered imports, by path
}

// protoWriter is what the codec knows about one writer schema id.
type protoWriter struct {
	names *protoNames
	tPath []int // T's message indexes in this schema; nil if it has none
	// T's AWS Glue message index in this schema (its place among all
	// messages sorted by full name); -1 if it has none
	tGlue int
}

func (c *protoCodec[T]) Deserialize(ctx context.Context, m Message) (T, error) {
	var zero T
	w := where{op: OpDeserialize, format: protobufFormat, topic: m.Topic, isKey: m.IsKey}
	mode, id, rest, err := locate(m, []string{protobufFormat}, c.cfg, looksLikeJSONObject)
	if err != nil {
		return zero, w.err(id, err)
	}
	msg := c.newMessage()
	if mode == framedJSON {
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(rest, msg); err != nil {
			return zero, w.err(id, errf(ErrDecode, describe(err, "%s", protojsonDetail(err, string(c.name))), "protojson into %s", c.name))
		}
		return msg, nil
	}
	var body []byte
	if id.guid != (uuid{}) && !id.cguid { // AWS Glue: one varint index
		var index int
		if index, body, err = parseGlueIndex(rest); err != nil {
			return zero, w.err(id, err)
		}
		wr, err := c.writer(ctx, id)
		if err != nil {
			return zero, w.err(id, err)
		}
		if index != wr.tGlue {
			return zero, w.err(id, c.glueMismatch(wr, index))
		}
	} else {
		var buf [4]int
		var indexes []int
		if indexes, body, err = parseIndexes(rest, buf[:0]); err != nil {
			return zero, w.err(id, err)
		}
		wr, err := c.writer(ctx, id)
		if err != nil {
			return zero, w.err(id, err)
		}
		if !slices.Equal(indexes, wr.tPath) {
			return zero, w.err(id, c.mismatch(wr, append([]int(nil), indexes...)))
		}
	}
	// Merge: msg is new and empty, so proto.Unmarshal's Reset of it first
	// would only cost time.
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(body, msg); err != nil {
		return zero, w.err(id, errf(ErrDecode, err, "%s", c.name))
	}
	return msg, nil
}

// newMessage returns a new, empty T.
func (c *protoCodec[T]) newMessage() T {
	if c.elem != nil {
		return reflect.New(c.elem).Interface().(T)
	}
	return c.mt.New().Interface().(T)
}

func (c *protoCodec[T]) mismatch(wr *protoWriter, indexes []int) error {
	got := wr.names.resolve(indexes)
	if got == nil {
		return errf(ErrMessageMismatch, nil, "message indexes %v name no message of the writer schema", indexes)
	}
	return errf(ErrMessageMismatch, nil, "message indexes %v name %s, want %s", indexes, got.fullName, c.name)
}

func (c *protoCodec[T]) glueMismatch(wr *protoWriter, index int) error {
	all := wr.names.sorted()
	if index >= len(all) {
		return errf(ErrMessageMismatch, nil, "AWS Glue message index %d names no message of the writer schema (%d messages)", index, len(all))
	}
	return errf(ErrMessageMismatch, nil, "AWS Glue message index %d names %s, want %s", index, all[index], c.name)
}

// writer returns the parsed writer schema with the given id.
func (c *protoCodec[T]) writer(ctx context.Context, id schemaRef) (*protoWriter, error) {
	id, err := c.c.key(id)
	if err != nil {
		return nil, err
	}
	if wr, ok := c.writers.load(id); ok {
		return wr, nil
	}
	info, err := c.c.schemaByID(ctx, id, protobufFormat)
	if err != nil {
		return nil, err
	}
	return c.writerOf(info)
}

func (c *protoCodec[T]) Serialize(ctx context.Context, t Target, v T) ([]byte, error) {
	if !v.ProtoReflect().IsValid() {
		return nil, nil
	}
	w := where{op: OpSerialize, format: protobufFormat, topic: t.Topic, isKey: t.IsKey}
	tg, err := c.targets.get(ctx, t)
	if err != nil {
		return nil, w.err(schemaRef{}, err)
	}
	size := proto.Size(v)
	out := make([]byte, 0, len(tg.w)+size)
	out = append(out, tg.w...)
	out, err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(out, v)
	if err != nil {
		return nil, w.err(tg.ref, errf(ErrEncode, err, "%s", c.name))
	}
	if out, err = c.c.finish(out); err != nil {
		return nil, w.err(tg.ref, err)
	}
	return out, nil
}

// protoSubject names t's subject; the record name is T's message name.
func (c *protoCodec[T]) protoSubject(_ context.Context, t Target) (string, error) {
	return c.cfg.subject(t, string(c.name)), nil
}

// latestPrefix is the header and T's message indexes in the subject's
// latest version.
func (c *protoCodec[T]) latestPrefix(_ context.Context, subject string, info *schemaInfo) ([]byte, error) {
	wr, err := c.writerOf(info)
	if err != nil {
		return nil, err
	}
	if wr.tPath == nil {
		return nil, errf(ErrMessageMismatch, nil, "latest schema of %q (%s) has no message %s", subject, info.ref(), c.name)
	}
	return c.prefix(info.ref(), wr), nil
}

// prefix is the header and T's message indexes for ref, in the registry's
// wire format.
func (c *protoCodec[T]) prefix(ref schemaRef, wr *protoWriter) []byte {
	out := c.c.appendPrefix(nil, ref)
	if c.c.glueWire {
		return binary.AppendUvarint(out, uint64(wr.tGlue))
	}
	return appendIndexes(out, wr.tPath)
}

// ownPrefix registers (or looks up) T's schema under subject, its imports
// first, and returns its id and the header and message indexes.
func (c *protoCodec[T]) ownPrefix(ctx context.Context, subject string) (schemaRef, []byte, error) {
	refs := c.cfg.refs
	if len(c.deps) > 0 && c.c.glue != nil {
		return schemaRef{}, nil, errf(ErrInvalidSchema, nil, "an AWS Glue registry has no schema references, and %s's file imports %s", c.name, c.deps[0].path)
	}
	if len(c.deps) > 0 && c.c.bundled == nil { // a bundled schema stands alone
		versions := map[string]int{}
		for _, d := range c.deps {
			info, err := c.c.register(ctx, c.cfg.autoRegister, d.path, d.text, protobufFormat, depRefs(d.imports, versions), true)
			if err != nil {
				return schemaRef{}, nil, err
			}
			versions[d.path] = info.version
		}
		refs = depRefs(c.rootImports, versions)
	}
	info, err := c.c.register(ctx, c.cfg.autoRegister, subject, c.schema, protobufFormat, refs, false)
	if err != nil {
		return schemaRef{}, nil, err
	}
	if c.c.glueWire {
		wr, err := c.writerOf(&schemaInfo{id: info.id, guid: info.guid, text: c.schema, typ: protobufFormat})
		if err != nil {
			return schemaRef{}, nil, err
		}
		return info.ref(), c.prefix(info.ref(), wr), nil
	}
	return info.ref(), append(appendHeader(nil, info.id), c.indexes...), nil
}

// writerOf returns info, a registered Protobuf schema, parsed once per id.
func (c *protoCodec[T]) writerOf(info *schemaInfo) (*protoWriter, error) {
	if wr, ok := c.writers.load(info.ref()); ok {
		return wr, nil
	}
	text := info.text
	if text == "" && c.c.bundled != nil { // Bundled with T's own file
		text = c.schema
	}
	names, err := parseProtoNames(text)
	if err != nil {
		return nil, err
	}
	wr := &protoWriter{names: names, tPath: names.pathOf(string(c.name)), tGlue: slices.Index(names.sorted(), string(c.name))}
	c.writers.store(info.ref(), wr)
	return wr, nil
}

func depRefs(imports []string, versions map[string]int) []Reference {
	refs := make([]Reference, 0, len(imports))
	for _, p := range imports {
		refs = append(refs, Reference{Name: p, Subject: p, Version: versions[p]})
	}
	return refs
}

// builtinProto reports imports every registry client knows without a
// reference, the list Confluent's serializers skip.
func builtinProto(path string) bool {
	return strings.HasPrefix(path, "google/protobuf/") ||
		strings.HasPrefix(path, "google/type/") ||
		strings.HasPrefix(path, "confluent/")
}

// protoDeps lists the files root imports (directly or not) that must be
// registered, dependencies first, and root's own registered imports.
func protoDeps(root protoreflect.FileDescriptor) ([]protoDep, []string, error) {
	var out []protoDep
	seen := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor) ([]string, error)
	visit = func(fd protoreflect.FileDescriptor) ([]string, error) {
		var direct []string
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			imp := imps.Get(i).FileDescriptor
			if builtinProto(imp.Path()) {
				continue
			}
			direct = append(direct, imp.Path())
			if seen[imp.Path()] {
				continue
			}
			seen[imp.Path()] = true
			sub, err := visit(imp)
			if err != nil {
				return nil, err
			}
			text, err := printProto(imp)
			if err != nil {
				return nil, err
			}
			out = append(out, protoDep{path: imp.Path(), text: text, imports: sub})
		}
		return direct, nil
	}
	rootImports, err := visit(root)
	if err != nil {
		return nil, nil, err
	}
	return out, rootImports, nil
}

// SerializeWithHeaders implements HeaderSerializer (WithSchemaIDHeader).
func (c *protoCodec[T]) SerializeWithHeaders(ctx context.Context, t Target, v T) ([]byte, []Header, error) {
	out, err := c.Serialize(ctx, t, v)
	return withIDHeader(c.cfg, t, out, true, err)
}
