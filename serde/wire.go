package serde

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// The Confluent wire format, kept apart from the codecs:
//
//	byte 0     magic byte, always 0
//	bytes 1-4  schema id, big-endian uint32
//	[Protobuf only] message indexes: zig-zag varint count, then that many
//	           zig-zag varint indexes; the single byte 0 means [0]
//	rest       the encoded value
//
// Every reader checks lengths, the magic byte and varint counts before it
// slices, so no input makes it panic (see FuzzWire).

const (
	magicByte = 0
	headerLen = 5
	// maxIndexes bounds the message-index list: a Protobuf message nested
	// deeper than this is not a real schema. It keeps a hostile count from
	// allocating.
	maxIndexes = 64
)

// ParseHeader splits data in the Confluent wire format into the schema id
// and rest, the bytes after the 5-byte header (the magic byte 0, then the
// id as a 4-byte big-endian integer). For Protobuf, rest still starts with
// the message indexes. rest shares data's memory. ParseHeader checks the
// length and the magic byte before it slices, so no input makes it panic.
//
// Errors: ErrTruncated when data is empty or shorter than the header,
// ErrMagicByte when its first byte is not 0; both wrap ErrMalformed.
func ParseHeader(data []byte) (id int, rest []byte, err error) {
	if len(data) == 0 {
		return 0, nil, errf(ErrTruncated, nil, "empty data")
	}
	if data[0] != magicByte {
		return 0, nil, errf(ErrMagicByte, nil, "magic byte %d, want 0", data[0])
	}
	if len(data) < headerLen {
		return 0, nil, errf(ErrTruncated, nil, "%d bytes, shorter than the 5-byte header", len(data))
	}
	return int(binary.BigEndian.Uint32(data[1:headerLen])), data[headerLen:], nil
}

