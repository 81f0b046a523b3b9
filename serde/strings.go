package serde

import (
	"context"
	"encoding/json"
	"unsafe"

	gojson "github.com/goccy/go-json"
)

// String returns the codec for UTF-8 text keys and values, like Kafka's
// StringSerializer: the bytes are the string, with no framing and no
// validation. It never fails.
func String() Codec[string] { return stringCodec{} }

// Bytes returns the codec that passes bytes through unchanged. Deserialize
// returns a copy of the data (the caller may reuse Message.Data); Serialize
// returns a copy of v, and nil for nil v, so a nil value stays a Kafka null.
func Bytes() Codec[[]byte] { return bytesCodec{} }

// JSON returns the codec for plain JSON (no registry, no Confluent
// framing), with encoding/json's rules: struct tags, case-insensitive field
// names, Marshaler and Unmarshaler methods. It decodes with
// github.com/goccy/go-json, which gives encoding/json's results (a
// differential fuzz test checks it) three to five times faster on a typical
// record. Deserialize fails with ErrDecode (an ErrMalformed) on data that is
// not one JSON value for T; Serialize fails with ErrEncode. Their messages
// say where and why (byte offset, Go type and field), never what the data
// held: on a failure the data is decoded again with encoding/json for that,
// as go-json's own messages may quote it. The value never aliases
// Message.Data: its strings and byte slices are copies.
func JSON[T any]() Codec[T] { return jsonCodec[T]{} }

var (
	_ Codec[string] = stringCodec{}
	_ Codec[[]byte] = bytesCodec{}
	_ Codec[any]    = jsonCodec[any]{}

	_ RawSerializer[string] = stringCodec{}
	_ RawSerializer[[]byte] = bytesCodec{}

	_ DeserializerInto[any] = jsonCodec[any]{}
)

type stringCodec struct{}

func (stringCodec) Deserialize(_ context.Context, m Message) (string, error) {
	return string(m.Data), nil
}

func (stringCodec) Serialize(_ context.Context, _ Target, v string) ([]byte, error) {
	return []byte(v), nil
}

// SerializeRaw implements RawSerializer: the string's bytes, read-only.
func (stringCodec) SerializeRaw(v string) []byte {
	if v == "" {
		return []byte{} // an empty value, not a null one
	}
	return unsafe.Slice(unsafe.StringData(v), len(v))
}

type bytesCodec struct{}

func (bytesCodec) Deserialize(_ context.Context, m Message) ([]byte, error) {
	return append([]byte{}, m.Data...), nil
}

func (bytesCodec) Serialize(_ context.Context, _ Target, v []byte) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return append([]byte{}, v...), nil
}

// SerializeRaw implements RawSerializer: v itself.
func (bytesCodec) SerializeRaw(v []byte) []byte { return v }

// plainJSONFormat is the plain JSON codec's Error.Format.
const plainJSONFormat = "JSON_PLAIN"

type jsonCodec[T any] struct{}

func (c jsonCodec[T]) Deserialize(ctx context.Context, m Message) (T, error) {
	var v T
	err := c.DeserializeInto(ctx, m, &v)
	return v, err
}

func (jsonCodec[T]) DeserializeInto(_ context.Context, m Message, v *T) error {
	if err := gojson.Unmarshal(m.Data, v); err != nil {
		var zero T
		*v = zero
		w := where{op: OpDeserialize, format: plainJSONFormat, topic: m.Topic, isKey: m.IsKey}
		detail := goJSONDetail(err, func() error { var again T; return json.Unmarshal(m.Data, &again) })
		return w.err(schemaRef{}, errf(ErrDecode, describe(err, "%s", detail), "plain JSON into %T", zero))
	}
	return nil
}

func (jsonCodec[T]) Serialize(_ context.Context, t Target, v T) ([]byte, error) {
	b, err := gojson.Marshal(v)
	if err != nil {
		w := where{op: OpSerialize, format: plainJSONFormat, topic: t.Topic, isKey: t.IsKey}
		detail := goJSONDetail(err, func() error { _, err := json.Marshal(v); return err })
		return nil, w.err(schemaRef{}, errf(ErrEncode, describe(err, "%s", detail), "plain JSON from %T", v))
	}
	return b, nil
}
