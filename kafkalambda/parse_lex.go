package kafkalambda

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	asmbase64 "github.com/segmentio/asm/base64"
)

// This file holds the JSON lexer under ParseEvent: strings, integers,
// base64 strings, and validating skips of values the parser does not use.
// It accepts exactly the JSON that encoding/json accepts, and unescapes
// strings as encoding/json does (invalid UTF-8 and lone surrogates become
// U+FFFD), so that ParseEvent and encoding/json agree on every payload both
// accept; FuzzParseEvent checks it against encoding/json.

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

// strictError marks a payload that encoding/json would decode but that
// ParseEvent rejects on purpose: duplicate or case-mismatched field names,
// a null or missing required field, a header object that is not one
// key/value pair. The differential fuzz test uses it to tell deliberate
// strictness from a bug.
type strictError struct{ msg string }

func (e *strictError) Error() string { return e.msg }

func isStrict(err error) bool {
	var s *strictError
	return errors.As(err, &s)
}

func (p *parser) ws() {
	for p.pos < len(p.buf) {
		switch p.buf[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end. A NUL byte
// in the payload is 0 too, so peek() == 0 does not mean the end: callers
// compare its result with a byte other than 0 and test p.pos against
// len(p.buf) for the end of input.
func (p *parser) peek() byte {
	p.ws()
	if p.pos >= len(p.buf) {
		return 0
	}
	return p.buf[p.pos]
}

// expect consumes c, the opening of what is described by want (used in
// the error when the input holds something else).
func (p *parser) expect(c byte, want string) error {
	if p.peek() != c {
		return p.unexpected(want)
	}
	p.pos++
	return nil
}

func (p *parser) unexpected(want string) error {
	if p.pos >= len(p.buf) {
		return p.fail(fmt.Errorf("unexpected end of input, want %s", want))
	}
	return p.fail(fmt.Errorf("unexpected %q, want %s", p.buf[p.pos], want))
}

// literal consumes null, true or false.
func (p *parser) literal(word string) bool {
	if bytes.HasPrefix(p.buf[p.pos:], []byte(word)) {
		p.pos += len(word)
		return true
	}
	return false
}

// null consumes a null literal if one is next.
func (p *parser) null() bool {
	return p.peek() == 'n' && p.literal("null")
}

// member moves to the next member of an object whose '{' is consumed; i
// counts the members read so far. It returns done at the closing brace,
// else the member's unescaped name (valid until the next string is read)
// with p.pos at its value.
func (p *parser) member(i int) (name []byte, done bool, err error) {
	c := p.peek()
	if c == '}' {
		p.pos++
		return nil, true, nil
	}
	if i > 0 {
		if c != ',' {
			return nil, false, p.unexpected(`',' or '}'`)
		}
		p.pos++
		p.ws()
	}
	if name, err = p.str(); err != nil {
		return nil, false, err
	}
	if err = p.expect(':', `':'`); err != nil {
		return nil, false, err
	}
	p.ws()
	return name, false, nil
}

// element moves to the next element of an array whose '[' is consumed; it
// returns done at the closing bracket.
func (p *parser) element(i int) (done bool, err error) {
	c := p.peek()
	if c == ']' {
		p.pos++
		return true, nil
	}
	if i > 0 {
		if c != ',' {
			return false, p.unexpected(`',' or ']'`)
		}
		p.pos++
		p.ws()
	}
	return false, nil
}

// str reads a string and returns its unescaped content. The result aliases
// the payload when the string is plain ASCII without escapes, else
// p.scratch; either way it is valid only until the next call.
func (p *parser) str() ([]byte, error) {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '"' {
		return nil, p.unexpected("a string")
	}
	start := p.pos + 1
	for i := start; i < len(p.buf); i++ {
		c := p.buf[i]
		if c == '"' {
			p.pos = i + 1
			return p.buf[start:i], nil
		}
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			return p.strSlow(start)
		}
	}
	p.pos = len(p.buf)
	return nil, p.fail(errors.New("unterminated string"))
}

// strSlow unescapes the string whose content starts at start into
// p.scratch, as encoding/json does.
func (p *parser) strSlow(start int) ([]byte, error) {
	out := p.scratch[:0]
	i := start
	for i < len(p.buf) {
		c := p.buf[i]
		switch {
		case c == '"':
			p.pos = i + 1
			p.scratch = out
			return out, nil
		case c < 0x20:
			p.pos = i
			return nil, p.fail(fmt.Errorf("control character %#x in string", c))
		case c == '\\':
			if i+1 >= len(p.buf) {
				p.pos = i
				return nil, p.fail(errors.New("unterminated string"))
			}
			e := p.buf[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(p.buf, i)
				if !ok {
					p.pos = i
					return nil, p.fail(errors.New(`bad \u escape in string`))
				}
				i += 4
				if utf16.IsSurrogate(r) {
					// A valid pair makes one rune; anything else is U+FFFD,
					// and the second escape is read again on its own.
					if i+1 < len(p.buf) && p.buf[i] == '\\' && p.buf[i+1] == 'u' {
						if r2, ok := hex4(p.buf, i+2); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								i += 6
								out = utf8.AppendRune(out, dec)
								break
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				p.pos = i - 1
				return nil, p.fail(fmt.Errorf("bad escape \\%c in string", e))
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(p.buf[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, p.buf[i:i+size]...)
			}
			i += size
		}
	}
	p.pos = len(p.buf)
	return nil, p.fail(errors.New("unterminated string"))
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// reserve returns room for n more bytes at the end of the arena. The arena
// only grows: bytes already handed out are never written again, so a new
// backing array leaves earlier slices valid.
func (p *parser) reserve(n int) []byte {
	if cap(p.arena)-len(p.arena) < n {
		p.arena = make([]byte, 0, max(p.chunk, n))
	}
	return p.arena[len(p.arena) : len(p.arena)+n]
}

// commit marks n reserved bytes used and returns them, capped at their
// length so that an append by the caller cannot reach a neighbour.
func (p *parser) commit(n int) []byte {
	l := len(p.arena)
	p.arena = p.arena[:l+n]
	return p.arena[l : l+n : l+n]
}

// b64 reads a string holding standard base64 and returns the decoded bytes
// in the arena (non-nil, possibly empty).
func (p *parser) b64() ([]byte, error) {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '"' {
		return nil, p.unexpected("a base64 string")
	}
	start := p.pos + 1
	q := bytes.IndexByte(p.buf[start:], '"')
	if q < 0 {
		p.pos = len(p.buf)
		return nil, p.fail(errors.New("unterminated string"))
	}
	end := start + q
	seg := p.buf[start:end]
	if q == 0 || p.buf[end-1] != '\\' {
		// A vectorised decoder (AVX2 on amd64, NEON on arm64; the standard
		// library's elsewhere and for the last few characters), 2.5 times
		// as fast on 130-byte values (BENCHMARKS.md). Only a result that is
		// exactly what the padding says is used; anything else, an error
		// included, is left to the standard library's decoder below, so
		// errors and their offsets are its own. It may write past n, never
		// past the len(seg)/4*3 bytes reserved.
		dst := p.reserve(len(seg) / 4 * 3)
		n, err := asmbase64.StdEncoding.Decode(dst, seg)
		// Decode skips '\r' and '\n', which are not allowed raw in a JSON
		// string: a length that is short of what the padding says means
		// there were some, and the slow path reports them.
		if err == nil && len(seg)%4 == 0 && n == len(seg)/4*3-padding(seg) {
			p.pos = end + 1
			return p.commit(n), nil
		}
	}
	s, err := p.strSlow(start)
	if err != nil {
		return nil, err
	}
	dst := p.reserve(base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(dst, s)
	if err != nil {
		p.pos = start
		return nil, p.fail(fmt.Errorf("bad base64: %w", err))
	}
	return p.commit(n), nil
}

func padding(seg []byte) int {
	n := 0
	for i := len(seg) - 1; i >= 0 && n < 2 && seg[i] == '='; i-- {
		n++
	}
	return n
}

// int64v reads a JSON number that must be an integer in [min, max].
func (p *parser) int64v(min, max int64) (int64, error) {
	if p.null() {
		p.pos -= len("null")
		return 0, p.strict("null where an integer is required")
	}
	start := p.pos
	i := p.pos
	neg := false
	if i < len(p.buf) && p.buf[i] == '-' {
		neg = true
		i++
	}
	if i >= len(p.buf) || p.buf[i] < '0' || p.buf[i] > '9' {
		return 0, p.unexpected("an integer")
	}
	var u uint64
	overflow := false
	if p.buf[i] == '0' {
		i++
	} else {
		for ; i < len(p.buf) && '0' <= p.buf[i] && p.buf[i] <= '9'; i++ {
			d := uint64(p.buf[i] - '0')
			if u > (1<<63)/10 || u*10 > 1<<63-d {
				overflow = true
			}
			u = u*10 + d
		}
	}
	if i < len(p.buf) && (p.buf[i] == '.' || p.buf[i] == 'e' || p.buf[i] == 'E') {
		// Still a JSON number: validate it so that the error is about the
		// type, as encoding/json's would be.
		p.pos = start
		if err := p.skipNumber(); err != nil {
			return 0, err
		}
		p.pos = start
		return 0, p.fail(fmt.Errorf("number %s is not an integer", p.buf[start:p.numberEnd(start)]))
	}
	var v int64
	switch {
	case overflow || (!neg && u > 1<<63-1):
		overflow = true
	case neg:
		v = -int64(u)
		if u == 1<<63 {
			v = -1 << 63
		}
	default:
		v = int64(u)
	}
	if overflow || v < min || v > max {
		p.pos = start
		return 0, p.fail(fmt.Errorf("number %s out of range [%d, %d]", p.buf[start:i], min, max))
	}
	p.pos = i
	return v, nil
}

func (p *parser) numberEnd(start int) int {
	i := start
	for i < len(p.buf) {
		switch c := p.buf[i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			i++
		default:
			return i
		}
	}
	return i
}

// skipNumber validates and skips a JSON number.
func (p *parser) skipNumber() error {
	b, i := p.buf, p.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if i = p.digits(i); i < 0 {
		return p.unexpected("a digit")
	}
	if i < len(b) && b[i] == '.' {
		if i = p.digits(i + 1); i < 0 {
			return p.unexpected("a digit")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i = p.digits(i); i < 0 {
			return p.unexpected("a digit")
		}
	}
	p.pos = i
	return nil
}

// digits skips the run of one or more digits at p.buf[i:] and returns the
// index after it; when there is no digit at i it sets p.pos to i (for the
// error) and returns -1.
func (p *parser) digits(i int) int {
	b := p.buf
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		p.pos = i
		return -1
	}
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// skipString validates and skips a string without unescaping it.
func (p *parser) skipString() error {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '"' {
		return p.unexpected("a string")
	}
	i := p.pos + 1
	for i < len(p.buf) {
		switch c := p.buf[i]; {
		case c == '"':
			p.pos = i + 1
			return nil
		case c == '\\':
			if i+1 >= len(p.buf) {
				p.pos = i
				return p.fail(errors.New("unterminated string"))
			}
			switch p.buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(p.buf, i+2); !ok {
					p.pos = i
					return p.fail(errors.New(`bad \u escape in string`))
				}
				i += 6
			default:
				p.pos = i
				return p.fail(fmt.Errorf("bad escape \\%c in string", p.buf[i+1]))
			}
		case c < 0x20:
			p.pos = i
			return p.fail(fmt.Errorf("control character %#x in string", c))
		default:
			i++
		}
	}
	p.pos = len(p.buf)
	return p.fail(errors.New("unterminated string"))
}

// skip validates and skips any JSON value.
func (p *parser) skip(depth int) error {
	if depth > maxDepth {
		return p.fail(&strictError{"nested too deeply"})
	}
	switch p.peek() {
	case '"':
		return p.skipString()
	case '{':
		p.pos++
		for i := 0; ; i++ {
			_, done, err := p.member(i)
			if err != nil || done {
				return err
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
		}
	case '[':
		p.pos++
		for i := 0; ; i++ {
			done, err := p.element(i)
			if err != nil || done {
				return err
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
		}
	case 't':
		if p.literal("true") {
			return nil
		}
	case 'f':
		if p.literal("false") {
			return nil
		}
	case 'n':
		if p.literal("null") {
			return nil
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return p.skipNumber()
	}
	return p.unexpected("a value")
}

// optString reads a string or null (as "").
func (p *parser) optString() (string, error) {
	if p.null() {
		return "", nil
	}
	b, err := p.str()
	if err != nil {
		return "", err
	}
	return string(b), nil
}
