package kafkalambda

import (
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
// decoded bytes of the event the Parser parsed last. A send copies such
// bytes (a record dead-lettered, or forwarded by Process), so that they
// stay intact for as long as a producer holds them. ps may be nil.
func (ps *Parser) owns(b []byte) bool {
	if ps == nil || len(b) == 0 || cap(ps.arena) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(ps.arena[:1])))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p < lo+uintptr(cap(ps.arena))
}
