package kafkalambda

import (
	"context"
	"unsafe"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// stringBlockSize is the size of the blocks stringBlock copies strings
// into: keeping one string keeps at most this much memory.
const stringBlockSize = 4 << 10

// maxBlockString is the longest string stringBlock puts in a block; a
// longer one is allocated alone.
const maxBlockString = 256

// stringBlock makes the strings of one partition's records, keys and
// values decoded by serde.String, by copying them one after another into
// blocks of stringBlockSize bytes rather than allocating each: a string of
// a few bytes costs a copy instead of an allocation. A block is never
// written again where a string was made from it, so the strings are as
// immutable as any; one of them kept after the invocation keeps its block.
// A stringBlock belongs to one partition's run, which is sequential.
type stringBlock struct{ buf []byte }

func (s *stringBlock) string(b []byte) string {
	if len(b) == 0 || len(b) > maxBlockString {
		return string(b)
	}
	if cap(s.buf)-len(s.buf) < len(b) {
		s.buf = make([]byte, 0, stringBlockSize)
	}
	n := len(s.buf)
	s.buf = append(s.buf, b...)
	return unsafe.String(&s.buf[n], len(b))
}

// decoder decodes the keys or the values of a Handler's records into
// their Record, the cheapest way its deserializer allows: serde.String
// through the partition's stringBlock, a serde.DeserializerInto in place
// (no copy of the value), any other with Deserialize.
type decoder[T any] struct {
	d    serde.Deserializer[T]
	into serde.DeserializerInto[T]
	str  func(*stringBlock, []byte) T // set for serde.String()
}

func newDecoder[T any](d serde.Deserializer[T]) decoder[T] {
	dc := decoder[T]{d: d}
	dc.into, _ = d.(serde.DeserializerInto[T])
	if any(d) == any(serde.String()) {
		dc.str, _ = any((*stringBlock).string).(func(*stringBlock, []byte) T)
	}
	return dc
}

// decode decodes m into *dst, the zero value: the Record's fresh Key or
// Value. strs is the partition run's stringBlock.
func (dc *decoder[T]) decode(ctx context.Context, strs *stringBlock, m serde.Message, dst *T) error {
	switch {
	case dc.str != nil:
		*dst = dc.str(strs, m.Data)
		return nil
	case dc.into != nil:
		return dc.into.DeserializeInto(ctx, m, dst)
	}
	v, err := dc.d.Deserialize(ctx, m)
	*dst = v
	return err
}
