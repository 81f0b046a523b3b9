package serde

import (
	"bytes"
	"compress/zlib"
	"errors"
	"testing"
)

// FuzzGlueWire: the AWS Glue header reader never panics, reads exactly the
// 18 header bytes, and what it accepts re-encodes to the same header; a
// body it then inflates stays within the limit, and re-compressing it
// inflates back to the same bytes. Every failure is a typed ErrMalformed.
func FuzzGlueWire(f *testing.F) {
	id := uuid{0xb7, 0xb4, 0xa7, 0xf0, 0x9c, 0x96, 0x4e, 0x4a, 0xa6, 0x87, 0xfb, 0x5d, 0xe9, 0xef, 0x0c, 0x63}
	f.Add(append(appendGlueHeader(nil, glueNone, id), 2, 'h', 'i'))
	zipped, _ := glueFrame(append(appendGlueHeader(nil, glueNone, id), bytes.Repeat([]byte("abc"), 100)...), true)
	f.Add(zipped)
	f.Add(append(appendGlueHeader(nil, glueZlib, id), 0x78, 0x9c))
	f.Add([]byte{3, 5})
	f.Add([]byte{3, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, compression, body, err := parseGlueHeader(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if hdr := appendGlueHeader(nil, compression, got); !bytes.Equal(hdr, data[:glueHeaderLen]) || !bytes.Equal(body, data[glueHeaderLen:]) {
			t.Fatalf("header % x read as %s, compression %d", data[:glueHeaderLen], got, compression)
		}
		const limit = 1 << 16 // small, so that the fuzzer finds the limit
		var plain []byte
		if compression == glueZlib {
			plain, err = inflate(body, limit)
		} else {
			plain, err = glueBody(compression, body)
		}
		if err != nil {
			if !errors.Is(err, ErrCompression) {
				t.Fatalf("inflate: %v is not ErrCompression", err)
			}
			return
		}
		if len(plain) > limit && compression == glueZlib {
			t.Fatalf("inflated %d bytes past the limit of %d", len(plain), limit)
		}
		again, err := glueFrame(append(appendGlueHeader(nil, glueNone, got), plain...), true)
		if err != nil {
			t.Fatal(err)
		}
		ref, back, err := parseWire(again, WireFormatAuto)
		if err != nil || ref.guid != got || !bytes.Equal(back, plain) {
			t.Fatalf("re-compressed round trip: %v, %d bytes back of %d", err, len(back), len(plain))
		}
	})
}

// FuzzInflate: zlib input of any shape inflates within the limit or fails
// with ErrCompression; it never panics or grows past the limit (a zip bomb
// is an error).
func FuzzInflate(f *testing.F) {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	_, _ = zw.Write(make([]byte, 1<<20)) // 1 MiB of zeros: ~1 KiB compressed
	_ = zw.Close()
	f.Add(b.Bytes())
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	f.Add([]byte{0x78, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 4096
		out, err := inflate(data, limit)
		switch {
		case err != nil && !errors.Is(err, ErrCompression):
			t.Fatalf("%v is not ErrCompression", err)
		case err == nil && len(out) > limit:
			t.Fatalf("inflated %d bytes past the limit of %d", len(out), limit)
		}
	})
}
