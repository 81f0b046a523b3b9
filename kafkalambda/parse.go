package kafkalambda

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// ParseEvent parses the payload of a Lambda invocation by a Kafka event
// source mapping: Amazon MSK (eventSource "aws:kafka") or self-managed
// Kafka ("SelfManagedKafka", also seen as "aws:SelfManagedKafka").
//
// Partitions come back sorted by topic, then partition number; the records
// of each partition in the event's order, which must be strictly
// increasing offsets (gaps allowed). Keys, values and header values are
// base64- or byte-array-decoded; a key or value that is null or absent in
// the event is nil, one that is present and empty is empty and not nil.
//
// ParseEvent does not reflect over the payload: it scans it once, and
// allocates about one buffer for all decoded bytes plus a few slices per
// event, not per record. It accepts exactly the JSON that encoding/json
// accepts and decodes it identically, but is stricter about the event's
// shape: a duplicate or case-mismatched field name, a missing or null topic,
// partition or offset, a header that is not a one-key object, a records key
// that is not "<topic>-<partition>" (the partition in decimal, no sign or
// leading zero), a record whose topic and partition do not make its records
// key, and a record whose offset is not above the previous one in its
// partition are errors. So each topic partition has one key, and one
// Partition. Unknown fields are skipped.
//
// Any problem is a *ParseError (errors.Is ErrMalformedEvent) giving the byte
// offset and the path of the value, e.g. `records["orders-3"][12].key`.
// ParseEvent never panics on any input.
func ParseEvent(payload []byte) (*Event, error) {
	p := newParser(payload)
	ev := new(Event)
	if err := p.event(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// newParser returns the parser of one ParseEvent call, in fresh memory.
// Decoded bytes are written to an arena of chunks of 1/16 of the payload
// (64 KiB to 1 MiB): a new chunk is a new allocation, never a copy, so at
// most one chunk is allocated and not used (and one more for each record
// laid out otherwise than an ESM lays it out: see fastRecord) — sizing one
// arena for the worst case (3/4 of the payload) costs more in zeroing than
// the decoding itself. Records and headers start from a guess of one per
// 500 bytes of payload, and grow by chunkFor.
func newParser(payload []byte) parser {
	guess := len(payload)/500 + 1
	chunk := min(max(len(payload)/16, 16<<10), 1<<20)
	return parser{
		buf:   payload,
		chunk: chunk,
		arena: make([]byte, 0, min(max(chunk, len(payload)/2), len(payload)+64)),
		recs:  make([]RawRecord, 0, guess),
		hdrs:  make([]Header, 0, guess),
		rec:   -1,
		hdr:   -1,
	}
}

// A Parser parses events as [ParseEvent] does, but reuses its memory from
// one call to the next: after the first few events it allocates almost
// nothing, and does not pay for fresh memory (zeroing, page faults, garbage
// collection) in proportion to the payload.
//
// The price is the lifetime of what it returns: the Event returned by Parse,
// and everything it holds — its partitions and records, the Key, Value and
// header Value bytes of each record, the SchemaMeta structs — is valid only
// until the next call to Parse on the same Parser, which overwrites it.
// Code that keeps any of it longer must copy it first; what the serde
// codecs decode from it is a copy. Strings are the exception: a topic, a
// header key, a schema id is an ordinary immutable Go string, which may be
// kept (a Parser interns up to 1,024 of them across calls, so that the
// topics and header keys of a warm function cost nothing). [Record] gives
// the raw bytes a Process function sees the same lifetime, one invocation,
// and the Handler parses with a Parser of its own.
//
// The zero Parser is ready to use. A Parser is not safe for concurrent use:
// give each goroutine its own.
type Parser struct {
	arena []byte // for decoded bytes: at least as long as the largest payload
	recs  []RawRecord
	hdrs  []Header
	metas []serde.SchemaMeta
	parts []Partition
	strs  map[string]string
	ev    Event
}

// Parse parses payload as ParseEvent does, into memory owned by ps: the
// result is valid until the next call to Parse on ps.
func (ps *Parser) Parse(payload []byte) (*Event, error) {
	// Every decoded byte takes at least one byte of the payload (four base64
	// characters give three bytes, a signed byte takes at least two
	// characters), so an arena as long as the payload never needs another
	// chunk; one that has served a larger payload is used again as is.
	if cap(ps.arena) < len(payload) {
		ps.arena = make([]byte, 0, len(payload)+len(payload)/8)
	}
	if ps.strs == nil {
		ps.strs = make(map[string]string)
	}
	p := parser{
		persist: true,
		buf:     payload,
		chunk:   len(payload) + 64,
		arena:   ps.arena[:0],
		recs:    ps.recs[:0],
		hdrs:    ps.hdrs[:0],
		metas:   ps.metas[:0],
		strs:    ps.strs,
		rec:     -1,
		hdr:     -1,
	}
	if cap(p.recs) == 0 {
		p.recs = make([]RawRecord, 0, len(payload)/500+1)
		p.hdrs = make([]Header, 0, len(payload)/500+1)
	}
	ps.ev = Event{Partitions: ps.parts[:0]}
	err := p.event(&ps.ev)
	// Keep the largest arrays the parse grew, for the next one.
	if cap(p.recs) > cap(ps.recs) {
		ps.recs = p.recs
	}
	if cap(p.hdrs) > cap(ps.hdrs) {
		ps.hdrs = p.hdrs
	}
	if cap(p.metas) > cap(ps.metas) {
		ps.metas = p.metas
	}
	if cap(ps.ev.Partitions) > cap(ps.parts) {
		ps.parts = ps.ev.Partitions
	}
	if len(ps.ev.Partitions) == 0 {
		ps.ev.Partitions = nil // as ParseEvent gives it
	}
	if err != nil {
		return nil, err
	}
	return &ps.ev, nil
}

// owns reports whether b aliases the memory the next Parse rewrites: the
// decoded bytes of the event the Parser parsed last. A send copies such
// bytes (a record dead-lettered, or forwarded by Process), so that they
// stay intact for as long as a producer holds them.
func (ps *Parser) owns(b []byte) bool {
	if len(b) == 0 || cap(ps.arena) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(ps.arena[:1])))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p < lo+uintptr(cap(ps.arena))
}

