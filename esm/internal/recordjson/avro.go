package recordjson

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// maxDepth bounds the nesting of values rendered, as serde bounds it.
const maxDepth = 64

// MaxJSON bounds the JSON rendered for one body: an array of nulls (zero
// bytes each in Avro) must not grow without end.
const MaxJSON = 16 << 20

var (
	errTruncated = errors.New("truncated")
	errTooLarge  = fmt.Errorf("rendered JSON over %d bytes", MaxJSON)
)

// avroBody is an Avro binary body being read and rendered.
type avroBody struct {
	data []byte
	out  []byte
}

func (b *avroBody) long() (int64, error) {
	u, n := binary.Uvarint(b.data)
	if n <= 0 || n > 10 {
		return 0, errors.New("bad varint")
	}
	b.data = b.data[n:]
	return int64(u>>1) ^ -int64(u&1), nil
}

func (b *avroBody) take(n int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative length %d", n)
	}
	if n > int64(len(b.data)) {
		return nil, errTruncated
	}
	out := b.data[:n]
	b.data = b.data[n:]
	return out, nil
}

// AvroJSON decodes body, Avro binary written with schema s, and returns it
// in the Avro JSON encoding. A body that is not exactly one value of s
// (truncated, with bytes left over, a bad union index, enum symbol or
// boolean, a string that is not UTF-8) is an error naming the path.
func AvroJSON(s avro.Schema, body []byte) ([]byte, error) {
	b := &avroBody{data: body, out: make([]byte, 0, 2*len(body)+16)}
	if err := b.value(s, "$", 0); err != nil {
		return nil, err
	}
	if len(b.data) != 0 {
		return nil, fmt.Errorf("recordjson: Avro: %d bytes left after the value", len(b.data))
	}
	return b.out, nil
}

func (b *avroBody) value(s avro.Schema, path string, depth int) error {
	if err := b.render(s, path, depth); err != nil {
		var pe *pathError
		if errors.As(err, &pe) {
			return err
		}
		return &pathError{path: path, err: err}
	}
	return nil
}

type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return "recordjson: Avro: " + e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

func (b *avroBody) render(s avro.Schema, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d", maxDepth)
	}
	if len(b.out) > MaxJSON {
		return errTooLarge
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch s.Type() {
	case avro.Null:
		b.out = append(b.out, "null"...)
	case avro.Boolean:
		v, err := b.take(1)
		switch {
		case err != nil:
			return err
		case v[0] == 0:
			b.out = append(b.out, "false"...)
		case v[0] == 1:
			b.out = append(b.out, "true"...)
		default:
			return fmt.Errorf("boolean byte %d", v[0])
		}
	case avro.Int, avro.Long:
		n, err := b.long()
		if err != nil {
			return err
		}
		if s.Type() == avro.Int && (n < math.MinInt32 || n > math.MaxInt32) {
			return errors.New("int out of range")
		}
		b.out = strconv.AppendInt(b.out, n, 10)
	case avro.Float:
		v, err := b.take(4)
		if err != nil {
			return err
		}
		b.number(float64(math.Float32frombits(binary.LittleEndian.Uint32(v))))
	case avro.Double:
		v, err := b.take(8)
		if err != nil {
			return err
		}
		b.number(math.Float64frombits(binary.LittleEndian.Uint64(v)))
	case avro.String:
		v, err := b.bytes()
		if err != nil {
			return err
		}
		if !utf8.Valid(v) {
			return errors.New("string is not UTF-8")
		}
		b.out = appendString(b.out, string(v))
	case avro.Bytes:
		v, err := b.bytes()
		if err != nil {
			return err
		}
		b.out = appendCodePoints(b.out, v)
	case avro.Fixed:
		v, err := b.take(int64(s.(*avro.FixedSchema).Size()))
		if err != nil {
			return err
		}
		b.out = appendCodePoints(b.out, v)
	case avro.Enum:
		i, err := b.long()
		if err != nil {
			return err
		}
		syms := s.(*avro.EnumSchema).Symbols()
		if i < 0 || i >= int64(len(syms)) {
			return fmt.Errorf("enum index %d of %d symbols", i, len(syms))
		}
		b.out = appendString(b.out, syms[i])
	case avro.Array:
		return b.blocks(path, '[', ']', func(i int) error {
			return b.value(s.(*avro.ArraySchema).Items(), path+"["+strconv.Itoa(i)+"]", depth+1)
		})
	case avro.Map:
		return b.blocks(path, '{', '}', func(int) error {
			k, err := b.bytes()
			if err != nil {
				return err
			}
			if !utf8.Valid(k) {
				return errors.New("map key is not UTF-8")
			}
			b.out = append(appendString(b.out, string(k)), ':')
			return b.value(s.(*avro.MapSchema).Values(), path+"{}", depth+1) // the key is record content: never in an error
		})
	case avro.Record:
		b.out = append(b.out, '{')
		for i, f := range s.(*avro.RecordSchema).Fields() {
			if i > 0 {
				b.out = append(b.out, ',')
			}
			b.out = append(appendString(b.out, f.Name()), ':')
			if err := b.value(f.Type(), path+"."+f.Name(), depth+1); err != nil {
				return err
			}
		}
		b.out = append(b.out, '}')
	case avro.Union:
		i, err := b.long()
		if err != nil {
			return err
		}
		types := s.(*avro.UnionSchema).Types()
		if i < 0 || i >= int64(len(types)) {
			return fmt.Errorf("union index %d of %d branches", i, len(types))
		}
		t := types[i]
		if t.Type() == avro.Null {
			b.out = append(b.out, "null"...)
			return nil
		}
		b.out = append(appendString(append(b.out, '{'), branchName(t)), ':')
		if err := b.value(t, path, depth+1); err != nil {
			return err
		}
		b.out = append(b.out, '}')
	default:
		return fmt.Errorf("unsupported Avro type %s", s.Type())
	}
	return nil
}

