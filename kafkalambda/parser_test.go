package kafkalambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// reuseEvent is an event of n records whose keys, values and header values
// all carry tag, so that two events of the same n differ in every decoded
// byte and take the same room.
func reuseEvent(n int, tag byte) []byte {
	var b strings.Builder
	b.WriteString(`{"eventSource":"aws:kafka","records":{`)
	for p := range 2 {
		if p > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"t-%d":[`, p)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			v := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{tag}, 10+i%7))
			k := base64.StdEncoding.EncodeToString([]byte{tag, byte(i)})
			fmt.Fprintf(&b, `{"topic":"t","partition":%d,"offset":%d,"timestamp":1,"timestampType":"CREATE_TIME",`+
				`"key":"%s","value":"%s","headers":[{"h%c":[%d,-1]}],`+
				`"valueSchemaMetadata":{"dataFormat":"JSON","schemaId":"s%c"}}`, p, i, k, v, tag, int8(tag), tag)
		}
		b.WriteByte(']')
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// TestParserMatchesParseEvent parses events of growing, shrinking and equal
// sizes, and bad ones, with one Parser: each result is ParseEvent's.
func TestParserMatchesParseEvent(t *testing.T) {
	var ps Parser
	payloads := [][]byte{reuseEvent(3, 'a'), reuseEvent(200, 'b'), []byte(`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t"`),
		reuseEvent(1, 'c'), reuseEvent(200, 'd'), []byte(`{"eventSource":"aws:kafka"}`), reuseEvent(50, 'e')}
	for _, f := range []string{"msk.json", "self-managed.json", "signed-headers.json", "schema-metadata.json"} {
		if b, err := fuzzFixtures.ReadFile("testdata/" + f); err == nil {
			payloads = append(payloads, b)
		}
	}
	for i, payload := range payloads {
		want, wantErr := ParseEvent(payload)
		got, err := ps.Parse(payload)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("payload %d: Parse error %v, ParseEvent error %v", i, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("payload %d: Parse gave\n%+v\nParseEvent gave\n%+v", i, got, want)
		}
	}
}

// TestParserOverwrites enforces the lifetime contract of Parser both ways:
// bytes kept from an event past the next Parse are overwritten (so that
// keeping them is a bug a test can see, not a latent one), and what the
// serde codecs decode from them is a copy that survives.
func TestParserOverwrites(t *testing.T) {
	var ps Parser
	ev, err := ps.Parse(reuseEvent(20, 'a'))
	if err != nil {
		t.Fatal(err)
	}
	r := &ev.Partitions[0].Records[5]
	rawValue, rawKey, hdr, hdrKey, meta := r.Value, r.Key, r.Headers[0].Value, r.Headers[0].Key, r.ValueSchema
	wantValue := bytes.Clone(rawValue)

	ctx := context.Background()
	m := serde.Message{Topic: r.Topic, Data: r.Value}
	s, err := serde.String().Deserialize(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := serde.Bytes().Deserialize(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	js, err := serde.JSON[string]().Deserialize(ctx, serde.Message{Data: []byte(`"` + string(rawValue) + `"`)})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := ps.Parse(reuseEvent(20, 'b')); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rawValue, wantValue) {
		t.Errorf("a value kept past the next Parse still reads %q: the arena was not reused", rawValue)
	}
	if rawKey[0] != 'b' || hdr[0] != 'b' || meta.SchemaID != "sb" {
		t.Errorf("kept key %q, header %q, schema meta %q: want them overwritten by the next event", rawKey, hdr, meta.SchemaID)
	}
	if hdrKey != "ha" {
		t.Errorf("a header key kept past the next Parse reads %q, want ha: strings must never change", hdrKey)
	}
	if s != string(wantValue) || !bytes.Equal(bs, wantValue) || js != string(wantValue) {
		t.Errorf("decoded copies changed with the arena: String %q, Bytes %q, JSON %q; want %q", s, bs, js, wantValue)
	}
}

// FuzzParser parses each input with a Parser reused across inputs (so it
// starts from whatever the previous input left) and checks the result
// against ParseEvent's.
func FuzzParser(f *testing.F) {
	entries, err := fuzzFixtures.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := fuzzFixtures.ReadFile("testdata/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(reuseEvent(3, 'x'))
	var ps Parser
	f.Fuzz(func(t *testing.T, payload []byte) {
		want, wantErr := ParseEvent(payload)
		got, err := ps.Parse(payload)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("Parse error %v, ParseEvent error %v", err, wantErr)
		}
		if err != nil {
			if err.Error() != wantErr.Error() || !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("Parse error %v, ParseEvent error %v", err, wantErr)
			}
			return
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Fatalf("Parse gave\n%+v\nParseEvent gave\n%+v", got, want)
		}
	})
}

// TestParseEventSizesRecordArrays: when an event holds more records than
// ParseEvent's first guess, the array it grows is sized from the records
// parsed so far, not doubled: 4,000 records of ~250 bytes (twice the
// guess) take about what they need.
func TestParseEventSizesRecordArrays(t *testing.T) {
	const n = 2000 // per partition; reuseEvent has two
	payload := reuseEvent(n, 'a')
	if guess := len(payload)/500 + 1; guess >= 2*n {
		t.Fatalf("the event fits ParseEvent's first guess (%d records): it tests nothing", guess)
	}
	var least uint64
	for range 3 { // the least of three: nothing else allocates in between
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ev, err := ParseEvent(payload)
		runtime.ReadMemStats(&after)
		if err != nil || len(ev.Partitions) != 2 || len(ev.Partitions[1].Records) != n {
			t.Fatalf("ParseEvent: %v", err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; least == 0 || got < least {
			least = got
		}
	}
	need := uint64(2*n) * uint64(unsafe.Sizeof(RawRecord{})+unsafe.Sizeof(Header{})+unsafe.Sizeof(serde.SchemaMeta{}))
	// The arena (half the payload, one chunk more), the records, headers
	// and schema metadata with room to spare: the arrays of the first guess
	// (~1,700 records), given up when the first partition's records move to
	// the next, and an eighth more in that one. Doubling took over 2.2×.
	if limit := uint64(len(payload))/2 + uint64(len(payload))/16 + need*7/4 + 64<<10; least > limit {
		t.Fatalf("ParseEvent of %d bytes, %d records allocated %d bytes, want at most %d", len(payload), 2*n, least, limit)
	}
}

// TestParseEventGrowsForTheRest: in ParseEvent, the records and headers
// arrays made when the first guess is full hold the rest of the event (an
// eighth more), not the whole of it, which only a Parser keeping them
// needs. Records read by fastRecord included: it must not size them as a
// Parser would.
func TestParseEventGrowsForTheRest(t *testing.T) {
	p := newParser(reuseEvent(2000, 'a'))
	var ev Event
	if err := p.event(&ev); err != nil {
		t.Fatal(err)
	}
	if p.nrec != 4000 || p.nhdr != 4000 {
		t.Fatalf("parsed %d records and %d headers, want 4,000 each", p.nrec, p.nhdr)
	}
	for _, a := range []struct {
		what     string
		len, cap int
	}{{"records", len(p.recs), cap(p.recs)}, {"headers", len(p.hdrs), cap(p.hdrs)}} {
		if a.len == a.cap || a.cap > a.len*5/4+64 {
			t.Errorf("the last %s array holds %d in room for %d: want it grown once, for about what was left", a.what, a.len, a.cap)
		}
	}
}