// parser is the state of one ParseEvent call.
type parser struct {
	buf     []byte
	pos     int
	arena   []byte // decoded bytes and record strings; append-only
	chunk   int    // size of a new arena chunk
	scratch []byte // unescaped strings, reused
	hbuf    []byte // header value bytes, reused
	recs    []RawRecord
	nrec    int // records parsed so far, in every array recs has been
	hdrs    []Header
	nhdr    int // headers parsed so far, likewise
	metas   []serde.SchemaMeta
	strs    map[string]string // interned header keys
	// persist: the arena is rewritten by the next parse (a Parser), so
	// strings must not live in it.
	persist bool
	// heapStrings: interned strings are heap strings even if !persist
	// (fastRecord, whose rollback gives arena bytes back).
	heapStrings bool

	// Where the parser is, for errors.
	inPart bool   // in the value of a records key
	part   string // that key
	rec    int
	hdr    int
	field  string
}

func (p *parser) fail(err error) error {
	return &ParseError{Offset: p.pos, Path: p.path(), Err: err}
}

func (p *parser) path() string {
	var b strings.Builder
	if p.inPart {
		b.WriteString("records[" + strconv.Quote(p.part) + "]")
		if p.rec >= 0 {
			b.WriteString("[" + strconv.Itoa(p.rec) + "]")
		}
	}
	if p.field != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.field)
		if p.hdr >= 0 {
			b.WriteString("[" + strconv.Itoa(p.hdr) + "]")
		}
	}
	return b.String()
}