// appendHeader appends the magic byte and id to dst.
func appendHeader(dst []byte, id int) []byte {
	return append(dst, magicByte, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// parseIndexes reads a Protobuf message-index list from the front of data.
// It reuses buf when the list fits (the common [0] case allocates nothing).
func parseIndexes(data []byte, buf []int) (indexes []int, rest []byte, err error) {
	if len(data) == 0 {
		return nil, nil, errf(ErrMessageIndexes, ErrTruncated, "no message indexes")
	}
	if data[0] == 0 { // the [0] shorthand
		return append(buf[:0], 0), data[1:], nil
	}
	count, n := binary.Varint(data)
	if n <= 0 {
		return nil, nil, errf(ErrMessageIndexes, nil, "bad varint for the index count")
	}
	data = data[n:]
	switch {
	case count < 0:
		return nil, nil, errf(ErrMessageIndexes, nil, "negative index count %d", count)
	case count > maxIndexes:
		return nil, nil, errf(ErrMessageIndexes, nil, "index count %d over the limit of %d", count, maxIndexes)
	case count > int64(len(data)): // each index takes at least one byte
		return nil, nil, errf(ErrMessageIndexes, ErrTruncated, "index count %d past the end of %d bytes", count, len(data))
	case count == 0: // a zero count in a longer varint still means [0], as for Confluent
		return append(buf[:0], 0), data, nil
	}
	indexes = buf[:0]
	for i := int64(0); i < count; i++ {
		v, n := binary.Varint(data)
		if n <= 0 {
			return nil, nil, errf(ErrMessageIndexes, nil, "bad varint for index %d", i)
		}
		if v < 0 || v > math.MaxInt32 {
			return nil, nil, errf(ErrMessageIndexes, nil, "index %d out of range: %d", i, v)
		}
		indexes = append(indexes, int(v))
		data = data[n:]
	}
	return indexes, data, nil
}

// appendIndexes appends the message-index list for indexes to dst, using the
// single-byte form for [0] as Confluent's serializers do.
func appendIndexes(dst []byte, indexes []int) []byte {
	if len(indexes) == 1 && indexes[0] == 0 {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(indexes)))
	for _, i := range indexes {
		dst = binary.AppendVarint(dst, int64(i))
	}
	return dst
}

// EventRecordFormat says how a Lambda event source mapping (ESM) with schema
// registry integration delivers a key or value; it mirrors the ESM's
// SchemaRegistryConfig.EventRecordFormat setting.
//
// The ESM does not put this setting into the event, so by default
// (EventRecordFormatAuto) a deserializer infers it from each record; see
// WithEventRecordFormat and the package documentation ("Wire formats").
type EventRecordFormat string

// The ways a value reaches a Lambda function through an ESM with a registry.
const (
	// EventRecordFormatAuto infers SOURCE or JSON from the record (default).
	EventRecordFormatAuto EventRecordFormat = ""
	// EventRecordFormatSource: the ESM stripped the 5-byte Confluent prefix
	// and put the schema id into the record's schema metadata; Protobuf
	// message indexes are still in the data.
	EventRecordFormatSource EventRecordFormat = "SOURCE"
	// EventRecordFormatJSON: the ESM decoded the value and delivers it as
	// JSON text.
	EventRecordFormatJSON EventRecordFormat = "JSON"
)

// WireFormat names a registry wire format, for WithWireFormat.
type WireFormat string

// The wire formats a registry codec reads.
const (
	// WireFormatAuto tells Confluent's from AWS Glue's by each record's
	// first byte (0 or 3). The default.
	WireFormatAuto WireFormat = ""
	// WireFormatConfluent reads only the Confluent wire format (magic
	// byte 0, 4-byte schema id).
	WireFormatConfluent WireFormat = "CONFLUENT"
	// WireFormatGlue reads only the AWS Glue wire format (version byte 3,
	// compression byte, 16-byte schema version id).
	WireFormatGlue WireFormat = "GLUE"
)

// framing is how one message's data is framed.
type framing int

const (
	framedWire   framing = iota // full wire format: Confluent's or AWS Glue's
	framedSource                // ESM SOURCE: no prefix, id in the metadata
	framedJSON                  // ESM JSON: the value as JSON text
)

// locate works out how m.Data is framed and returns the schema (the zero
// ref when unknown) and the body: the bytes after the wire header, inflated
// when an AWS Glue header says zlib.
//
//   - m.Schema == nil and a schema id header for m's side (fromIDHeader):
//     the header names the schema and m.Data is the bare body, whatever
//     its first byte, as Confluent's deserializers read it (the header is
//     looked for first; the payload is not searched for a prefix). Not
//     with WithWireFormat(WireFormatGlue), which ignores the header.
//   - m.Schema == nil: no ESM integration; the data must be in a wire
//     format, told apart by its first byte: 0 is Confluent's (ParseHeader),
//     3 is AWS Glue's.
//   - m.Schema != nil: the ESM integration is on. Its DataFormat must name
//     this codec's format when set. The framing is pin when pinned, else
//     isJSON(data) tells JSON mode from SOURCE mode. The metadata's schema
//     id is a Confluent id (a decimal number) or a Glue schema version id
//     (a UUID).
//
// In SOURCE mode the metadata's schema id is required; in JSON mode it is
// optional (the JSON path may not need the registry).
func locate(m Message, formats []string, cfg *config, isJSON func([]byte) bool) (framing, schemaRef, []byte, error) {
	if m.Schema == nil {
		if cfg.wireFormat != WireFormatGlue {
			ref, body, found, err := fromIDHeader(m, formats[0] == protobufFormat)
			if found {
				return framedWire, ref, body, err
			}
		}
		ref, body, err := parseWire(m.Data, cfg.wireFormat)
		return framedWire, ref, body, err
	}
	if df := m.Schema.DataFormat; df != "" && !formatIn(df, formats) {
		return 0, schemaRef{}, nil, errf(ErrFormatMismatch, nil, "record metadata says %q, codec reads %s", df, strings.Join(formats, "/"))
	}
	mode := framedSource
	switch cfg.recordFormat {
	case EventRecordFormatJSON:
		mode = framedJSON
	case EventRecordFormatSource:
	default:
		if isJSON(m.Data) {
			mode = framedJSON
		}
	}
	ref, err := metaSchemaID(m.Schema.SchemaID)
	if err != nil {
		if mode == framedSource {
			return 0, schemaRef{}, nil, err
		}
		ref = schemaRef{} // JSON mode can go without a schema id
	}
	return mode, ref, m.Data, nil
}

// parseWire reads either wire format, by its first byte, or only the one
// pin names.
func parseWire(data []byte, pin WireFormat) (schemaRef, []byte, error) {
	if len(data) > 0 {
		switch {
		case pin == WireFormatConfluent && data[0] != magicByte:
			return schemaRef{}, nil, errf(ErrMagicByte, nil, "magic byte %d, want 0 (the codec reads the Confluent wire format only)", data[0])
		case pin == WireFormatGlue && data[0] != glueVersion:
			return schemaRef{}, nil, errf(ErrMagicByte, nil, "header version byte %d, want 3 (the codec reads the AWS Glue wire format only)", data[0])
		}
	}
	if len(data) > 0 && data[0] == glueVersion {
		id, compression, body, err := parseGlueHeader(data)
		if err != nil {
			return schemaRef{}, nil, err
		}
		ref := schemaRef{guid: id}
		if body, err = glueBody(compression, body); err != nil {
			return ref, nil, err
		}
		return ref, body, nil
	}
	if len(data) > 0 && data[0] != magicByte {
		return schemaRef{}, nil, errf(ErrMagicByte, nil, "magic byte %d, want 0 (Confluent) or 3 (AWS Glue)", data[0])
	}
	id, rest, err := ParseHeader(data)
	return schemaRef{id: id}, rest, err
}

func formatIn(df string, formats []string) bool {
	for _, f := range formats {
		if strings.EqualFold(df, f) {
			return true
		}
	}
	return false
}

// metaSchemaID parses the schema id of ESM schema metadata: a Confluent id
// is a decimal number, an AWS Glue schema version id a UUID.
func metaSchemaID(s string) (schemaRef, error) {
	if s == "" {
		return schemaRef{}, errf(ErrSchemaID, nil, "metadata has no schema id")
	}
	if g, ok := parseUUID(s); ok {
		return schemaRef{guid: g}, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 0 {
		return schemaRef{}, errf(ErrSchemaID, nil, "schema id %.40q is neither a Confluent schema id nor an AWS Glue schema version id", s)
	}
	return schemaRef{id: int(v)}, nil
}

// jsonFirstByte reports whether data starts, after JSON white space, with
// one of the given bytes.
func jsonFirstByte(data []byte, starts string) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return strings.IndexByte(starts, c) >= 0
	}
	return false
}

// looksLikeJSONObject is the Protobuf test: SOURCE-mode Protobuf data starts
// with a message-index count, an even byte for any valid count, so an odd
// '{' (0x7b) can only be JSON.
func looksLikeJSONObject(data []byte) bool { return len(data) > 0 && data[0] == '{' }

// looksLikeJSONValue is the Avro test: the data starts like a JSON object,
// array or string and the whole of it is valid JSON. Avro binary that is
// also valid JSON text is possible in theory; pin the format with
// WithEventRecordFormat to rule it out.
func looksLikeJSONValue(data []byte) bool {
	return jsonFirstByte(data, `{["`) && json.Valid(data)
}

// alwaysJSON is the JSON Schema test: SOURCE and JSON mode carry the same
// JSON text, so the data is read the JSON-mode way (schema id optional)
// unless the format is pinned to SOURCE.
func alwaysJSON([]byte) bool { return true }
