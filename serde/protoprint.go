package serde

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// printProto renders a file descriptor as .proto source text, the schema a
// Protobuf serializer registers. It keeps what a registry reader needs to
// decode the same bytes and to find messages by index: syntax, package,
// imports, messages with nested messages in descriptor order (map fields sit
// where their synthetic entry message sits, so indexes agree), fields with
// labels, numbers, types by fully-qualified name, json_name, packed,
// proto2 defaults, oneofs, enums, reserved ranges and names, extension
// ranges. It leaves out file and message options, services and extensions,
// which do not change the encoding. Editions files and proto2 groups are
// not supported: give their text with WithSchema.
func printProto(fd protoreflect.FileDescriptor) (string, error) {
	p := &protoPrinter{}
	switch fd.Syntax() {
	case protoreflect.Proto2:
		p.line(0, `syntax = "proto2";`)
	case protoreflect.Proto3:
		p.line(0, `syntax = "proto3";`)
	default:
		return "", errf(ErrInvalidSchema, nil, "%s: cannot print %v files; give the schema with WithSchema", fd.Path(), fd.Syntax())
	}
	p.proto3 = fd.Syntax() == protoreflect.Proto3
	if pkg := fd.Package(); pkg != "" {
		p.line(0, "package %s;", pkg)
	}
	imports := fd.Imports()
	for i := 0; i < imports.Len(); i++ {
		imp := imports.Get(i)
		kw := ""
		switch {
		case imp.IsPublic:
			kw = "public "
		case imp.IsWeak:
			kw = "weak "
		}
		p.line(0, "import %s%s;", kw, quoteProto(imp.Path()))
	}
	for i := 0; i < fd.Enums().Len(); i++ {
		p.enum(0, fd.Enums().Get(i))
	}
	for i := 0; i < fd.Messages().Len(); i++ {
		if err := p.message(0, fd.Messages().Get(i)); err != nil {
			return "", err
		}
	}
	return p.b.String(), nil
}

type protoPrinter struct {
	b      strings.Builder
	proto3 bool
}

func (p *protoPrinter) line(depth int, format string, args ...any) {
	for i := 0; i < depth; i++ {
		p.b.WriteString("  ")
	}
	fmt.Fprintf(&p.b, format, args...)
	p.b.WriteByte('\n')
}

func (p *protoPrinter) message(depth int, md protoreflect.MessageDescriptor) error {
	p.line(depth, "message %s {", md.Name())
	in := depth + 1
	// Fields that are not maps, with real oneofs printed at their first field.
	fields := md.Fields()
	printedOneof := map[protoreflect.Name]bool{}
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if f.IsMap() {
			continue
		}
		if f.Kind() == protoreflect.GroupKind {
			return errf(ErrInvalidSchema, nil, "%s: cannot print proto2 groups; give the schema with WithSchema", f.FullName())
		}
		if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if printedOneof[od.Name()] {
				continue
			}
			printedOneof[od.Name()] = true
			p.line(in, "oneof %s {", od.Name())
			for j := 0; j < od.Fields().Len(); j++ {
				of := od.Fields().Get(j)
				if of.Kind() == protoreflect.GroupKind {
					return errf(ErrInvalidSchema, nil, "%s: cannot print proto2 groups; give the schema with WithSchema", of.FullName())
				}
				p.field(in+1, of, true)
			}
			p.line(in, "}")
			continue
		}
		p.field(in, f, false)
	}
	for i := 0; i < md.Enums().Len(); i++ {
		p.enum(in, md.Enums().Get(i))
	}
	// Nested messages in descriptor order; a map entry prints as its field.
	nested := md.Messages()
	for i := 0; i < nested.Len(); i++ {
		nm := nested.Get(i)
		if nm.IsMapEntry() {
			if f := mapFieldOf(md, nm); f != nil {
				p.field(in, f, false)
			}
			continue
		}
		if err := p.message(in, nm); err != nil {
			return err
		}
	}
	p.ranges(in, md)
	p.line(depth, "}")
	return nil
}

func mapFieldOf(md protoreflect.MessageDescriptor, entry protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if f := fields.Get(i); f.IsMap() && f.Message() == entry {
			return f
		}
	}
	return nil
}

// maxFieldNumber is the largest field number, "max" in a range.
const maxFieldNumber = 536870911

func (p *protoPrinter) ranges(depth int, md protoreflect.MessageDescriptor) {
	// Field ranges are [start, end).
	rr, er := md.ReservedRanges(), md.ExtensionRanges()
	p.list(depth, "reserved", rr.Len(), func(i int) string {
		r := rr.Get(i)
		return rangeText(int64(r[0]), int64(r[1])-1, maxFieldNumber)
	})
	p.reservedNames(depth, md.ReservedNames())
	p.list(depth, "extensions", er.Len(), func(i int) string {
		r := er.Get(i)
		return rangeText(int64(r[0]), int64(r[1])-1, maxFieldNumber)
	})
}

