package kafkalambda

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestSignedBytesFastPath checks the fast reader of header values
// (fastSignedBytes) against encoding/json, which reads the same arrays into
// []int8: every byte value in every position of an array, with and without
// a sign, and tokens that are not a signed byte written the usual way,
// which it must leave to the careful reader (ok false, nothing consumed)
// whether encoding/json accepts them or not.
func TestSignedBytesFastPath(t *testing.T) {
	var good []string
	for v := -128; v <= 127; v++ {
		good = append(good, strconv.Itoa(v))
	}
	good = append(good, "-0")
	// Each array is read twice: followed by a short tail, where the
	// byte-at-a-time reader takes it, and by a long one, where the
	// 64-byte blocks do.
	tails := []string{`}]}]}},"x"`, `}]}]}},"x":"` + strings.Repeat("0123456789,", 8) + `"}`}
	check := func(t *testing.T, array string, wantOK bool) {
		t.Helper()
		for _, tail := range tails {
			checkSignedBytes(t, array, tail, wantOK)
		}
	}
	// Every value alone, and runs of every length 1-20 starting at each.
	for i := range good {
		check(t, "["+good[i]+"]", true)
		for n := 2; n <= 20; n++ {
			run := make([]string, n)
			for j := range run {
				run[j] = good[(i+j*37)%len(good)]
			}
			check(t, "["+strings.Join(run, ",")+"]", true)
		}
	}
	bad := []string{"128", "-129", "255", "1000", "-1000", "01", "-01", "00", "007", "+1", "-", " 1", "1 ",
		"1.0", "1e2", "0x1", "a", "1a", "\"1\"", "null", "--1", "1-", "12-", ",", "9999", "-00",
		"0\x00", "1\x00", "12\x00", "-1\x00", "\x00", "-\x00",
		// Longer than a word's worth of key: a shift by 8 times the length
		// wraps, so only the length check refuses these.
		"01234567", "012345678", "12xxxxxxx", "1xxxxxxxxx", "-12xxxxxxxx", "123456789012"}
	for _, b := range bad {
		long := strings.Repeat("-100,", 14) // past the first 64-byte block
		for _, array := range []string{"[" + b + "]", "[1," + b + "]", "[" + b + ",1]", "[1,2,3,4,5,6,7," + b + ",8,9]",
			"[" + long + b + ",1]", "[" + long + b + "]", "[" + long + long + "1," + b + "]"} {
			check(t, array, false)
		}
	}
	check(t, "[1,2,]", false)
	check(t, "[1,,1]", false)
	check(t, "[,1]", false)
	check(t, "[,,,,,,,,,,,,,,,,,,,]", false)
	check(t, "[]", true)
}

// checkSignedBytes reads array, followed by tail, with fastSignedBytes.
func checkSignedBytes(t *testing.T, array, tail string, wantOK bool) {
	t.Helper()
	p := parser{buf: []byte(array + tail), arena: make([]byte, 0, 2*len(array)+8)}
	p.pos = 1 // past the '['
	got, ok := p.fastSignedBytes()
	if ok != wantOK {
		t.Fatalf("%s: ok %v, want %v", array, ok, wantOK)
	}
	if !ok {
		if p.pos != 1 || len(p.arena) != 0 {
			t.Fatalf("%s: refused, but moved to %d and kept %d bytes", array, p.pos, len(p.arena))
		}
		return
	}
	var want []int8
	if err := json.Unmarshal([]byte(array), &want); err != nil {
		t.Fatalf("%s: fast path accepted what encoding/json refuses: %v", array, err)
	}
	if len(got) != len(want) || p.pos != len(array) {
		t.Fatalf("%s: %d values, at %d; want %d, at %d", array, len(got), p.pos, len(want), len(array))
	}
	for i := range want {
		if int8(got[i]) != want[i] {
			t.Fatalf("%s: value %d is %d, want %d", array, i, int8(got[i]), want[i])
		}
	}
}

// FuzzSignedBytesFastPath holds fastSignedBytes to encoding/json on any
// array: what it accepts, encoding/json reads as the same []int8, both
// where the byte-at-a-time reader works and where the 64-byte blocks do;
// what it refuses, it leaves unread.
func FuzzSignedBytesFastPath(f *testing.F) {
	for _, s := range []string{"1,-2,127,-128", "0", "-0", "01", "1,,2", "128", "1 ,2", strings.Repeat("-99,", 40) + "7",
		"012345678", "1,12xxxxxxx", strings.Repeat("-9,", 30) + "123456789012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, elems string) {
		array := "[" + elems + "]"
		for _, tail := range []string{`}`, `}]}]}},"x":"` + strings.Repeat("0123456789,", 8) + `"}`} {
			p := parser{buf: []byte(array + tail), arena: make([]byte, 0, 2*len(array)+8)}
			p.pos = 1
			got, ok := p.fastSignedBytes()
			if !ok {
				if p.pos != 1 || len(p.arena) != 0 {
					t.Fatalf("%q: refused, but moved to %d and kept %d bytes", array, p.pos, len(p.arena))
				}
				continue
			}
			read := p.buf[:p.pos]
			var want []int8
			if err := json.Unmarshal(read, &want); err != nil {
				t.Fatalf("%q: accepted %q, which encoding/json refuses: %v", array, read, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%q: %d values, encoding/json %d", read, len(got), len(want))
			}
			for i := range want {
				if int8(got[i]) != want[i] {
					t.Fatalf("%q: value %d is %d, encoding/json %d", read, i, int8(got[i]), want[i])
				}
			}
		}
	})
}
