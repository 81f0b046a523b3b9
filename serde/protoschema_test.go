package serde

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// compileProto compiles printed .proto sources with a real compiler
// (protocompile, test-only), the way a registry client parses a schema.
func compileProto(t *testing.T, name string, sources map[string]string) protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(sources),
	})}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		t.Fatalf("compile printed %s: %v\n%s", name, err, sources[name])
	}
	return files[0]
}

// allMessages lists every message of fd with its index path, in order.
func allMessages(fd protoreflect.FileDescriptor) map[string][]int {
	out := map[string][]int{}
	var walk func(ms protoreflect.MessageDescriptors, path []int)
	walk = func(ms protoreflect.MessageDescriptors, path []int) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			p := append(slices.Clip(path), i)
			out[string(m.FullName())] = p
			walk(m.Messages(), p)
		}
	}
	walk(fd.Messages(), nil)
	return out
}

func fieldSignature(m protoreflect.MessageDescriptor) []string {
	var out []string
	fs := m.Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		def := ""
		if f.HasDefault() {
			def = fmt.Sprint(f.Default().Interface())
		}
		oneof := ""
		if o := f.ContainingOneof(); o != nil {
			oneof = string(o.Name())
		}
		out = append(out, fmt.Sprintf("%s=%d %v %v json=%s packed=%v def=%s oneof=%s opt=%v",
			f.Name(), f.Number(), f.Kind(), f.Cardinality(), f.JSONName(), f.IsPacked(), def, oneof, f.HasOptionalKeyword()))
	}
	slices.Sort(out)
	return out
}

// The printer's text, compiled again, has the same messages at the same
// indexes with the same fields; and our name parser agrees with the compiler
// on every index path.
func TestPrintProtoRoundTrip(t *testing.T) {
	for _, fd := range []protoreflect.FileDescriptor{
		(&testpb.Trade{}).ProtoReflect().Descriptor().ParentFile(),
		descriptorpb.File_google_protobuf_descriptor_proto, // proto2: defaults, extension ranges, reserved
		timestamppb.File_google_protobuf_timestamp_proto,
		structpb.File_google_protobuf_struct_proto, // map fields, oneof, enums
	} {
		t.Run(fd.Path(), func(t *testing.T) {
			sources := map[string]string{}
			var add func(fd protoreflect.FileDescriptor)
			add = func(fd protoreflect.FileDescriptor) {
				text, err := printProto(fd)
				if err != nil {
					t.Fatal(err)
				}
				sources[fd.Path()] = text
				for i := 0; i < fd.Imports().Len(); i++ {
					if imp := fd.Imports().Get(i); !builtinProto(imp.Path()) {
						add(imp.FileDescriptor)
					}
				}
			}
			add(fd)
			if builtinProto(fd.Path()) { // don't let the standard import shadow ours
				sources["printed/"+fd.Path()] = sources[fd.Path()]
				delete(sources, fd.Path())
			}
			name := fd.Path()
			if _, ok := sources[name]; !ok {
				name = "printed/" + fd.Path()
			}
			got := compileProto(t, name, sources)
			want := allMessages(fd)
			if g := allMessages(got); fmt.Sprint(g) != fmt.Sprint(want) {
				t.Fatalf("message indexes differ:\n got %v\nwant %v", g, want)
			}
			for full := range want {
				a := findMessage(fd, full)
				b := findMessage(got, full)
				if fmt.Sprint(fieldSignature(a)) != fmt.Sprint(fieldSignature(b)) {
					t.Fatalf("%s fields differ:\n got %v\nwant %v", full, fieldSignature(b), fieldSignature(a))
				}
			}
			names, err := parseProtoNames(sources[name])
			if err != nil {
				t.Fatal(err)
			}
			for full, path := range want {
				if p := names.pathOf(full); !slices.Equal(p, path) {
					t.Errorf("name parser: %s at %v, compiler says %v", full, p, path)
				}
				if m := names.resolve(path); m == nil || m.fullName != full {
					t.Errorf("name parser: %v resolves to %v, want %s", path, m, full)
				}
			}
		})
	}
}

func findMessage(fd protoreflect.FileDescriptor, full string) protoreflect.MessageDescriptor {
	var walk func(ms protoreflect.MessageDescriptors) protoreflect.MessageDescriptor
	walk = func(ms protoreflect.MessageDescriptors) protoreflect.MessageDescriptor {
		for i := 0; i < ms.Len(); i++ {
			if m := ms.Get(i); string(m.FullName()) == full {
				return m
			} else if r := walk(m.Messages()); r != nil {
				return r
			}
		}
		return nil
	}
	return walk(fd.Messages())
}

