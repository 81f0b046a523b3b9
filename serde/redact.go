package serde

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"
	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Record contents are often personal data, so no error of this package
// quotes them, and the libraries' own messages often do (go-json
// may quote the data around the fault, encoding/json the number it
// could not store, protojson the bad token, JSON Schema the value that
// failed "minimum", hamba/avro the enum symbol it cannot write, and user
// Marshal/Unmarshal methods whatever they like). A codec therefore writes
// its own message from what it can say without the content (byte offset,
// line and column, field or JSON path, Go type, schema keyword and
// location) and keeps the library's error in the chain, behind described,
// for errors.Is and errors.As.

// described is an error whose text this package wrote, with the error it
// describes in the chain (errors.Is and errors.As see it) but not in the
// text, which may quote a record or a whole registry answer.
type described struct {
	msg string
	err error
}

func (d *described) Error() string { return d.msg }
func (d *described) Unwrap() error { return d.err }

// describe wraps err in a described with the given message.
func describe(err error, format string, args ...any) error {
	return &described{msg: fmt.Sprintf(format, args...), err: err}
}

// jsonDetail describes an encoding/json error without the content: the
// offset, the JSON kind, the Go type and field, or the type whose
// Marshal/Unmarshal method failed.
func jsonDetail(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var inv *json.InvalidUnmarshalError
	var ut *json.UnsupportedTypeError
	var uv *json.UnsupportedValueError
	var me *json.MarshalerError
	switch {
	case errors.As(err, &syn):
		if strings.HasPrefix(syn.Error(), "invalid character") { // quotes it
			return fmt.Sprintf("invalid JSON at byte offset %d", syn.Offset)
		}
		return fmt.Sprintf("invalid JSON at byte offset %d (%s)", syn.Offset, oneLine(syn.Error()))
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 123" quotes the number
		where := ""
		if typ.Field != "" {
			where = " (field " + typ.Struct + "." + typ.Field + ")"
		}
		return fmt.Sprintf("a JSON %s at byte offset %d cannot be stored in %s%s", kind, typ.Offset, typ.Type, where)
	case errors.As(err, &inv), errors.As(err, &ut):
		return err.Error() // Go types only
	case errors.As(err, &uv):
		return fmt.Sprintf("json: unsupported value of type %s", uv.Value.Type())
	case errors.As(err, &me):
		return fmt.Sprintf("json: a MarshalJSON or MarshalText method of %s failed", me.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	case errors.Is(err, io.EOF):
		return "no JSON value"
	}
	// What encoding/json returns unwrapped: an UnmarshalJSON or
	// UnmarshalText method's own error.
	return fmt.Sprintf("an UnmarshalJSON or UnmarshalText method failed (%T)", err)
}

// goJSONDetail describes a goccy/go-json error, whose text may quote the
// data around the fault. It decodes (into) again with encoding/json, whose
// errors carry structure, and falls back to the offset go-json reports.
func goJSONDetail(jsonErr error, again func() error) string {
	if err := again(); err != nil {
		return jsonDetail(err)
	}
	var syn *gojson.SyntaxError
	if errors.As(jsonErr, &syn) {
		return fmt.Sprintf("go-json failed at byte %d", syn.Offset)
	}
	return "go-json failed"
}

// avroDetail describes a hamba/avro error. hamba wraps an error with the
// name of each field it was in ("Side: avro: unknown enum symbol: X");
// those names are kept when they are field names of schema s or of Go type
// t (so that no text a user method wrapped an error with passes). The innermost
// message is kept when it is hamba's own ("avro: ...", checked against
// hamba v2.31.0), minus what follows the prefixes that quote a value;
// anything else (a user Marshal/Unmarshal method's error) is named by type.
func avroDetail(err error, s avro.Schema, t reflect.Type) string {
	names := map[string]bool{}
	if s != nil {
		avroNames(s, names, map[string]bool{})
	}
	goNames(t, names, map[reflect.Type]bool{})
	var path []string
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		if p, ok := strings.CutSuffix(err.Error(), ": "+inner.Error()); ok && names[p] {
			path = append(path, p)
		}
		err = inner
	}
	msg := avroMessage(err)
	if len(path) == 0 {
		return msg
	}
	return "field " + strings.Join(path, ".") + ": " + msg
}

