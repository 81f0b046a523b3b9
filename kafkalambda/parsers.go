package kafkalambda

import (
	"bytes"
	"sync"
	"unsafe"
)

// parsers are the Parsers of a Handler: an invocation takes one, parses
// its event with it and gives it back when it returns, so that a warm
// function parses every event into memory it already has (see [Parser]).
// Invocations that overlap (a local mapping invoking one handler for
// several partitions at once; Lambda itself never does) each take their
// own; at most maxIdle are kept between invocations, each as large as the
// largest event it parsed (Lambda's payload limit bounds that to about
// 7 MB).
type parsers struct {
	mu   sync.Mutex
	idle []*Parser
}

const maxIdleParsers = 4

func (ps *parsers) get() *Parser {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if n := len(ps.idle); n > 0 {
		p := ps.idle[n-1]
		ps.idle[n-1] = nil
		ps.idle = ps.idle[:n-1]
		return p
	}
	return new(Parser)
}

func (ps *parsers) put(p *Parser) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.idle) < maxIdleParsers {
		ps.idle = append(ps.idle, p)
	}
}

// owns reports whether b aliases the memory the next Parse rewrites: the
// decoded bytes of the event the Parser parsed last.
func (ps *Parser) owns(b []byte) bool {
	if len(b) == 0 || cap(ps.arena) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(ps.arena[:1])))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p < lo+uintptr(cap(ps.arena))
}

// detach returns key, value and headers with every one that aliases the
// parser's memory copied (and the others as they are), so that a record
// sent from an event's raw bytes — dead-lettered, or forwarded by Process
// — stays intact for as long as a producer holds it, past the invocation
// and the next Parse. headers is not modified; a new slice is returned when
// a header value is copied.
func (ps *Parser) detach(key, value []byte, headers []Header) ([]byte, []byte, []Header) {
	if ps == nil {
		return key, value, headers
	}
	if ps.owns(key) {
		key = bytes.Clone(key)
	}
	if ps.owns(value) {
		value = bytes.Clone(value)
	}
	copied := false
	for i, h := range headers {
		if !ps.owns(h.Value) {
			continue
		}
		if !copied {
			headers = append([]Header(nil), headers...)
			copied = true
		}
		headers[i].Value = bytes.Clone(h.Value)
	}
	return key, value, headers
}