// list prints "keyword item(0), item(1), ...;", or nothing when n is 0.
func (p *protoPrinter) list(depth int, keyword string, n int, item func(i int) string) {
	if n == 0 {
		return
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	p.line(depth, "%s %s;", keyword, strings.Join(parts, ", "))
}

func (p *protoPrinter) reservedNames(depth int, names protoreflect.Names) {
	p.list(depth, "reserved", names.Len(), func(i int) string { return quoteProto(string(names.Get(i))) })
}

// rangeText renders the inclusive range lo..hi, with "max" for a hi of max
// (the largest number there is).
func rangeText(lo, hi, max int64) string {
	switch {
	case lo == hi:
		return strconv.FormatInt(lo, 10)
	case hi >= max:
		return fmt.Sprintf("%d to max", lo)
	default:
		return fmt.Sprintf("%d to %d", lo, hi)
	}
}

func (p *protoPrinter) field(depth int, f protoreflect.FieldDescriptor, inOneof bool) {
	var b strings.Builder
	switch {
	case f.IsMap():
		fmt.Fprintf(&b, "map<%s, %s> ", typeName(f.MapKey()), typeName(f.MapValue()))
	case inOneof:
	case f.Cardinality() == protoreflect.Repeated:
		b.WriteString("repeated ")
	case f.Cardinality() == protoreflect.Required:
		b.WriteString("required ")
	case !p.proto3 || f.HasOptionalKeyword():
		b.WriteString("optional ")
	}
	if !f.IsMap() {
		b.WriteString(typeName(f))
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%s = %d", f.Name(), f.Number())
	var opts []string
	if f.HasDefault() {
		opts = append(opts, "default = "+defaultText(f))
	}
	if f.HasJSONName() && f.JSONName() != jsonCamelCase(string(f.Name())) {
		opts = append(opts, "json_name = "+quoteProto(f.JSONName()))
	}
	if f.IsList() && isPackable(f.Kind()) {
		if p.proto3 && !f.IsPacked() {
			opts = append(opts, "packed = false")
		} else if !p.proto3 && f.IsPacked() {
			opts = append(opts, "packed = true")
		}
	}
	if len(opts) > 0 {
		b.WriteString(" [" + strings.Join(opts, ", ") + "]")
	}
	b.WriteByte(';')
	p.line(depth, "%s", b.String())
}

func (p *protoPrinter) enum(depth int, ed protoreflect.EnumDescriptor) {
	p.line(depth, "enum %s {", ed.Name())
	if o, ok := ed.Options().(*descriptorpb.EnumOptions); ok && o.GetAllowAlias() {
		p.line(depth+1, "option allow_alias = true;")
	}
	vals := ed.Values()
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		p.line(depth+1, "%s = %d;", v.Name(), v.Number())
	}
	// Enum ranges are inclusive.
	rr := ed.ReservedRanges()
	p.list(depth+1, "reserved", rr.Len(), func(i int) string {
		r := rr.Get(i)
		return rangeText(int64(r[0]), int64(r[1]), math.MaxInt32)
	})
	p.reservedNames(depth+1, ed.ReservedNames())
	p.line(depth, "}")
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "." + string(f.Message().FullName())
	case protoreflect.EnumKind:
		return "." + string(f.Enum().FullName())
	default:
		return f.Kind().String()
	}
}

func isPackable(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return false
	}
	return true
}

func defaultText(f protoreflect.FieldDescriptor) string {
	v := f.Default()
	switch f.Kind() {
	case protoreflect.EnumKind:
		if ev := f.DefaultEnumValue(); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.StringKind:
		return quoteProto(v.String())
	case protoreflect.BytesKind:
		return quoteProto(string(v.Bytes()))
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		x := v.Float()
		switch {
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		case math.IsNaN(x):
			return "nan"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	default:
		return strconv.FormatInt(v.Int(), 10)
	}
}

// quoteProto quotes s as a .proto string literal: printable ASCII as is,
// every other byte as an octal escape.
func quoteProto(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jsonCamelCase is protoc's default json_name: underscores dropped, the
// letter after each one upper-cased.
func jsonCamelCase(s string) string { return camel(s, false) }

// camel drops underscores from s and upper-cases the letter after each one
// (and the first letter too when upFirst), as protoc names things.
func camel(s string, upFirst bool) string {
	var b strings.Builder
	up := upFirst
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			up = true
		case up && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			up = false
		default:
			b.WriteByte(c)
			up = false
		}
	}
	return b.String()
}
