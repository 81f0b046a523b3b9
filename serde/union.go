package serde

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// UnionCase is one case of a Union: the record type it handles and how
// such a record becomes a T. Make one with Case.
type UnionCase[T any] struct {
	name   string
	decode func(ctx context.Context, m Message) (T, error)
	err    error
}

// Case returns the case of a Union for records whose writer schema names
// recordType: d decodes them into a U, and to turns the U into the union's
// T. A nil to converts the U itself, which must then be assignable to T
// (T an interface that U implements, say); otherwise Union fails with
// ErrInvalidOption. The conversion is Go's assignment: when U is an
// interface and d returns a nil U without an error, the Union returns the
// nil (zero) T and no error, as d chose a nil value for that record.
//
// recordType is what the writer schema names: an Avro schema's full name
// ("com.example.Order"), a Protobuf message's full name
// ("example.v1.Order"), a JSON Schema's "title". They are the record names
// that RecordNameStrategy and TopicRecordNameStrategy put into subjects.
func Case[T, U any](recordType string, d Deserializer[U], to func(U) T) UnionCase[T] {
	c := UnionCase[T]{name: recordType}
	switch {
	case recordType == "":
		c.err = errors.New("empty record type")
	case d == nil:
		c.err = fmt.Errorf("case %q: nil Deserializer", recordType)
	case to == nil && !reflect.TypeFor[U]().AssignableTo(reflect.TypeFor[T]()):
		c.err = fmt.Errorf("case %q: nil func, and %v is not assignable to %v", recordType, reflect.TypeFor[U](), reflect.TypeFor[T]())
	case to == nil:
		to = assign[T, U]
	}
	c.decode = func(ctx context.Context, m Message) (T, error) {
		u, err := d.Deserialize(ctx, m)
		if err != nil {
			var zero T
			return zero, err
		}
		return to(u), nil
	}
	return c
}

// assign is the assignment t = u, for a U assignable to T (Case checks
// that): a nil interface u becomes the nil T, and a u of a type other
// than T whose underlying type is T's (a []byte for a named []byte type)
// is converted. Neither panics, as the type assertion u.(T) would.
func assign[T, U any](u U) T {
	if t, ok := any(u).(T); ok {
		return t
	}
	var t T
	v := reflect.ValueOf(&u).Elem()
	if v.Kind() == reflect.Interface && v.IsNil() {
		return t // the nil T
	}
	reflect.ValueOf(&t).Elem().Set(v)
	return t
}