// blocks renders an array or map: blocks of items, a negative count
// followed by the block's size in bytes, ended by a zero count.
func (b *avroBody) blocks(path string, open, end byte, item func(i int) error) error {
	b.out = append(b.out, open)
	i := 0
	for {
		n, err := b.long()
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if n < 0 {
			if n == math.MinInt64 {
				return errors.New("bad block count")
			}
			n = -n
			if _, err := b.long(); err != nil { // the block's size in bytes
				return err
			}
		}
		for ; n > 0; n-- {
			if len(b.out) > MaxJSON {
				return errTooLarge
			}
			if i > 0 {
				b.out = append(b.out, ',')
			}
			if err := item(i); err != nil {
				return err
			}
			i++
		}
	}
	b.out = append(b.out, end)
	return nil
}

func (b *avroBody) bytes() ([]byte, error) {
	n, err := b.long()
	if err != nil {
		return nil, err
	}
	return b.take(n)
}

// number appends f as JSON, or as the string serde reads back for NaN and
// the infinities. A float is written as its float64 value, which parses
// back to exactly the same float.
func (b *avroBody) number(f float64) {
	switch {
	case math.IsNaN(f):
		b.out = append(b.out, `"NaN"`...)
	case math.IsInf(f, 1):
		b.out = append(b.out, `"Infinity"`...)
	case math.IsInf(f, -1):
		b.out = append(b.out, `"-Infinity"`...)
	default:
		b.out = strconv.AppendFloat(b.out, f, 'g', -1, 64)
	}
}

// branchName is a union branch's name in the Avro JSON encoding: a named
// type's full name, else its type.
func branchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

const hexDigits = "0123456789abcdef"

// appendString appends s, valid UTF-8, as a JSON string.
func appendString(out []byte, s string) []byte {
	out = append(out, '"')
	for _, r := range s {
		out = appendRune(out, r)
	}
	return append(out, '"')
}

// appendCodePoints appends each byte of v as the code point of its value,
// as the Avro JSON encoding writes bytes and fixed.
func appendCodePoints(out []byte, v []byte) []byte {
	out = append(out, '"')
	for _, c := range v {
		out = appendRune(out, rune(c))
	}
	return append(out, '"')
}

func appendRune(out []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(out, '\\', byte(r))
	case r < 0x20 || r == 0x7f || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029:
		return append(out, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	}
	return utf8.AppendRune(out, r)
}