// Hand-written schema texts with the constructs the name parser must skip
// or count, checked against the compiler.
func TestProtoNamesAgainstCompiler(t *testing.T) {
	const text = `// leading comment with message Fake {
syntax = "proto2";
package a.b;
/* block comment: message AlsoFake { } */
import "google/protobuf/descriptor.proto";
option java_package = "x { y";
extend google.protobuf.MessageOptions { optional string tag = 50000; }
enum Top { TOP_A = 0; }
message First {
  option (tag) = "message Inner {";
  optional group Grp = 1 { optional int32 g = 2; }
  map<string, First> by_name = 3;
  oneof choice {
    string s = 4;
    group InOneof = 5 { optional int32 x = 6; }
  }
  message Nested {
    message Deeper { optional string message = 1; }
    enum E { E_A = 0; }
  }
  map<int32, string> my_snake_map = 7;
  extensions 100 to max;
}
service Svc { rpc Call(First) returns (First) { option deprecated = true; } }
message Second {}
`
	got := compileProto(t, "x.proto", map[string]string{"x.proto": text})
	names, err := parseProtoNames(text)
	if err != nil {
		t.Fatal(err)
	}
	want := allMessages(got)
	if len(want) != 8 {
		t.Fatalf("compiler found %d messages: %v", len(want), want)
	}
	for full, path := range want {
		if p := names.pathOf(full); !slices.Equal(p, path) {
			t.Errorf("%s: parser %v, compiler %v", full, p, path)
		}
	}
}

func TestProtoNamesRejectsBrokenText(t *testing.T) {
	for _, text := range []string{
		"message A {", "message A { } }", `message A { string s = 1 [default = "x`, "/* open", "message A { 'x\n' }",
	} {
		if _, err := parseProtoNames(text); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, idx := range [][]int{{0}, {1}, {1, 1}, {0, 2, 3}, {127, 128, 1 << 20}} {
		b := appendIndexes(appendHeader(nil, 0x01020304), idx)
		id, rest, err := ParseHeader(b)
		if err != nil || id != 0x01020304 {
			t.Fatalf("%v: id %x, %v", idx, id, err)
		}
		got, rest, err := parseIndexes(rest, nil)
		if err != nil || !slices.Equal(got, idx) || len(rest) != 0 {
			t.Fatalf("%v: got %v rest %v err %v", idx, got, rest, err)
		}
	}
	if b := appendIndexes(nil, []int{0}); len(b) != 1 || b[0] != 0 {
		t.Fatalf("[0] must be the single byte 0, got % x", b)
	}
}

// Reserved ranges and names of messages (half-open field ranges) and of
// enums (inclusive ranges) print alike, with "max" for the largest number.
func TestPrintProtoReserved(t *testing.T) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("x/r.proto"), Package: proto.String("x"), Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name:  proto.String("E"),
			Value: []*descriptorpb.EnumValueDescriptorProto{{Name: proto.String("E_A"), Number: proto.Int32(0)}},
			ReservedRange: []*descriptorpb.EnumDescriptorProto_EnumReservedRange{
				{Start: proto.Int32(3), End: proto.Int32(3)}, {Start: proto.Int32(5), End: proto.Int32(9)},
				{Start: proto.Int32(100), End: proto.Int32(math.MaxInt32)}},
			ReservedName: []string{"OLD", "GONE"},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("M"),
			ReservedRange: []*descriptorpb.DescriptorProto_ReservedRange{
				{Start: proto.Int32(2), End: proto.Int32(3)}, {Start: proto.Int32(10), End: proto.Int32(20)},
				{Start: proto.Int32(1000), End: proto.Int32(536870912)}},
			ReservedName: []string{"a", "b"},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := printProto(fd)
	if err != nil {
		t.Fatal(err)
	}
	const want = `syntax = "proto3";
package x;
enum E {
  E_A = 0;
  reserved 3, 5 to 9, 100 to max;
  reserved "OLD", "GONE";
}
message M {
  reserved 2, 10 to 19, 1000 to max;
  reserved "a", "b";
}
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	compileProto(t, "x/r.proto", map[string]string{"x/r.proto": got})
}