// Union returns a Deserializer of T for a topic (or key) that carries
// records of several types, as producers using RecordNameStrategy or
// TopicRecordNameStrategy write them. For each record it reads the schema
// id (from any framing a registry codec reads: the Confluent or AWS Glue
// prefix, a schema id header, ESM metadata in SOURCE or JSON mode), gets
// the writer schema from r (once per id, with the codecs' caching and
// retries), reads the record type it names, and hands the whole Message
// to the case for that type, whose Deserializer decodes it as it would
// alone. T is a type of the caller's: usually an interface that each
// case's type implements, or a struct with one field per type.
//
// The record type is, by the writer schema's type:
//
//   - AVRO: the full name (namespace.name) of the schema's top-level named
//     type. A top-level union or primitive names none.
//   - PROTOBUF: the full name of the message the record's message indexes
//     name (for AWS Glue, its message index). In ESM JSON mode the indexes
//     are gone: the record type is the one message of the writer schema
//     that has a case, and more than one is ErrUnknownRecordType.
//   - JSON (JSON Schema): the schema's "title", which is also what
//     Confluent's serializers use as the record name.
//
// A record type without a case, or a writer schema that names none, is
// ErrUnknownRecordType: the record's fault, in an *Error with the topic,
// the schema id and the type in RecordType. The cases' Deserializers should
// read through r (or a registry naming the same ids), since they look the
// writer schema up again from their own caches. A Union needs the schema
// id: ESM JSON mode without one is ErrSchemaID. It has no options; each
// case's codec has its own (WithEventRecordFormat, WithWireFormat, ...).
//
// Errors from building it: ErrInvalidOption for a nil r, no case, a case
// with an empty or repeated record type, a nil Deserializer, a nil func
// where U is not assignable to T, or a Bundled r that a codec would refuse
// or whose Schema.Text is empty. A Union has no T, so unlike a Protobuf
// codec it cannot take a bundled Protobuf schema from T's descriptor:
// give Bundled the .proto text that declares the cases' messages.
func Union[T any](r Registry, cases ...UnionCase[T]) (Deserializer[T], error) {
	var errs []error
	if r == nil {
		errs = append(errs, errors.New("nil Registry"))
	}
	if len(cases) == 0 {
		errs = append(errs, errors.New("no case"))
	}
	if b, ok := r.(*bundledRegistry); ok {
		for _, e := range b.checkUnion() {
			errs = append(errs, errors.New(e))
		}
	}
	u := &union[T]{cases: make(map[string]func(context.Context, Message) (T, error), len(cases))}
	for _, c := range cases {
		switch {
		case c.err != nil:
			errs = append(errs, c.err)
		case c.decode == nil:
			errs = append(errs, errors.New("a zero UnionCase (make cases with Case)"))
		case u.cases[c.name] != nil:
			errs = append(errs, fmt.Errorf("record type %q has two cases", c.name))
		default:
			u.cases[c.name] = c.decode
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("serde: %w: Union: %w", ErrInvalidOption, errors.Join(errs...))
	}
	u.c = newClient(r, defaultRetry, 5*time.Minute)
	return u, nil
}

// unionFormat is Error.Format for a Union's own errors before the writer
// schema's type is known.
const unionFormat = "UNION"

type union[T any] struct {
	c       *client
	cases   map[string]func(context.Context, Message) (T, error)
	writers cowMap[schemaRef, *unionWriter]
}

// unionWriter is what a Union knows of one writer schema.
type unionWriter struct {
	typ   string
	name  string      // Avro, JSON Schema: the record type; "" if none
	proto *protoNames // Protobuf: its messages
}

func (u *union[T]) Deserialize(ctx context.Context, m Message) (T, error) {
	var zero T
	w := where{op: OpDeserialize, format: unionFormat, topic: m.Topic, isKey: m.IsKey}
	ref, rest, meta, err := peek(m)
	if err != nil {
		return zero, w.err(ref, err)
	}
	uw, err := u.writer(ctx, ref)
	if err != nil {
		return zero, w.err(ref, err)
	}
	w.format = uw.typ
	name, err := u.recordType(uw, ref, rest, meta)
	if err != nil {
		return zero, w.err(ref, err)
	}
	decode := u.cases[name]
	if decode == nil {
		e := w.err(ref, errf(ErrUnknownRecordType, nil, "no case for record type %q", name)).(*Error)
		e.RecordType = name
		return zero, e
	}
	return decode(ctx, m)
}

// peek finds the schema id of m and the bytes after the prefix, as locate
// does for a codec of any format; meta says m came with ESM metadata (the
// data has no prefix then).
func peek(m Message) (ref schemaRef, rest []byte, meta bool, err error) {
	if m.Schema != nil {
		ref, err := metaSchemaID(m.Schema.SchemaID)
		if err != nil {
			return schemaRef{}, nil, true, fmt.Errorf("a Union needs the writer schema id: %w", err)
		}
		return ref, m.Data, true, nil
	}
	if ref, body, found, err := fromIDHeader(m, true); found {
		return ref, body, false, err
	}
	ref, rest, err = parseWire(m.Data, WireFormatAuto)
	return ref, rest, false, err
}

// writer returns what the union knows of the writer schema ref names.
func (u *union[T]) writer(ctx context.Context, ref schemaRef) (*unionWriter, error) {
	key, err := u.c.key(ref)
	if err != nil {
		return nil, err
	}
	if uw, ok := u.writers.load(key); ok {
		return uw, nil
	}
	info, err := u.c.fetchByID(ctx, key)
	if err != nil {
		return nil, err
	}
	uw := &unionWriter{typ: info.typ}
	switch info.typ {
	case avroFormat:
		uw.name, err = avroFullName(info.text)
	case protobufFormat:
		uw.proto, err = parseProtoNames(info.text)
	case jsonSchemaFormat:
		uw.name, err = jsonSchemaTitle(info.text)
	default:
		err = errf(ErrFormatMismatch, nil, "%s is of type %.20q, which a Union does not read", ref, info.typ)
	}
	if err != nil {
		return nil, err
	}
	u.writers.store(key, uw)
	return uw, nil
}

// recordType is the record type of the record whose writer schema is uw;
// rest is what follows the prefix (for Protobuf, the message indexes).
func (u *union[T]) recordType(uw *unionWriter, ref schemaRef, rest []byte, meta bool) (string, error) {
	if uw.proto == nil {
		if uw.name == "" {
			return "", errf(ErrUnknownRecordType, nil, "the writer schema names no record type")
		}
		return uw.name, nil
	}
	if meta && looksLikeJSONObject(rest) { // ESM JSON mode: no indexes
		var found []string
		for _, n := range uw.proto.sorted() {
			if u.cases[n] != nil {
				found = append(found, n)
			}
		}
		if len(found) != 1 {
			return "", errf(ErrUnknownRecordType, nil, "ESM JSON mode drops the Protobuf message indexes, and %d messages of the writer schema have a case", len(found))
		}
		return found[0], nil
	}
	if ref.guid != (uuid{}) && !ref.cguid { // AWS Glue: one varint index
		index, _, err := parseGlueIndex(rest)
		if err != nil {
			return "", err
		}
		all := uw.proto.sorted()
		if index >= len(all) {
			return "", errf(ErrMessageMismatch, nil, "AWS Glue message index %d names no message of the writer schema (%d messages)", index, len(all))
		}
		return all[index], nil
	}
	var buf [4]int
	indexes, _, err := parseIndexes(rest, buf[:0])
	if err != nil {
		return "", err
	}
	msg := uw.proto.resolve(indexes)
	if msg == nil {
		return "", errf(ErrMessageMismatch, nil, "message indexes %v name no message of the writer schema", slices.Clone(indexes))
	}
	return msg.fullName, nil
}

// avroFullName is the full name of an Avro schema's top-level named type
// (record, enum, fixed), "" when it has none.
func avroFullName(text string) (string, error) {
	var top any
	if err := json.Unmarshal([]byte(text), &top); err != nil {
		return "", errf(ErrInvalidSchema, describe(err, "%s", jsonDetail(err)), "Avro schema")
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return "", nil
	}
	name, _ := obj["name"].(string)
	if name == "" || strings.Contains(name, ".") {
		return name, nil
	}
	if ns, _ := obj["namespace"].(string); ns != "" {
		return ns + "." + name, nil
	}
	return name, nil
}

// jsonSchemaTitle is a JSON Schema's "title", "" when it has none.
func jsonSchemaTitle(text string) (string, error) {
	var doc any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return "", errf(ErrInvalidSchema, describe(err, "%s", jsonDetail(err)), "JSON Schema")
	}
	obj, _ := doc.(map[string]any) // a boolean schema has no title
	title, _ := obj["title"].(string)
	return title, nil
}
