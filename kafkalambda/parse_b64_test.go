package kafkalambda

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"testing"
)

var errControl = errors.New("a control character")

// FuzzBase64FastPath holds the fast path of b64 (a vectorised decoder) to
// the standard library's: b64 (fast path, then the standard library's
// decoder for anything it does not take) decodes a JSON string's content
// exactly as encoding/base64 does, and fails where it fails or where the
// content has a control character (which JSON does not allow raw).
func FuzzBase64FastPath(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 16, 33, 34, 35, 36, 47, 48, 60, 96, 130, 300} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		s := base64.StdEncoding.EncodeToString(b)
		f.Add([]byte(s))
		if len(s) > 40 { // a bad character, a line break, a cut, at the far end of a vector block
			f.Add([]byte(s[:40] + "*" + s[41:]))
			f.Add([]byte(s[:44] + "\n" + s[44:]))
			f.Add([]byte(s[:len(s)-1]))
		}
	}
	f.Fuzz(func(t *testing.T, seg []byte) {
		if bytes.ContainsAny(seg, `"\`) {
			return // not the content of a JSON string without escapes
		}
		want, wantErr := base64.StdEncoding.DecodeString(string(seg))
		if bytes.ContainsFunc(seg, func(r rune) bool { return r < 0x20 }) {
			wantErr = errControl // raw in a JSON string: the event is malformed
		}

		p := parser{buf: []byte(`"` + string(seg) + `"`), arena: make([]byte, 0, len(seg)+8), chunk: 64}
		got, err := p.b64()
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("b64 error %v, encoding/base64 error %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("b64 gave % x, encoding/base64 % x", got, want)
		}
	})
}
