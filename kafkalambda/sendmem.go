package kafkalambda

// sendMem is the memory an invocation's sends live in until their
// delivery reports: the sendRefs a Producer reports to, and the copies of
// keys, values and headers that the invocation does not own otherwise
// (a caller's header slice and values, bytes a serde.RawSerializer lends,
// bytes of the event). A Producer may keep a message until it reports it
// and must not touch it after, so the memory of an invocation whose every
// message was reported is handed to the next one (sendMems) rather than
// left to the garbage collector: a warm function that fans out thousands
// of records per invocation allocates none of this once it has run once.
//
// A sendMem is used under its tracker's memMu (the copies) and sendMu
// (the sendRefs) while its invocation sends, read by the tracker's wait
// once sends are sealed, and reset only when no send and no Producer
// can touch it any more.
type sendMem struct {
	refs    [][]sendRef // chunks, filled in order
	refAt   int         // the chunk being filled
	refUsed int         // sendRefs used in refs[refAt]

	bytes  [][]byte // chunks of byteChunk bytes, each filled up to its length
	byteAt int
	hdrs   [][]Header // chunks of hdrChunk headers, each filled up to its length
	hdrAt  int
}

// Sizes of sendMem's chunks. The sendRef chunks grow from firstChunk to
// maxChunk (256 × 120 bytes: under the runtime's 32 KB large-object size,
// so that they come from its size-classed spans rather than fresh pages),
// so that an invocation that sends a few records allocates little and a
// fan-out of thousands a handful of chunks. A copy larger than an eighth
// of a chunk gets memory of its own, not kept for reuse.
const (
	firstChunk = 8
	maxChunk   = 256
	byteChunk  = 32 << 10
	hdrChunk   = 256
)

// Bounds of what a sendMem keeps for the next invocation: 1.2 MB of
// sendRefs (40 chunks of 256 × 120 bytes), 1 MB of bytes and 160 KB of
// headers (16 chunks of 256 × 40 bytes).
const (
	keepRefChunks  = 40
	keepByteChunks = 32
	keepHdrChunks  = 16
)

// ref returns a new sendRef, zero but for what an earlier invocation's
// recycling cleared.
func (m *sendMem) ref() *sendRef {
	if m.refAt < len(m.refs) && m.refUsed == len(m.refs[m.refAt]) {
		m.refAt++
		m.refUsed = 0
	}
	if m.refAt == len(m.refs) {
		size := firstChunk
		if n := len(m.refs); n > 0 {
			size = min(2*len(m.refs[n-1]), maxChunk)
		}
		m.refs = append(m.refs, make([]sendRef, size))
	}
	ref := &m.refs[m.refAt][m.refUsed]
	m.refUsed++
	return ref
}

// eachRef calls fn with every sendRef handed out, in order.
func (m *sendMem) eachRef(fn func(*sendRef)) {
	for i := 0; i <= m.refAt && i < len(m.refs); i++ {
		c := m.refs[i]
		if i == m.refAt {
			c = c[:m.refUsed]
		}
		for j := range c {
			fn(&c[j])
		}
	}
}

// copyBytes returns a copy of b: nil for nil, and an empty, non-nil slice
// for an empty one, so that a null key or value stays null and an empty one
// empty.
func (m *sendMem) copyBytes(b []byte) []byte {
	switch n := len(b); {
	case b == nil:
		return nil
	case n == 0:
		return []byte{}
	case n > byteChunk/8:
		return append(make([]byte, 0, n), b...)
	default:
		c := m.byteRoom(n)
		i := len(*c)
		*c = append(*c, b...)
		return (*c)[i : i+n : i+n] // capped: an append to it copies
	}
}

// byteRoom returns the byte chunk with room for n more bytes (n is at most
// byteChunk/8).
func (m *sendMem) byteRoom(n int) *[]byte {
	for ; m.byteAt < len(m.bytes); m.byteAt++ {
		if c := &m.bytes[m.byteAt]; cap(*c)-len(*c) >= n {
			return c
		}
	}
	m.bytes = append(m.bytes, make([]byte, 0, byteChunk))
	return &m.bytes[m.byteAt]
}

// copyHeaders returns a copy of hs, values copied too (nil when hs is
// empty). The copy is capped: appending to it (a trace context header)
// copies it.
func (m *sendMem) copyHeaders(hs []Header) []Header {
	if len(hs) == 0 {
		return nil
	}
	var out []Header
	if n := len(hs); n > hdrChunk/8 {
		out = make([]Header, n)
	} else {
		out = m.headerRoom(n)
	}
	for i, h := range hs {
		out[i] = Header{Key: h.Key, Value: m.copyBytes(h.Value)}
	}
	return out
}

// headerRoom returns n headers of a chunk (n is at most hdrChunk/8).
func (m *sendMem) headerRoom(n int) []Header {
	for ; m.hdrAt < len(m.hdrs); m.hdrAt++ {
		if c := &m.hdrs[m.hdrAt]; cap(*c)-len(*c) >= n {
			i := len(*c)
			*c = (*c)[:i+n]
			return (*c)[i : i+n : i+n]
		}
	}
	m.hdrs = append(m.hdrs, make([]Header, n, hdrChunk))
	return m.hdrs[m.hdrAt][:n:n]
}

// reset makes m ready for another invocation: what it references is
// cleared, so that it keeps nothing of this one alive, and what it keeps
// is bounded.
func (m *sendMem) reset() {
	m.refs = keepFirst(m.refs, keepRefChunks)
	for i := 0; i <= m.refAt && i < len(m.refs); i++ {
		if i == m.refAt {
			clear(m.refs[i][:m.refUsed])
			break
		}
		clear(m.refs[i])
	}
	m.refAt, m.refUsed = 0, 0
	m.bytes = keepFirst(m.bytes, keepByteChunks)
	for i := range m.bytes {
		m.bytes[i] = m.bytes[i][:0] // no pointers: no need to clear
	}
	m.byteAt = 0
	m.hdrs = keepFirst(m.hdrs, keepHdrChunks)
	for i := range m.hdrs {
		clear(m.hdrs[i])
		m.hdrs[i] = m.hdrs[i][:0]
	}
	m.hdrAt = 0
}

// keepFirst returns the first n chunks of cs, and lets the others go.
func keepFirst[T any](cs [][]T, n int) [][]T {
	if len(cs) <= n {
		return cs
	}
	clear(cs[n:])
	return cs[:n]
}

// sendMems are the sendMems a handler keeps between invocations.
type sendMems struct{ idle[sendMem] }

// put takes back m, whose every message has been acknowledged.
func (ms *sendMems) put(m *sendMem) {
	m.reset()
	ms.idle.put(m)
}
