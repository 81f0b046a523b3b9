package kafkalambda

import (
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

// blockStrings returns the func that decodes a key or value as
// serde.String does, but through a stringBlock, if d is serde.String();
// nil otherwise.
func blockStrings[T any](d serde.Deserializer[T]) func(*stringBlock, []byte) T {
	if any(d) != any(serde.String()) {
		return nil
	}
	f, _ := any((*stringBlock).string).(func(*stringBlock, []byte) T)
	return f
}
