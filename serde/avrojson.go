package serde

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
)

// fromJSON reads an Avro value that an ESM in JSON mode turned into JSON.
// The JSON is encoded back to Avro binary with the schema it was written
// with (the writer schema of the metadata's id, else T's schema) and then
// decoded like any Avro body, so schema resolution, `avro` struct tags and
// defaults behave exactly as in SOURCE mode. Without any schema it falls
// back to encoding/json into T.
func (c *avroCodec[T]) fromJSON(ctx context.Context, id schemaRef, data []byte) (T, error) {
	var zero T
	var ws, decode avro.Schema
	if id != (schemaRef{}) {
		wr, err := c.writer(ctx, id)
		if err != nil {
			return zero, err
		}
		ws, decode = wr.schema, wr.decode
	} else {
		rs, err := c.readerSchema(ctx)
		if err != nil {
			return zero, err
		}
		ws, decode = rs, rs
	}
	if ws == nil {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return zero, errf(ErrDecode, describe(err, "%s", jsonDetail(err)), "ESM JSON value without a schema into %T", v)
		}
		return v, nil
	}
	doc, err := decodeJSONValue(data)
	if err != nil {
		return zero, errf(ErrDecode, describe(err, "%s", jsonDetail(err)), "ESM JSON value")
	}
	w := c.writerPool.get()
	defer c.writerPool.put(w)
	if err := c.writerPool.jsonToAvro(w, ws, doc, "$", 0); err != nil {
		return zero, errf(ErrDecode, err, "ESM JSON value does not match the Avro schema")
	}
	var v T
	err = c.decode(decode, w.Buffer(), &v)
	return v, err
}

// jsonToAvro writes v, a value decoded from JSON (json.Number, string, bool,
// nil, []any, map[string]any) or an Avro field default, as Avro binary of
// schema s. It accepts both plain JSON and the Avro JSON encoding (unions as
// {"type": value}; bytes and fixed as strings of code points 0-255). Union
// branches are tried in scratch writers from p.
func (p *avroWriters) jsonToAvro(w *avro.Writer, s avro.Schema, v any, path string, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%s: nested deeper than 64", path)
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch s.Type() {
	case avro.Null:
		if v != nil {
			return fmt.Errorf("%s: want null", path)
		}
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%s: want a boolean", path)
		}
		w.WriteBool(b)
	case avro.Int, avro.Long:
		n, err := jsonInt(s, v)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if s.Type() == avro.Int {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return fmt.Errorf("%s: overflows int", path)
			}
			w.WriteInt(int32(n))
		} else {
			w.WriteLong(n)
		}
	case avro.Float, avro.Double:
		f, err := jsonFloat(v)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if s.Type() == avro.Float {
			w.WriteFloat(float32(f))
		} else {
			w.WriteDouble(f)
		}
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string", path)
		}
		w.WriteString(str)
	case avro.Bytes:
		b, err := jsonBytes(s, v, -1)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		w.WriteBytes(b)
	case avro.Fixed:
		fs := s.(*avro.FixedSchema)
		b, err := jsonBytes(s, v, fs.Size())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		_, _ = w.Write(b)
	case avro.Enum:
		sym, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want an enum symbol", path)
		}
		es := s.(*avro.EnumSchema)
		for i, x := range es.Symbols() {
			if x == sym {
				w.WriteInt(int32(i))
				return nil
			}
		}
		return fmt.Errorf("%s: not a symbol of %s", path, es.FullName())
	case avro.Array:
		items, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array", path)
		}
		if len(items) > 0 {
			w.WriteLong(int64(len(items)))
			for i, it := range items {
				if err := p.jsonToAvro(w, s.(*avro.ArraySchema).Items(), it, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case avro.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object", path)
		}
		if len(m) > 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			w.WriteLong(int64(len(keys)))
			for _, k := range keys {
				w.WriteString(k)
				if err := p.jsonToAvro(w, s.(*avro.MapSchema).Values(), m[k], path+"."+k, depth+1); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case avro.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object", path)
		}
		for _, f := range s.(*avro.RecordSchema).Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				for _, a := range f.Aliases() {
					if fv, ok = m[a]; ok {
						break
					}
				}
			}
			if !ok {
				if !f.HasDefault() {
					return fmt.Errorf("%s.%s: missing and has no default", path, f.Name())
				}
				fv = f.Default()
			}
			if err := p.jsonToAvro(w, f.Type(), fv, path+"."+f.Name(), depth+1); err != nil {
				return err
			}
		}
	case avro.Union:
		return p.jsonUnion(w, s.(*avro.UnionSchema), v, path, depth)
	default:
		return fmt.Errorf("%s: unsupported Avro type %s", path, s.Type())
	}
	return nil
}