// avroMessage is the innermost hamba message, without a value.
func avroMessage(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of data"
	}
	rest, ok := strings.CutPrefix(err.Error(), "avro: ")
	if !ok {
		return fmt.Sprintf("a marshaling method failed (%T)", err)
	}
	for _, p := range []string{"unknown enum symbol", "unknown union type"} {
		if strings.HasPrefix(rest, p) {
			return "avro: " + p
		}
	}
	for _, op := range []string{"textMarshalerCodec", "decode enum text unmarshaler", "mapDecoderUnmarshaler", "Union"} {
		if strings.HasPrefix(rest, op+": ") {
			return "avro: " + op + " failed"
		}
	}
	return oneLine(err.Error())
}

// avroNames adds the field names of s (and of the types in it) to names,
// as hamba writes them in errors: the schema's name, else the Go field's.
func avroNames(s avro.Schema, names, seen map[string]bool) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		if seen[n.FullName()] {
			return
		}
		seen[n.FullName()] = true
	}
	switch t := s.(type) {
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			names[f.Name()] = true
			avroNames(f.Type(), names, seen)
		}
	case *avro.ArraySchema:
		avroNames(t.Items(), names, seen)
	case *avro.MapSchema:
		avroNames(t.Values(), names, seen)
	case *avro.UnionSchema:
		for _, u := range t.Types() {
			avroNames(u, names, seen)
		}
	}
}

// goNames adds the names of the struct fields in t (and in the types in
// it) to names: hamba names a field by its Go name in some errors.
func goNames(t reflect.Type, names map[string]bool, seen map[reflect.Type]bool) {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		t = t.Elem()
	}
	if t == nil || seen[t] {
		return
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Map:
		goNames(t.Elem(), names, seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			names[f.Name] = true
			goNames(f.Type, names, seen)
		}
	}
}

// protojsonDetail describes a protojson error by its position (and, for
// "invalid value for <kind> field <name>", the field), without the token
// it quotes.
func protojsonDetail(err error, name string) string {
	msg := err.Error()
	what := "cannot read it as " + name
	if strings.Contains(msg, "syntax error") {
		what = "syntax error"
	}
	i := strings.Index(msg, "(line ")
	if i < 0 {
		return "protojson: " + what
	}
	pos, after, ok := strings.Cut(msg[i+len("(line "):], ")")
	line, col, ok2 := strings.Cut(pos, ":")
	l, err1 := strconv.Atoi(line)
	c, err2 := strconv.Atoi(col)
	if !ok || !ok2 || err1 != nil || err2 != nil {
		return "protojson: " + what
	}
	if f := strings.Fields(after); len(f) >= 7 && f[0] == ":" && f[1] == "invalid" && f[2] == "value" && f[3] == "for" && f[5] == "field" {
		field := strings.TrimSuffix(f[6], ":")
		if isIdent(f[4]) && isIdent(field) {
			what = "invalid value for " + f[4] + " field " + field
		}
	}
	return fmt.Sprintf("protojson: %s at line %d, column %d", what, l, c)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '_' && r != '.' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// validationDetail describes a JSON Schema validation error by where the
// value failed and which keyword failed it, not by the validator's
// message, which can quote the value ("must be >= 0 but found -12").
func validationDetail(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Sprintf("the validator failed (%T)", err)
	}
	var leaves []*jsonschema.ValidationError
	var walk func(*jsonschema.ValidationError)
	walk = func(v *jsonschema.ValidationError) {
		if len(v.Causes) == 0 {
			leaves = append(leaves, v)
		}
		for _, c := range v.Causes {
			walk(c)
		}
	}
	walk(ve)
	var b strings.Builder
	for i, l := range leaves {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(leaves)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		at := l.InstanceLocation
		if at == "" {
			at = "/"
		}
		keyword := l.KeywordLocation[strings.LastIndexByte(l.KeywordLocation, '/')+1:]
		fmt.Fprintf(&b, "%s fails %q (schema %s)", oneLine(at), keyword, oneLine(l.KeywordLocation))
	}
	return b.String()
}
