package kafkalambda

import (
	"math"
	"time"
)

// fastFields is how many fields fastRecord reads: topic to headers.
const fastFields = fHeaders + 1

// fastRecord reads the first fields of a record (topic, partition, offset,
// timestamp, timestampType, key, value, headers) when they are written the
// way event source mappings and aws-lambda-go write them: in that order,
// compactly, the topic that of the records key, the numbers non-negative
// decimal integers, the timestamp type CREATE_TIME or LOG_APPEND_TIME. It
// returns how many fields it read: fastFields, with the parser after the
// headers' value, or 0, with the parser, r and the parser's memory as they
// were, for record to read the record the careful way (and report what is
// wrong with it, if anything). A record that falls back has its key and
// value decoded twice, and a chunk of arena begun for them may go unused:
// the price of a layout other than the ESM's. plain says pt.Topic needs
// no escaping in JSON, so that the bytes of the event can be compared
// with it.
//
// It is record's common case made cheap: a record's own fields are read
// with comparisons of known bytes and one loop per number, instead of a
// member name lookup and a dispatch per field.
func (p *parser) fastRecord(r *RawRecord, pt *Partition, plain bool) int {
	if !plain {
		return 0
	}
	start, arena, hdrs, nhdr := p.pos, p.arena, p.hdrs, p.nhdr
	// Header keys interned here are heap strings, as a Parser's are: one
	// made in the arena would point into bytes the rollback frees, and
	// p.strs would keep it.
	p.heapStrings = true
	ok := p.fastRecordFields(r, pt)
	p.heapStrings = false
	if ok {
		return fastFields
	}
	// hdrs as it was: headers may have moved to a new array since.
	p.pos, p.arena, p.hdrs, p.nhdr = start, arena, hdrs, nhdr
	*r = RawRecord{}
	return 0
}

func (p *parser) fastRecordFields(r *RawRecord, pt *Partition) bool {
	b := p.buf
	i, ok := after(b, p.pos, `{"topic":"`)
	if !ok {
		return false
	}
	if i, ok = after(b, i, pt.Topic); !ok {
		return false
	}
	if i, ok = after(b, i, `","partition":`); !ok {
		return false
	}
	n, i, ok := digitsAt(b, i)
	if !ok || n > math.MaxInt32 {
		return false
	}
	r.Topic, r.Partition = pt.Topic, int32(n)
	if i, ok = after(b, i, `,"offset":`); !ok {
		return false
	}
	if n, i, ok = digitsAt(b, i); !ok {
		return false
	}
	r.Offset = int64(n)
	if i, ok = after(b, i, `,"timestamp":`); !ok {
		return false
	}
	if n, i, ok = digitsAt(b, i); !ok {
		return false
	}
	r.Timestamp = time.UnixMilli(int64(n))
	if i, ok = after(b, i, `,"timestampType":"`); !ok {
		return false
	}
	if j, ok := after(b, i, TimestampCreateTime+`","key":`); ok {
		r.TimestampType, i = TimestampCreateTime, j
	} else if j, ok := after(b, i, TimestampLogAppendTime+`","key":`); ok {
		r.TimestampType, i = TimestampLogAppendTime, j
	} else {
		return false
	}
	p.pos = i
	if r.Key, ok = p.fastBytes(); !ok {
		return false
	}
	if p.pos, ok = after(b, p.pos, `,"value":`); !ok {
		return false
	}
	if r.Value, ok = p.fastBytes(); !ok {
		return false
	}
	if p.pos, ok = after(b, p.pos, `,"headers":`); !ok {
		return false
	}
	if i, ok = after(b, p.pos, `[]`); ok {
		p.pos = i
		return true
	}
	var err error
	r.Headers, err = p.headers() // an error is the careful reader's to report
	return err == nil
}

// fastBytes reads a key or a value: null, or a base64 string.
func (p *parser) fastBytes() ([]byte, bool) {
	if p.null() {
		return nil, true
	}
	b, err := p.b64()
	return b, err == nil
}

// after returns the index after s if b holds s at i.
func after(b []byte, i int, s string) (int, bool) {
	if i > len(b) || len(b)-i < len(s) || string(b[i:i+len(s)]) != s {
		return i, false
	}
	return i + len(s), true
}

// digitsAt reads a non-negative decimal integer of at most 18 digits at i,
// without a leading zero, and returns it and the index after it.
func digitsAt(b []byte, i int) (uint64, int, bool) {
	if i >= len(b) {
		return 0, i, false
	}
	if b[i] == '0' {
		return 0, i + 1, true // a digit after it fails the next comparison
	}
	var u uint64
	j := i
	for ; j < len(b) && j-i < 19; j++ {
		d := b[j] - '0'
		if d > 9 {
			break
		}
		u = u*10 + uint64(d)
	}
	if j == i || j-i > 18 {
		return 0, i, false
	}
	return u, j, true
}

// plainJSON reports whether s is written in JSON as its bytes between
// quotes: printable ASCII without '"' or '\'.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
