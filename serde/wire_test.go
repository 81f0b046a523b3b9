package serde_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

func TestParseHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data []byte
		id   int
		rest []byte
		err  error
	}{
		{"header only", []byte{0, 0, 0, 0, 7}, 7, []byte{}, nil},
		{"with a body", []byte{0, 0, 0, 1, 0, 0xca, 0xfe}, 256, []byte{0xca, 0xfe}, nil},
		{"largest id", []byte{0, 0xff, 0xff, 0xff, 0xff, 1}, 1<<32 - 1, []byte{1}, nil},
		{"nil", nil, 0, nil, ourserde.ErrTruncated},
		{"empty", []byte{}, 0, nil, ourserde.ErrTruncated},
		{"4 bytes", []byte{0, 0, 0, 1}, 0, nil, ourserde.ErrTruncated},
		{"magic byte 1", []byte{1, 0, 0, 0, 1, 2}, 0, nil, ourserde.ErrMagicByte},
		{"JSON", []byte(`{"a":1}`), 0, nil, ourserde.ErrMagicByte},
		{"short and bad magic", []byte{2}, 0, nil, ourserde.ErrMagicByte},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, rest, err := ourserde.ParseHeader(tc.data)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ourserde.ErrMalformed) || rest != nil || id != 0 {
					t.Fatalf("ParseHeader(%x) = %d, %x, %v; want %v (ErrMalformed)", tc.data, id, rest, err, tc.err)
				}
				return
			}
			if err != nil || id != tc.id || !bytes.Equal(rest, tc.rest) {
				t.Fatalf("ParseHeader(%x) = %d, %x, %v; want %d, %x", tc.data, id, rest, err, tc.id, tc.rest)
			}
			if len(rest) > 0 && &rest[0] != &tc.data[5] {
				t.Fatal("rest is a copy, want a slice of data")
			}
		})
	}
}

// Split a record's value into its schema id and body, as a SOURCE-mode
// event source mapping does.
func ExampleParseHeader() {
	value := []byte{0, 0, 0, 0, 42, 0x02, 0x08}
	id, body, err := ourserde.ParseHeader(value)
	fmt.Println(id, body, err)

	_, _, err = ourserde.ParseHeader([]byte(`{"id":1}`))
	fmt.Println(errors.Is(err, ourserde.ErrMagicByte), err)
	// Output:
	// 42 [2 8] <nil>
	// true serde: malformed data: unknown magic byte: magic byte 123, want 0
}