// strict reports a shape that encoding/json would accept but ParseEvent
// does not.
func (p *parser) strict(format string, args ...any) error {
	return p.fail(&strictError{fmt.Sprintf(format, args...)})
}

// Bits for the fields of the event object.
const (
	fSource = 1 << iota
	fARN
	fServers
	fRecords
)

func (p *parser) event(ev *Event) error {
	if p.peek() != '{' {
		return p.fail(errors.New("event is not a JSON object"))
	}
	p.pos++
	var seen uint
	for i := 0; ; i++ {
		name, done, err := p.member(i)
		if err != nil {
			return err
		}
		if done {
			break
		}
		var bit uint
		var perr error
		switch string(name) {
		case "eventSource":
			bit, p.field = fSource, "eventSource"
			ev.Source, perr = p.optString()
		case "eventSourceArn":
			bit, p.field = fARN, "eventSourceArn"
			ev.SourceARN, perr = p.optString()
		case "bootstrapServers":
			bit, p.field = fServers, "bootstrapServers"
			var s string
			if s, perr = p.optString(); perr == nil {
				ev.BootstrapServers = splitServers(s)
			}
		case "records":
			bit, p.field = fRecords, "records"
			perr = p.records(ev)
		default:
			if err := p.unknown(name, eventFields); err != nil {
				return err
			}
			if err := p.skip(1); err != nil {
				return err
			}
			continue
		}
		if seen&bit != 0 {
			return p.strict("duplicate field %q", p.field)
		}
		seen |= bit
		if perr != nil {
			return perr
		}
		p.field = ""
	}
	p.field = ""
	if p.ws(); p.pos < len(p.buf) { // not peek: a NUL byte reads as 0, like the end
		return p.fail(errors.New("data after the event object"))
	}
	switch ev.Source {
	case SourceMSK, SourceSelfManaged, SourceSelfManagedAlt:
	case "":
		return p.strict("no eventSource: not an event from a Kafka event source mapping")
	default:
		return p.fail(fmt.Errorf("eventSource %q is not a Kafka event source", ev.Source))
	}
	slices.SortFunc(ev.Partitions, func(a, b Partition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
			strings.Compare(a.Key, b.Key))
	})
	return nil
}

var (
	eventFields = []string{"eventSource", "eventSourceArn", "bootstrapServers", "records"}
	// recordFields are in the order event source mappings write them,
	// indexed by the fTopic… constants.
	recordFields = []string{"topic", "partition", "offset", "timestamp", "timestampType", "key",
		"value", "headers", "keySchemaMetadata", "valueSchemaMetadata"}
	metaFields = []string{"dataFormat", "schemaId"}
)

// unknown rejects a member name that encoding/json would match to a known
// field case-insensitively; any other unknown member is skipped.
func (p *parser) unknown(name []byte, known []string) error {
	for _, k := range known {
		if strings.EqualFold(string(name), k) {
			return p.strict("field %q does not match %q exactly", name, k)
		}
	}
	return nil
}

