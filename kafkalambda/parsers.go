package kafkalambda

import "unsafe"

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
