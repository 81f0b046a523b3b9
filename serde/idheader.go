package serde

import "encoding/binary"

// Schema ids in record headers, as newer Confluent serializers write them
// instead of the payload prefix. The header's value is
//
//	byte 0      magic byte: 0 for a numeric id, 1 for a GUID
//	bytes 1-4   (magic 0) the schema id, big-endian uint32
//	bytes 1-16  (magic 1) the schema GUID, 16 bytes
//	[Protobuf only] the message indexes, as in the payload prefix
//
// and the record's key or value is the bare body, with no prefix.

// The header keys that carry a key's or a value's schema id.
const (
	KeySchemaIDHeader   = "__key_schema_id"
	ValueSchemaIDHeader = "__value_schema_id"
)

const (
	idHeaderMagicID   = 0
	idHeaderMagicGUID = 1
)

// schemaIDHeaderKey names the header that carries the schema id of the
// key (isKey) or of the value.
func schemaIDHeaderKey(isKey bool) string {
	if isKey {
		return KeySchemaIDHeader
	}
	return ValueSchemaIDHeader
}

// findIDHeader returns the value of the last header named key, as Kafka
// clients read a header that occurs more than once.
func findIDHeader(hs []Header, key string) ([]byte, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return hs[i].Value, true
		}
	}
	return nil, false
}

// ParseSchemaIDHeader reads the value of a KeySchemaIDHeader or
// ValueSchemaIDHeader header: a numeric schema id (magic byte 0) or a
// schema GUID in its 36-character form (magic byte 1); exactly one of id
// and guid is set. rest is what follows (the Protobuf message indexes;
// empty for Avro and JSON Schema) and shares value's memory. No input makes
// it panic (see FuzzSchemaIDHeader).
//
// Errors: ErrTruncated when value is shorter than its magic byte says,
// ErrMagicByte when the magic byte is neither 0 nor 1; both wrap
// ErrMalformed.
func ParseSchemaIDHeader(value []byte) (id int, guid string, rest []byte, err error) {
	ref, rest, err := parseIDHeader(value)
	if err != nil {
		return 0, "", nil, err
	}
	if ref.cguid {
		return 0, ref.guid.String(), rest, nil
	}
	return ref.id, "", rest, nil
}

func parseIDHeader(value []byte) (schemaRef, []byte, error) {
	if len(value) == 0 {
		return schemaRef{}, nil, errf(ErrTruncated, nil, "empty schema id header")
	}
	switch value[0] {
	case idHeaderMagicID:
		if len(value) < 1+4 {
			return schemaRef{}, nil, errf(ErrTruncated, nil, "schema id header of %d bytes, shorter than magic byte 0 and a 4-byte id", len(value))
		}
		return schemaRef{id: int(binary.BigEndian.Uint32(value[1:5]))}, value[5:], nil
	case idHeaderMagicGUID:
		if len(value) < 1+16 {
			return schemaRef{}, nil, errf(ErrTruncated, nil, "schema id header of %d bytes, shorter than magic byte 1 and a 16-byte GUID", len(value))
		}
		var g uuid
		copy(g[:], value[1:17])
		return schemaRef{guid: g, cguid: true}, value[17:], nil
	}
	return schemaRef{}, nil, errf(ErrMagicByte, nil, "schema id header magic byte %d, want 0 (id) or 1 (GUID)", value[0])
}

// appendIDHeader appends a schema id header value for ref to dst: magic
// byte 1 and the GUID for a Confluent GUID, else magic byte 0 and the id.
func appendIDHeader(dst []byte, ref schemaRef) []byte {
	if ref.cguid {
		dst = append(dst, idHeaderMagicGUID)
		return append(dst, ref.guid[:]...)
	}
	return appendHeader(dst, ref.id) // the same 5 bytes as the payload prefix
}

// fromIDHeader is locate's first step: when m has a schema id header for
// its side, the header names the schema and m.Data is the bare body. For
// Protobuf (indexes), the message indexes that follow the id in the header
// are put back in front of the body, where the codec reads them; for the
// other formats a header with trailing bytes is malformed.
func fromIDHeader(m Message, indexes bool) (ref schemaRef, body []byte, found bool, err error) {
	key := schemaIDHeaderKey(m.IsKey)
	v, ok := findIDHeader(m.Headers, key)
	if !ok {
		return schemaRef{}, nil, false, nil
	}
	ref, rest, err := parseIDHeader(v)
	if err != nil {
		return schemaRef{}, nil, true, errf(ErrSchemaIDHeader, err, "header %s", key)
	}
	switch {
	case len(rest) == 0:
		return ref, m.Data, true, nil
	case !indexes:
		return ref, nil, true, errf(ErrSchemaIDHeader, ErrMalformed, "header %s: %d bytes after the schema id", key, len(rest))
	}
	body = make([]byte, 0, len(rest)+len(m.Data))
	return ref, append(append(body, rest...), m.Data...), true, nil
}

// withIDHeader is SerializeWithHeaders for the registry codecs: out is
// what Serialize wrote (Confluent wire format). With WithSchemaIDHeader its
// prefix (magic byte, id, and for Protobuf the message indexes) moves into
// the schema id header for t's side, and the body stays; out is not copied.
func withIDHeader(cfg *config, t Target, out []byte, indexes bool, err error) ([]byte, []Header, error) {
	if err != nil || !cfg.idHeader {
		return out, nil, err
	}
	_, rest, err := ParseHeader(out)
	if err != nil {
		return nil, nil, err // not reached: Serialize wrote the prefix
	}
	if indexes {
		var buf [4]int
		if _, rest, err = parseIndexes(rest, buf[:0]); err != nil {
			return nil, nil, err
		}
	}
	n := len(out) - len(rest)
	v := append([]byte(nil), out[:n]...)
	return out[n:], []Header{{Key: schemaIDHeaderKey(t.IsKey), Value: v}}, nil
}