func splitServers(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.Split(s, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// records reads the records map.
func (p *parser) records(ev *Event) error {
	if p.null() {
		return nil
	}
	if err := p.expect('{', "an object"); err != nil {
		return err
	}
	keys := make(map[string]struct{})
	for i := 0; ; i++ {
		name, done, err := p.member(i)
		if err != nil {
			return err
		}
		if done {
			break
		}
		key := string(name)
		p.inPart, p.part, p.field = true, key, ""
		if _, dup := keys[key]; dup {
			// Keys are compared unescaped: "t-0" and "t\u002d0" are one.
			return p.strict("records key %q twice", key)
		}
		keys[key] = struct{}{}
		pt, err := p.partition(key)
		if err != nil {
			return err
		}
		ev.Partitions = append(ev.Partitions, pt)
		p.inPart, p.part, p.field = false, "", "records"
	}
	return nil
}

// partition reads the array of records of one records map key. The key must
// be "<topic>-<partition>", written as [isKeyOf] builds it, so that two
// keys never name one topic partition; each record must be of that topic
// partition, and come at a higher offset than the one before it.
func (p *parser) partition(key string) (Partition, error) {
	pt := Partition{Key: key}
	t, n, ok := splitKey(key)
	if !ok {
		return pt, p.strict("records key %q is not <topic>-<partition>", key)
	}
	pt.Topic, pt.Partition = t, n
	if p.null() {
		return pt, nil
	}
	if err := p.expect('[', "an array of records"); err != nil {
		return pt, err
	}
	first := len(p.recs)
	plain := plainJSON(pt.Topic)
	for i := 0; ; i++ {
		p.rec = i
		done, err := p.element(i)
		if err != nil {
			return pt, err
		}
		if done {
			break
		}
		start := p.pos
		var r RawRecord
		if err := p.record(&r, &pt, plain); err != nil {
			return pt, err
		}
		if !isKeyOf(key, r.Topic, r.Partition) {
			p.pos = start
			return pt, p.strict("record of topic %q partition %d at offset %d under records key %q, not %q",
				r.Topic, r.Partition, r.Offset, key, r.Topic+"-"+strconv.Itoa(int(r.Partition)))
		}
		if i > 0 && r.Offset <= p.recs[len(p.recs)-1].Offset {
			// Event source mappings send a partition's records in offset
			// order; sorting would hide a corrupt or spliced batch.
			p.pos = start
			return pt, p.strict("offset %d after offset %d: a partition's records must have increasing offsets",
				r.Offset, p.recs[len(p.recs)-1].Offset)
		}
		if len(p.recs) == cap(p.recs) {
			// A new array for what comes next, with only this partition's
			// records so far moved: earlier partitions keep theirs.
			grown := make([]RawRecord, len(p.recs)-first, p.chunkFor(len(p.recs)-first, p.nrec))
			copy(grown, p.recs[first:])
			p.recs, first = grown, 0
		}
		p.recs = append(p.recs, r)
		p.nrec++
	}
	p.rec = -1
	if len(p.recs) > first {
		pt.Records = p.recs[first:len(p.recs):len(p.recs)]
	}
	return pt, nil
}

// chunkFor is the capacity of a new array for records (or headers) when
// the current one is full. moving is how many go over to the new array (the
// current partition's records, or the current record's headers, so far);
// parsed is how many the event has given so far. The new array holds those
// moving and what the rest of the payload holds at the density seen so far,
// one eighth more, and at least 64: never less than 9/8 of what moves, so
// that moving stays linear in all. Doubling instead made the array for the
// last few records of an event as large as all the others together (zeroed
// memory in proportion). A Parser keeps its largest arrays for the next
// event, so it gets room for the whole event: the same event again then
// needs no new array.
func (p *parser) chunkFor(moving, parsed int) int {
	rest := 0
	if p.pos > 0 {
		rest = int(int64(len(p.buf)-p.pos) * int64(parsed) / int64(p.pos))
	}
	n := moving + rest
	if p.persist {
		n = parsed + rest
	}
	return max(n+n/8, 64)
}

// splitKey splits a records map key "<topic>-<n>" at its last dash (a
// partition number has none; a topic may). It accepts only the form
// isKeyOf builds: n in [0, MaxInt32], decimal, no sign, no leading zero.
func splitKey(key string) (string, int32, bool) {
	i := strings.LastIndexByte(key, '-')
	if i < 0 || i == len(key)-1 {
		return "", 0, false
	}
	num := key[i+1:]
	if num[0] == '+' || (num[0] == '0' && len(num) > 1) {
		return "", 0, false
	}
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return key[:i], int32(n), true
}

// isKeyOf reports whether key is the records key of a record of topic and
// partition, topic + "-" + partition in decimal, without allocating it.
func isKeyOf(key, topic string, partition int32) bool {
	var buf [12]byte
	num := strconv.AppendInt(buf[:0], int64(partition), 10)
	return len(key) == len(topic)+1+len(num) && key[:len(topic)] == topic &&
		key[len(topic)] == '-' && key[len(topic)+1:] == string(num)
}

// Indexes of the fields of a record object in recordFields; bit 1<<i of a
// record's seen set says field i was read.
const (
	fTopic = iota
	fPartition
	fOffset
	fTimestamp
	fTimestampType
	fKey
	fValue
	fHeaders
	fKeySchema
	fValueSchema
)

// record reads one record of pt; [parser.partition] checks that it belongs
// there.
func (p *parser) record(r *RawRecord, pt *Partition, plain bool) error {
	// The fields an ESM writes first, read in one go when written as it
	// writes them (fastRecord); then whatever follows, the careful way.
	n := p.fastRecord(r, pt, plain)
	if n == 0 {
		if err := p.expect('{', "a record object"); err != nil {
			return err
		}
	}
	seen := uint(1)<<n - 1
	next := n // the field expected next in the order the ESM writes them
	for i := n; ; i++ {
		p.field = ""
		idx := -1
		if next < len(recordFields) && p.fastMember(i, recordFields[next]) {
			idx = next
		} else {
			name, done, err := p.member(i)
			if err != nil {
				return err
			}
			if done {
				break
			}
			if idx = slices.Index(recordFields, string(name)); idx < 0 {
				if err := p.unknown(name, recordFields); err != nil {
					return err
				}
				if err := p.skip(3); err != nil {
					return err
				}
				continue
			}
		}
		next = idx + 1
		bit := uint(1) << idx
		p.field = recordFields[idx]
		if seen&bit != 0 {
			return p.strict("duplicate field %q", p.field)
		}
		seen |= bit
		if err := p.recordField(idx, r, pt); err != nil {
			return err
		}
	}
	p.field = ""
	for _, f := range [...]int{fTopic, fPartition, fOffset} {
		if seen&(1<<f) == 0 {
			return p.strict("record has no %s", recordFields[f])
		}
	}
	return nil
}

// fastMember consumes the next member's name when it is name, written
// compactly (`,"name":`, or `"name":` for the first member), as event
// source mappings write records, and reports whether it did. Anything else
// is left for member, which handles white space, escapes and order.
func (p *parser) fastMember(i int, name string) bool {
	b, j := p.buf, p.pos
	if i > 0 {
		if j >= len(b) || b[j] != ',' {
			return false
		}
		j++
	}
	end := j + len(name) + 3
	if end > len(b) || b[j] != '"' || string(b[j+1:end-2]) != name || b[end-2] != '"' || b[end-1] != ':' {
		return false
	}
	p.pos = end
	p.ws()
	return true
}

// recordField reads the value of the record field recordFields[idx].
func (p *parser) recordField(idx int, r *RawRecord, pt *Partition) error {
	var err error
	switch idx {
	case fTopic:
		err = p.topic(r, pt)
	case fPartition:
		var n int64
		if n, err = p.int64v(0, math.MaxInt32); err == nil {
			r.Partition = int32(n)
		}
	case fOffset:
		r.Offset, err = p.int64v(math.MinInt64, math.MaxInt64)
	case fTimestamp:
		if !p.null() {
			var ms int64
			if ms, err = p.int64v(math.MinInt64, math.MaxInt64); err == nil {
				r.Timestamp = time.UnixMilli(ms)
			}
		}
	case fTimestampType:
		r.TimestampType, err = p.timestampType()
	case fKey:
		if !p.null() {
			r.Key, err = p.b64()
		}
	case fValue:
		if !p.null() {
			r.Value, err = p.b64()
		}
	case fHeaders:
		r.Headers, err = p.headers()
	case fKeySchema:
		r.KeySchema, err = p.schemaMeta()
	case fValueSchema:
		r.ValueSchema, err = p.schemaMeta()
	}
	return err
}

// topic reads a record's topic. Records of the key's topic share their
// partition's string.
func (p *parser) topic(r *RawRecord, pt *Partition) error {
	if p.peek() == 'n' {
		return p.strict("topic is null")
	}
	b, err := p.str()
	if err != nil {
		return err
	}
	if string(b) == pt.Topic {
		r.Topic = pt.Topic
	} else {
		r.Topic = string(b) // under the wrong key: partition reports it
	}
	return nil
}

func (p *parser) timestampType() (string, error) {
	if p.null() {
		return "", nil
	}
	b, err := p.str()
	if err != nil {
		return "", err
	}
	switch string(b) {
	case TimestampCreateTime:
		return TimestampCreateTime, nil
	case TimestampLogAppendTime:
		return TimestampLogAppendTime, nil
	case TimestampNone:
		return TimestampNone, nil
	}
	return p.intern(b), nil
}

// maxInterned bounds the strings a parser keeps for sharing, and
// maxInternLen the length of one.
const (
	maxInterned  = 1024
	maxInternLen = 256
)

// intern returns b as a string, shared with earlier equal strings (of the
// event; of every event a Parser parsed). For ParseEvent new strings live
// in the arena, which is never written again; for a Parser, whose arena
// the next event rewrites, they are ordinary heap strings.
func (p *parser) intern(b []byte) string {
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	if len(b) == 0 {
		return ""
	}
	var s string
	if p.persist || p.heapStrings {
		s = string(b)
	} else {
		copy(p.reserve(len(b)), b)
		s = unsafe.String(unsafe.SliceData(p.commit(len(b))), len(b))
	}
	if p.strs == nil {
		p.strs = make(map[string]string)
	}
	if len(p.strs) < maxInterned && len(s) <= maxInternLen {
		p.strs[s] = s
	}
	return s
}

// headers reads a record's headers: an array of one-key objects whose
// values are arrays of signed bytes (or null).
func (p *parser) headers() ([]Header, error) {
	if p.null() {
		return nil, nil
	}
	if err := p.expect('[', "an array of headers"); err != nil {
		return nil, err
	}
	first := len(p.hdrs)
	defer func() { p.hdr = -1 }()
	for i := 0; ; i++ {
		done, err := p.element(i)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		p.hdr = i
		if p.peek() != '{' {
			if p.peek() == 'n' {
				return nil, p.strict("header is null")
			}
			return nil, p.unexpected("a header object")
		}
		p.pos++
		name, done, err := p.member(0)
		if err != nil {
			return nil, err
		}
		if done {
			return nil, p.strict("header object has no key")
		}
		h := Header{Key: p.intern(name)}
		if h.Value, err = p.signedBytes(); err != nil {
			return nil, err
		}
		if _, done, err = p.member(1); err != nil {
			return nil, err
		} else if !done {
			return nil, p.strict("header object has more than one key")
		}
		if len(p.hdrs) == cap(p.hdrs) {
			// A new array, with only this record's headers so far moved.
			grown := make([]Header, len(p.hdrs)-first, p.chunkFor(len(p.hdrs)-first, p.nhdr))
			copy(grown, p.hdrs[first:])
			p.hdrs, first = grown, 0
		}
		p.hdrs = append(p.hdrs, h)
		p.nhdr++
	}
	if len(p.hdrs) == first {
		return nil, nil
	}
	return p.hdrs[first:len(p.hdrs):len(p.hdrs)], nil
}

// signedBytes reads an array of integers in [-128, 127] as bytes, or null.
func (p *parser) signedBytes() ([]byte, error) {
	if p.null() {
		return nil, nil
	}
	if err := p.expect('[', "an array of signed bytes"); err != nil {
		return nil, err
	}
	if b, ok := p.fastSignedBytes(); ok {
		return b, nil
	}
	b := p.hbuf[:0]
	for i := 0; ; i++ {
		done, err := p.element(i)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		v, err := p.int64v(math.MinInt8, math.MaxInt8)
		if err != nil {
			return nil, err
		}
		b = append(b, byte(int8(v)))
	}
	p.hbuf = b
	copy(p.reserve(len(b)), b)
	return p.commit(len(b)), nil
}

// fastSignedBytes reads the rest of an array of signed bytes written the
// usual way: integers without white space, fractions or exponents. It
// writes straight into the arena and returns ok false, having moved
// nothing, at anything else, for signedBytes to read and report.
//
// It finds the closing bracket first (a vectorised search): that bounds the
// number of elements, so the arena's room is checked once. Then it finds
// the commas 64 bytes at a time (commaMask) and converts each element
// between them without a branch on its digits (signedByte): header values
// are as good as random, so a reader that branched on the sign and the
// digit count mispredicted about every other element, and one that found
// each element's end by reading it chained every element to the one
// before. Near the end of the input, where a word cannot be loaded past
// the bracket, the byte-at-a-time reader (slowSignedBytes) does the work.
func (p *parser) fastSignedBytes() ([]byte, bool) {
	end := bytes.IndexByte(p.buf[p.pos:], ']')
	if end < 0 {
		return nil, false
	}
	if end == 0 {
		p.pos++
		return p.commit(0), true
	}
	s := p.buf[p.pos:] // s[end] == ']'
	room := p.arena[len(p.arena):cap(p.arena)]
	if len(room) < (end+1)/2 { // each element takes a digit and a ',' or the ']'
		return nil, false
	}
	if len(s) < end+64 {
		return p.slowSignedBytes(s[:end+1], room)
	}
	// From here on every load is within s: an element starts at most at
	// the bracket, and s holds 64 bytes past it.
	in := unsafe.Pointer(unsafe.SliceData(s))
	word := func(at int) uint64 {
		return uint64(binary.LittleEndian.Uint32((*[4]byte)(unsafe.Add(in, at))[:]))
	}
	n, from := 0, 0
	var bad uint64
	for blk := 0; blk < end; blk += 64 {
		m := commaMask((*[64]byte)(unsafe.Add(in, blk)))
		if end-blk < 64 { // only the commas before the bracket
			m &= 1<<uint(end-blk) - 1
		}
		if n+bits.OnesCount64(m) >= len(room) { // more commas than well-formed elements have
			return nil, false
		}
		for ; m != 0; m &= m - 1 {
			at := blk + bits.TrailingZeros64(m)
			v, b := signedByte(word(from), at-from)
			room[n] = v
			bad |= b
			n++
			from = at + 1
		}
	}
	v, b := signedByte(word(from), end-from)
	room[n] = v
	if bad|b != 0 {
		return nil, false
	}
	p.pos += end + 1
	return p.commit(n + 1), true
}

// slowSignedBytes is fastSignedBytes byte by byte, for s (which ends with
// the array's ']') near the end of the input; room is the arena's.
func (p *parser) slowSignedBytes(s, room []byte) ([]byte, bool) {
	n, i := 0, 0
	for {
		if n >= len(room) {
			return nil, false
		}
		neg := s[i] == '-'
		if neg {
			i++
		}
		d := s[i] - '0'
		if d > 9 {
			return nil, false
		}
		v := int(d)
		i++
		if v != 0 {
			if d = s[i] - '0'; d <= 9 {
				v = v*10 + int(d)
				i++
				if d = s[i] - '0'; d <= 9 {
					v = v*10 + int(d)
					i++
				}
			}
		}
		if neg {
			v = -v
		}
		if v < -128 || v > 127 {
			return nil, false
		}
		room[n] = byte(int8(v))
		n++
		switch s[i] {
		case ',':
			i++
		case ']':
			p.pos += i + 1
			return p.commit(n), true
		default:
			return nil, false
		}
	}
}

// commaMask returns a bit for each ',' among the 64 bytes at s, bit i for
// s[i].
func commaMask(s *[64]byte) uint64 {
	return commaByte(s[0:8]) | commaByte(s[8:16])<<8 | commaByte(s[16:24])<<16 | commaByte(s[24:32])<<24 |
		commaByte(s[32:40])<<32 | commaByte(s[40:48])<<40 | commaByte(s[48:56])<<48 | commaByte(s[56:64])<<56
}

// commaByte returns a bit for each ',' among the 8 bytes of s, bit i for
// s[i].
func commaByte(s []byte) uint64 {
	const lo7, commas = 0x7f7f7f7f7f7f7f7f, 0x2c2c2c2c2c2c2c2c
	t := binary.LittleEndian.Uint64(s) ^ commas // a zero byte for each ','
	hi := ^((t&lo7 + lo7) | t | lo7)            // its high bit, and no other bit
	// Gather the eight high bits into the top byte: the bit of byte j is
	// multiplied up to bit 56+j, and no two products meet.
	return hi >> 7 * 0x0102040810204080 >> 56
}

// signedByteMagic hashes each of the 257 ways to write a signed byte
// ("-128" to "127", and "-0"), as its key, to a distinct slot of
// signedByteTable: (key * signedByteMagic) >> 54. A key is the l bytes as
// a little-endian word with bit 8l set, so that keys of different lengths
// differ even where the input has zero bytes. The multiplier was found by
// trying random odd ones; TestSignedByteTable derives the table from it.
const signedByteMagic = 0x89eead33dd8eebb7

// signedByte converts the first l bytes of w, the input as a little-endian
// word, as a signed byte written the usual way: an optional '-', then one
// to three digits without a leading zero, a value within -128..127. It
// returns bad non-zero for anything else. It does not branch on the bytes:
// their key is looked up in signedByteTable, which holds every way to
// write a signed byte at a perfect hash of it together with the key
// itself, so that one comparison rejects anything else (a leading zero, a
// fourth digit, a character that is not a digit).
func signedByte(w uint64, l int) (byte, uint64) {
	end := uint64(1) << (8 * uint(l) & 63)
	key := w&(end-1) | end
	e := signedByteTable[key*signedByteMagic>>54]
	return byte(e >> 40), b2u(e&(1<<40-1) != key) | b2u(uint(l-1) > 3)
}

// b2u is 1 for true and 0 for false; the compiler makes it a SETcc.
func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// schemaMeta reads keySchemaMetadata or valueSchemaMetadata. Consecutive
// records with the same metadata share one value.
func (p *parser) schemaMeta() (*serde.SchemaMeta, error) {
	if p.null() {
		return nil, nil
	}
	if err := p.expect('{', "a schema metadata object"); err != nil {
		return nil, err
	}
	var m serde.SchemaMeta
	var seen uint
	field := p.field
	defer func() { p.field = field }()
	for i := 0; ; i++ {
		name, done, err := p.member(i)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		var bit uint
		switch string(name) {
		case "dataFormat":
			bit, p.field = 1, field+".dataFormat"
			m.DataFormat, err = p.metaString()
		case "schemaId":
			bit, p.field = 2, field+".schemaId"
			m.SchemaID, err = p.metaString()
		default:
			if err := p.unknown(name, metaFields); err != nil {
				return nil, err
			}
			if err := p.skip(4); err != nil {
				return nil, err
			}
			continue
		}
		if seen&bit != 0 {
			return nil, p.strict("duplicate field %q", p.field)
		}
		seen |= bit
		if err != nil {
			return nil, err
		}
	}
	if n := len(p.metas); n > 0 && p.metas[n-1] == m {
		return &p.metas[n-1], nil
	}
	if len(p.metas) == cap(p.metas) {
		// A new array; pointers into the old one stay valid.
		p.metas = make([]serde.SchemaMeta, 0, max(16, 2*cap(p.metas)))
	}
	p.metas = append(p.metas, m)
	return &p.metas[len(p.metas)-1], nil
}

func (p *parser) metaString() (string, error) {
	if p.null() {
		return "", nil
	}
	b, err := p.str()
	if err != nil {
		return "", err
	}
	return p.intern(b), nil
}