func (p *avroWriters) jsonUnion(w *avro.Writer, u *avro.UnionSchema, v any, path string, depth int) error {
	types := u.Types()
	if v == nil {
		for i, t := range types {
			if t.Type() == avro.Null {
				w.WriteInt(int32(i))
				return nil
			}
		}
		return fmt.Errorf("%s: null is not in the union", path)
	}
	// Avro JSON encoding: {"<branch name>": value}.
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, inner := range m {
			for i, t := range types {
				if branchName(t) == k {
					w.WriteInt(int32(i))
					return p.jsonToAvro(w, t, inner, path, depth+1)
				}
			}
		}
	}
	// Plain JSON: the first branch the value fits.
	for i, t := range types {
		if t.Type() == avro.Null {
			continue
		}
		scratch := p.get()
		err := p.jsonToAvro(scratch, t, v, path, depth+1)
		if err == nil {
			w.WriteInt(int32(i))
			_, _ = w.Write(scratch.Buffer())
		}
		p.put(scratch)
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: value fits no branch of the union", path)
}

func branchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

func logicalType(s avro.Schema) avro.LogicalType {
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		return l.Logical().Type()
	}
	return ""
}

func jsonInt(s avro.Schema, v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return 0, errors.New("not an integer")
		}
		return int64(f), nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		if x != math.Trunc(x) {
			return 0, errors.New("not an integer")
		}
		return int64(x), nil
	case string:
		// Date and time logical types may arrive as text.
		switch logicalType(s) {
		case avro.Date:
			t, err := time.Parse(time.DateOnly, x)
			if err != nil {
				return 0, describe(err, "text that is not a date (YYYY-MM-DD)")
			}
			return t.Unix() / 86400, nil
		case avro.TimestampMillis, avro.LocalTimestampMillis:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return 0, describe(err, "text that is not an RFC 3339 timestamp")
			}
			return t.UnixMilli(), nil
		case avro.TimestampMicros, avro.LocalTimestampMicros:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return 0, describe(err, "text that is not an RFC 3339 timestamp")
			}
			return t.UnixMicro(), nil
		}
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, describe(err, "text that is not an integer")
		}
		return n, nil
	}
	return 0, errors.New("want an integer")
}

func jsonFloat(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, describe(err, "not a float or double")
		}
		return f, nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, errors.New("want a number")
}

// jsonBytes turns a JSON value into bytes or fixed data: a string of code
// points 0-255 (the Avro JSON encoding), or, for the decimal logical type,
// a number scaled to the schema's scale.
func jsonBytes(s avro.Schema, v any, size int) ([]byte, error) {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = make([]byte, 0, len(x))
		for _, r := range x {
			if r > 255 {
				return nil, errors.New("a code point above U+00FF is not a byte")
			}
			b = append(b, byte(r))
		}
	case json.Number:
		ls, ok := s.(avro.LogicalTypeSchema)
		if !ok || ls.Logical() == nil || ls.Logical().Type() != avro.Decimal {
			return nil, errors.New("want a string")
		}
		dec := ls.Logical().(*avro.DecimalLogicalSchema)
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return nil, errors.New("not a decimal")
		}
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dec.Scale())), nil)))
		if !r.IsInt() {
			return nil, fmt.Errorf("more than %d decimals", dec.Scale())
		}
		b = twosComplement(r.Num(), size)
	default:
		return nil, errors.New("want a string")
	}
	if size >= 0 && len(b) != size {
		return nil, fmt.Errorf("%d bytes, fixed size is %d", len(b), size)
	}
	return b, nil
}

// twosComplement is n as big-endian two's complement, size bytes when
// size >= 0 (sign-extended), else as few as hold it.
func twosComplement(n *big.Int, size int) []byte {
	nb := (n.BitLen() + 8) / 8
	if size > nb {
		nb = size
	}
	mod := new(big.Int).Lsh(big.NewInt(1), uint(nb*8))
	x := new(big.Int).Set(n)
	if x.Sign() < 0 {
		x.Add(x, mod)
	}
	out := make([]byte, nb)
	x.FillBytes(out)
	return out
}
