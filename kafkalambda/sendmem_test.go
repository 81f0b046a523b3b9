package kafkalambda

import (
	"bytes"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// Copies keep a null a null and an empty value empty, whatever their size,
// and do not change when the original does.
func TestSendMemCopies(t *testing.T) {
	m := new(sendMem)
	if b := m.copyBytes(nil); b != nil {
		t.Errorf("copy of nil = %q, want nil (a Kafka null)", b)
	}
	if b := m.copyBytes([]byte{}); b == nil || len(b) != 0 {
		t.Errorf("copy of an empty value = %#v, want empty and not nil", b)
	}
	for _, n := range []int{1, 100, byteChunk / 8, byteChunk/8 + 1, byteChunk} {
		src := bytes.Repeat([]byte{'x'}, n)
		c := m.copyBytes(src)
		src[0] = 'y'
		if len(c) != n || c[0] != 'x' || cap(c) != n {
			t.Fatalf("copy of %d bytes: len %d cap %d first %q; want %d, %d, 'x'", n, len(c), cap(c), c[0], n, n)
		}
	}
	hs := []Header{{Key: "a", Value: []byte("1")}, {Key: "null"}, {Key: "empty", Value: []byte{}}}
	c := m.copyHeaders(hs)
	hs[0].Value[0] = '2'
	hs[0].Key = "b"
	if len(c) != 3 || c[0].Key != "a" || string(c[0].Value) != "1" || c[1].Value != nil || c[2].Value == nil || cap(c) != 3 {
		t.Fatalf("copied headers %v (cap %d): want [a=1 null empty], capped", c, cap(c))
	}
	if c := m.copyHeaders([]Header{}); c != nil {
		t.Errorf("copy of no headers = %v, want nil", c)
	}
	many := make([]Header, hdrChunk)
	if c := m.copyHeaders(many); len(c) != hdrChunk {
		t.Errorf("copy of %d headers has %d", hdrChunk, len(c))
	}
}

// Many small copies share chunks without overlapping: every copy still
// reads what was copied into it once the chunks have filled up.
func TestSendMemCopiesDoNotOverlap(t *testing.T) {
	m := new(sendMem)
	var copies [][]byte
	var hcopies [][]Header
	for i := range 5000 {
		b := bytes.Repeat([]byte{byte(i)}, 1+i%200)
		copies = append(copies, m.copyBytes(b))
		hcopies = append(hcopies, m.copyHeaders([]Header{{Key: "k", Value: b[:1]}, {Key: "l"}}))
	}
	if len(m.bytes) < 2 || len(m.hdrs) < 2 {
		t.Fatalf("%d byte chunks, %d header chunks: the test should fill more than one of each", len(m.bytes), len(m.hdrs))
	}
	for i, c := range copies {
		if len(c) != 1+i%200 || bytes.Count(c, []byte{byte(i)}) != len(c) {
			t.Fatalf("copy %d reads %v", i, c)
		}
		if h := hcopies[i]; len(h) != 2 || h[0].Value[0] != byte(i) || h[1].Key != "l" {
			t.Fatalf("header copy %d reads %v", i, h)
		}
	}
}

// reset keeps the chunks for the next invocation, cleared of everything
// they referenced, and no more of them than the bounds.
func TestSendMemReset(t *testing.T) {
	m := new(sendMem)
	run := &partRun{}
	for range keepRefChunks*maxChunk + 5000 {
		ref := m.ref()
		ref.run = run
		ref.msg.Headers = m.copyHeaders([]Header{{Key: "k", Value: []byte("v")}})
		ref.msg.Value = m.copyBytes(bytes.Repeat([]byte{'v'}, 1000))
	}
	m.reset()
	if len(m.refs) != keepRefChunks || len(m.bytes) != keepByteChunks || len(m.hdrs) > keepHdrChunks {
		t.Fatalf("kept %d sendRef chunks, %d byte chunks, %d header chunks; want %d, %d, at most %d",
			len(m.refs), len(m.bytes), len(m.hdrs), keepRefChunks, keepByteChunks, keepHdrChunks)
	}
	for _, c := range m.refs {
		for i := range c {
			if c[i].run != nil || c[i].msg.Value != nil || c[i].msg.Headers != nil {
				t.Fatal("a kept sendRef still references the invocation before")
			}
		}
	}
	for _, c := range m.hdrs {
		if len(c) != 0 || c[:cap(c)][0].Value != nil {
			t.Fatal("a kept header chunk still references the invocation before")
		}
	}
	// Reused in order, from the first chunk.
	first := &m.refs[0][0]
	if ref := m.ref(); ref != first {
		t.Error("the first sendRef after reset is not the first of the kept chunks")
	}
	n := 0
	m.eachRef(func(*sendRef) { n++ })
	if n != 1 {
		t.Errorf("eachRef visits %d sendRefs after one was handed out, want 1", n)
	}
}

// A message reported twice (a Producer that breaks its contract) is counted
// once, so that the flush does not end before another message's outcome.
func TestTrackerCountsASecondReportOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, refs, purged := trackerWithSends(2)
		refs[0].Done(nil)
		refs[0].Done(nil)
		refs[0].Done(errors.New("and failed"))
		failures, _ := tr.wait(time.Now().Add(time.Second))
		if !*purged || len(failures) != 1 {
			t.Fatalf("purged %v, %d failures; want the flush to wait for the second message, purge and fail it alone", *purged, len(failures))
		}
		if tr.recyclable() {
			t.Error("an abandoned tracker's memory is recyclable")
		}
	})
}

// A tracker whose every message was reported gives its memory up; one
// whose flush is still missing a report, or that was never waited on,
// does not.
func TestTrackerRecyclable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, refs, _ := trackerWithSends(3)
		if tr.recyclable() {
			t.Error("recyclable before the flush")
		}
		for _, ref := range refs {
			ref.Done(nil)
		}
		tr.wait(time.Now().Add(time.Second))
		if !tr.recyclable() {
			t.Error("not recyclable with every message reported")
		}
		if err := tr.send(t.Context(), refs[0].run, "out", nil, nil, nil); !errors.Is(err, ErrNoInvocation) {
			t.Errorf("a send after the flush began: %v, want ErrNoInvocation", err)
		}
		if err := tr.begin(); !errors.Is(err, ErrNoInvocation) {
			t.Errorf("a send begun after the flush began: %v, want ErrNoInvocation", err)
		}
	})
}
