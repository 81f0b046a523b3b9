package serde

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
)

// The AWS Glue Schema Registry wire format, as AWS's serializers write it:
//
//	byte 0       header version, always 3
//	byte 1       compression: 0 none, 5 zlib
//	bytes 2-17   the schema version id, a UUID (16 bytes, big-endian)
//	rest         the body, zlib-compressed when byte 1 is 5:
//	             Avro binary; JSON text (JSON Schema); for Protobuf, one
//	             unsigned varint (the message's index among all messages of
//	             the schema sorted by full name) and then the message
//
// Every reader checks lengths and bytes before it slices, and inflating
// stops at maxInflated, so no input makes it panic or allocate without
// bound (see FuzzGlueWire).

const (
	glueVersion   = 3
	glueNone      = 0
	glueZlib      = 5
	glueHeaderLen = 18
	maxInflated   = 16 << 20 // no Kafka record value is larger
)

// uuid is a schema version id (AWS Glue) or a schema GUID (Confluent): 16
// bytes. The zero uuid means none.
type uuid [16]byte

// String is the canonical 8-4-4-4-12 lower-case form.
func (u uuid) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// parseUUID reads the canonical 8-4-4-4-12 form (either case); ok is false
// for anything else, and for the nil UUID.
func parseUUID(s string) (u uuid, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return uuid{}, false
	}
	var hexs [32]byte
	copy(hexs[0:8], s[0:8])
	copy(hexs[8:12], s[9:13])
	copy(hexs[12:16], s[14:18])
	copy(hexs[16:20], s[19:23])
	copy(hexs[20:32], s[24:36])
	if _, err := hex.Decode(u[:], hexs[:]); err != nil {
		return uuid{}, false
	}
	return u, u != uuid{}
}

// parseGlueHeader splits Glue-framed data into the schema version id, the
// compression byte and the body as it is on the wire (still compressed).
// body shares data's memory.
//
// Errors: ErrTruncated (empty, or shorter than the 18-byte header),
// ErrMagicByte (first byte not 3), ErrCompression (a compression byte
// other than 0 or 5); all wrap ErrMalformed.
func parseGlueHeader(data []byte) (id uuid, compression byte, body []byte, err error) {
	if len(data) == 0 {
		return uuid{}, 0, nil, errf(ErrTruncated, nil, "empty data")
	}
	if data[0] != glueVersion {
		return uuid{}, 0, nil, errf(ErrMagicByte, nil, "header version byte %d, want 3 (AWS Glue)", data[0])
	}
	if len(data) < glueHeaderLen {
		return uuid{}, 0, nil, errf(ErrTruncated, nil, "%d bytes, shorter than the 18-byte AWS Glue header", len(data))
	}
	compression = data[1]
	if compression != glueNone && compression != glueZlib {
		return uuid{}, 0, nil, errf(ErrCompression, nil, "AWS Glue compression byte %d, want 0 (none) or 5 (zlib)", compression)
	}
	copy(id[:], data[2:glueHeaderLen])
	return id, compression, data[glueHeaderLen:], nil
}

// ParseGlueHeader splits data in the AWS Glue Schema Registry wire format
// (the header version byte 3, a compression byte, the 16-byte schema
// version id) into the schema version id, in its canonical 8-4-4-4-12
// lower-case form, and the body: data's own bytes after the header, or,
// with compression byte 5, the zlib body inflated (at most 16 MiB). It
// checks the length, the version and the compression byte before it
// slices, so no input makes it panic.
//
// Errors: ErrTruncated when data is shorter than the header, ErrMagicByte
// when its first byte is not 3, ErrCompression for a compression byte other
// than 0 or 5 or a zlib body that does not inflate within the limit; all
// wrap ErrMalformed.
func ParseGlueHeader(data []byte) (schemaVersionID string, body []byte, err error) {
	id, compression, body, err := parseGlueHeader(data)
	if err != nil {
		return "", nil, err
	}
	if body, err = glueBody(compression, body); err != nil {
		return "", nil, err
	}
	return id.String(), body, nil
}

// glueBody returns the decoded body of Glue-framed data: body itself, or
// body inflated (at most maxInflated bytes; more is ErrCompression, the
// answer to a zip bomb).
func glueBody(compression byte, body []byte) ([]byte, error) {
	if compression == glueNone {
		return body, nil
	}
	return inflate(body, maxInflated)
}

// inflate decompresses a zlib stream of at most limit bytes. Memory grows
// with the output actually produced, never with what the stream claims, and
// reading stops one byte past limit.
func inflate(data []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, errf(ErrCompression, err, "zlib header")
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	switch {
	case len(out) > limit:
		return nil, errf(ErrCompression, nil, "zlib body inflates past the limit of %d bytes", limit)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errf(ErrCompression, ErrTruncated, "zlib body of %d bytes ends early", len(data))
	case err != nil:
		return nil, errf(ErrCompression, err, "zlib body")
	}
	return out, nil
}

// appendGlueHeader appends the Glue header for id to dst.
func appendGlueHeader(dst []byte, compression byte, id uuid) []byte {
	dst = append(dst, glueVersion, compression)
	return append(dst, id[:]...)
}

// glueFrame turns a body encoded after a Glue header (written uncompressed
// at out[:glueHeaderLen]) into the final bytes: as is, or with the body
// zlib-compressed and the compression byte set. out is reused when it is.
func glueFrame(out []byte, compress bool) ([]byte, error) {
	if !compress {
		return out, nil
	}
	var b bytes.Buffer
	b.Grow(glueHeaderLen + len(out)/2 + 16)
	b.Write(out[:glueHeaderLen])
	zw := zlib.NewWriter(&b)
	if _, err := zw.Write(out[glueHeaderLen:]); err != nil {
		return nil, errf(ErrEncode, err, "zlib")
	}
	if err := zw.Close(); err != nil {
		return nil, errf(ErrEncode, err, "zlib")
	}
	res := b.Bytes()
	res[1] = glueZlib
	return res, nil
}

// parseGlueIndex reads the AWS Glue Protobuf message index, an unsigned
// varint, from the front of body.
func parseGlueIndex(body []byte) (int, []byte, error) {
	if len(body) == 0 {
		return 0, nil, errf(ErrMessageIndexes, ErrTruncated, "no AWS Glue message index")
	}
	v, n := binary.Uvarint(body)
	if n <= 0 || v > 1<<31-1 {
		return 0, nil, errf(ErrMessageIndexes, nil, "bad varint for the AWS Glue message index")
	}
	return int(v), body[n:], nil
}
