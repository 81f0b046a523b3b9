package recordjson

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// schemaFile is the path the writer schema is compiled under. A reference
// named so would clash; it is refused.
const schemaFile = "recordjson-writer-schema.proto"

// maxIndexes bounds a Confluent message-index list, as serde does.
const maxIndexes = 64

// protoSchema is a compiled .proto writer schema.
type protoSchema struct {
	file     linker.File
	resolver linker.Resolver
	sorted   []protoreflect.MessageDescriptor // every message of the file, by full name (AWS Glue's index)
}

// compileProto compiles text, resolving its imports from refs (import
// path: .proto text) and the standard google/protobuf imports.
func compileProto(ctx context.Context, text string, refs map[string]string) (*protoSchema, error) {
	if _, ok := refs[schemaFile]; ok {
		return nil, fmt.Errorf("a reference is named %s", schemaFile)
	}
	srcs := make(map[string]string, len(refs)+1)
	for k, v := range refs {
		srcs[k] = v
	}
	srcs[schemaFile] = text
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)}),
	}
	files, err := c.Compile(ctx, schemaFile)
	if err != nil {
		return nil, err
	}
	p := &protoSchema{file: files[0], resolver: files.AsResolver()}
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			p.sorted = append(p.sorted, ms.Get(i))
			walk(ms.Get(i).Messages())
		}
	}
	walk(p.file.Messages())
	slices.SortFunc(p.sorted, func(a, b protoreflect.MessageDescriptor) int {
		switch {
		case a.FullName() < b.FullName():
			return -1
		case a.FullName() > b.FullName():
			return 1
		}
		return 0
	})
	return p, nil
}

// message reads the message indexes at the front of body, Confluent's
// list or AWS Glue's single index, and returns the message they name and
// the rest of body.
func (p *protoSchema) message(body []byte, glue bool) (protoreflect.MessageDescriptor, []byte, error) {
	if glue {
		v, n := binary.Uvarint(body)
		if n <= 0 {
			return nil, nil, errors.New("no AWS Glue message index")
		}
		if v >= uint64(len(p.sorted)) {
			return nil, nil, fmt.Errorf("AWS Glue message index %d names no message of the schema (%d messages)", v, len(p.sorted))
		}
		return p.sorted[v], body[n:], nil
	}
	if len(body) == 0 {
		return nil, nil, errors.New("no message indexes")
	}
	indexes := []int64{0}
	rest := body[1:]
	if body[0] != 0 {
		count, n := binary.Varint(body)
		if n <= 0 || count < 0 || count > maxIndexes {
			return nil, nil, errors.New("bad message index count")
		}
		rest = body[n:]
		indexes = indexes[:0]
		for range count {
			v, n := binary.Varint(rest)
			if n <= 0 {
				return nil, nil, errors.New("bad message index")
			}
			indexes = append(indexes, v)
			rest = rest[n:]
		}
		if count == 0 {
			indexes = append(indexes, 0)
		}
	}
	ms := p.file.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range indexes {
		if i < 0 || i >= int64(ms.Len()) {
			return nil, nil, fmt.Errorf("message indexes %v name no message of the schema", indexes)
		}
		md = ms.Get(int(i))
		ms = md.Messages()
	}
	return md, rest, nil
}

// json decodes body (message indexes, then the message) and renders it
// with protojson.
func (p *protoSchema) json(body []byte, glue bool) ([]byte, error) {
	md, rest, err := p.message(body, glue)
	if err != nil {
		return nil, fmt.Errorf("recordjson: Protobuf: %w", err)
	}
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: p.resolver}).Unmarshal(rest, msg); err != nil {
		return nil, fmt.Errorf("recordjson: Protobuf: %s: %w", md.FullName(), err)
	}
	out, err := (protojson.MarshalOptions{Resolver: p.resolver}).Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("recordjson: Protobuf: %s: %w", md.FullName(), err)
	}
	return out, nil
}
