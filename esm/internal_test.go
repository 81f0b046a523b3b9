package esm

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// testJob is a batch of two partitions: t-0 offsets 10..13, t-1 offsets 0..1.
func testJob() *job {
	mk := func(topic string, p int32, offs ...int64) part {
		ps := &partState{tp: tp{topic, p}, key: where(topic, p)}
		pt := part{ps: ps, end: offs[len(offs)-1] + 1}
		for _, o := range offs {
			pt.recs = append(pt.recs, &rec{ps: ps, raw: kafkalambda.RawRecord{Topic: topic, Partition: p, Offset: o}})
		}
		return pt
	}
	return &job{parts: []part{mk("t", 0, 10, 11, 12, 13), mk("t", 1, 0, 1)}}
}

func TestParseItemFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want string // "t-0:[11 12] ..." or "bad"
	}{
		{"empty", ``, ""},
		{"spaces", " \n", ""},
		{"null", `null`, ""},
		{"empty object", `{}`, ""},
		{"null list", `{"batchItemFailures":null}`, ""},
		{"empty list", `{"batchItemFailures":[]}`, ""},
		{"other fields only", `{"status":"ok"}`, ""},
		{"one", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":12}}]}`, "t-0:[12]"},
		{"every listed offset per partition, in order, once", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":13}},
			{"itemIdentifier":{"partition":"t-1","offset":1}},{"itemIdentifier":{"partition":"t-0","offset":11}},
			{"itemIdentifier":{"partition":"t-0","offset":13}}]}`, "t-0:[11 13] t-1:[1]"},
		{"offset outside the batch", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":9}}]}`, "bad"},
		{"partition outside the batch", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-2","offset":0}}]}`, "bad"},
		{"string offset", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":"12"}}]}`, "bad"},
		{"fraction", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":12.0}}]}`, "bad"},
		{"exponent", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":1.2e1}}]}`, "bad"},
		{"no offset", `{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0"}}]}`, "bad"},
		{"no partition", `{"batchItemFailures":[{"itemIdentifier":{"offset":12}}]}`, "bad"},
		{"null identifier", `{"batchItemFailures":[{"itemIdentifier":null}]}`, "bad"},
		{"string identifier (SQS style)", `{"batchItemFailures":[{"itemIdentifier":"t-0-12"}]}`, "bad"},
		{"list is an object", `{"batchItemFailures":{}}`, "bad"},
		{"not JSON", `OK`, "bad"},
		{"array", `[]`, "bad"},
		{"truncated", `{"batchItemFailures":[`, "bad"},
		{"string", `"done"`, "bad"},
	} {
		got, err := parseItemFailures([]byte(tc.in), testJob())
		var s string
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Errorf("%s: error %v does not match ErrBadResponse", tc.name, err)
			}
			s = "bad"
		} else {
			for _, key := range []string{"t-0", "t-1"} {
				for ps, offs := range got {
					if ps.key == key {
						s += fmt.Sprintf(" %s:%v", key, offs)
					}
				}
			}
			if s != "" {
				s = s[1:]
			}
		}
		if s != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, s, tc.want)
		}
	}
}

// A function's response is untrusted: no input makes the parser panic, and
// whatever it accepts names records of the batch.
func FuzzParseItemFailures(f *testing.F) {
	f.Add([]byte(`{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":12}}]}`))
	f.Add([]byte(`{"batchItemFailures":[{"itemIdentifier":{"partition":"t-1","offset":0}},{"itemIdentifier":{"partition":"t-0","offset":13}}]}`))
	f.Add([]byte(`{"batchItemFailures":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		j := testJob()
		got, err := parseItemFailures(payload, j)
		if err != nil {
			return
		}
		for ps, offs := range got {
			if len(offs) == 0 || !slices.IsSorted(offs) || len(slices.Compact(slices.Clone(offs))) != len(offs) {
				t.Fatalf("%s: offsets %v not increasing, or none", ps.key, offs)
			}
			for _, off := range offs {
				if findRecord(j, ps.key, off) != ps {
					t.Fatalf("accepted %s@%d, not in the batch", ps.key, off)
				}
			}
		}
	})
}

// Bisecting splits by record count across partitions; the halves' commit
// positions meet where they were cut.
func TestSplit(t *testing.T) {
	t.Parallel()
	j := testJob()
	j.attempts = 2
	a, b := j.split()
	if a.attempts != 2 || b.attempts != 2 {
		t.Fatal("halves lost the attempt count")
	}
	show := func(j *job) string {
		s := ""
		for _, p := range j.parts {
			s += fmt.Sprintf("%s:%d-%d/end%d ", p.ps.key, p.recs[0].raw.Offset, p.recs[len(p.recs)-1].raw.Offset, p.end)
		}
		return s
	}
	if got := show(a) + "| " + show(b); got != "t-0:10-12/end13 | t-0:13-13/end14 t-1:0-1/end2 " {
		t.Fatalf("split: %s", got)
	}
	a2, b2 := a.split()
	if got := show(a2) + "| " + show(b2); got != "t-0:10-10/end11 | t-0:11-12/end13 " {
		t.Fatalf("split of the first half: %s", got)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	s := settings{backoffMin: 100 * time.Millisecond, backoffMax: time.Second}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, s.backoff(n))
	}
	if fmt.Sprint(got) != "[100ms 200ms 400ms 800ms 1s 1s]" {
		t.Fatalf("backoff %v", got)
	}
}

// An error document in a response without X-Amz-Function-Error (the
// emulator drops the header) is a function error; a batchItemFailures
// document or anything else is not.
func TestLooksLikeError(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		`{"errorMessage":"boom","errorType":"errorString"}`: true,
		`{"errorType":"Runtime.ExitError"}`:                 true,
		`Task timed out after 3.00 seconds`:                 true,
		`{"batchItemFailures":[],"errorMessage":"x"}`:       false,
		`{"batchItemFailures":[]}`:                          false,
		`null`:                                              false,
		``:                                                  false,
		`"errorMessage"`:                                    false,
		`{"errorMessage"`:                                   false,
	} {
		if got := looksLikeError([]byte(in)); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

// A negative MaximumRecordAge, however large, expires nothing; a positive
// one expires the records older than it, and never a record without a
// timestamp.
func TestExpireNegativeAgeIsInfinite(t *testing.T) {
	t.Parallel()
	oldJob := func() *job {
		j := testJob()
		for _, p := range j.parts {
			for _, r := range p.recs {
				r.raw.Timestamp = time.Now().Add(-30 * 24 * time.Hour)
			}
		}
		j.parts[1].recs[1].raw.Timestamp = time.Time{}
		return j
	}
	for _, tc := range []struct {
		age  time.Duration
		want int
	}{
		{-1, 0},
		{-time.Second, 0},
		{-MaxRecordAge, 0},
		{MinRecordAge, 5},
		{MaxRecordAge, 5},
	} {
		s := defaultSettings()
		WithMaxRecordAge(tc.age)(&s)
		if len(s.errs) > 0 {
			t.Fatalf("max record age %v: %v", tc.age, s.errs)
		}
		j := oldJob()
		if got := j.expire(s.maxAge, time.Now()); len(got) != tc.want || j.records() != 6-tc.want {
			t.Errorf("max record age %v: expired %d, %d left; want %d, %d", tc.age, len(got), j.records(), tc.want, 6-tc.want)
		}
	}
}

// partial under each model: which records of the reported partition t-0
// (10..13) are retried and which are held, where its commit position moves,
// and that every record is counted handled once, when the commit position
// passes it. t-1 is not reported: it is done.
func TestPartial(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		model          ItemFailureModel
		listed         []int64
		retry, held    string
		done, finished int64 // t-0's commit position after partial, and after the retry succeeds
		pending        int   // t-0's records handled after partial
	}{
		{ResumeFromLowest, []int64{11}, "[11 12 13]", "[]", 11, 14, 1},
		{ResumeFromLowest, []int64{11, 13}, "[11 12 13]", "[]", 11, 14, 1},
		{ResumeFromLowest, []int64{10}, "[10 11 12 13]", "[]", 10, 14, 0},
		{RetryListed, []int64{11}, "[11]", "[12 13]", 11, 14, 1},
		{RetryListed, []int64{11, 13}, "[11 13]", "[12]", 11, 14, 1},
		{RetryListed, []int64{13}, "[13]", "[]", 13, 14, 3},
		{RetryListed, []int64{10, 11, 12, 13}, "[10 11 12 13]", "[]", 10, 14, 0},
	} {
		name := fmt.Sprintf("%s %v", tc.model, tc.listed)
		j := testJob()
		t0, t1 := j.parts[0].ps, j.parts[1].ps
		rest := j.partial(map[*partState][]int64{t0: tc.listed}, tc.model)
		if len(rest.parts) != 1 || rest.parts[0].ps != t0 {
			t.Fatalf("%s: rest has %d parts, want t-0 only", name, len(rest.parts))
		}
		p := rest.parts[0]
		if got := fmt.Sprint(offsets(p.recs)); got != tc.retry || fmt.Sprint(p.held) != tc.held || p.end != 14 {
			t.Errorf("%s: retry %s held %v end %d; want retry %s held %s end 14", name, got, p.held, p.end, tc.retry, tc.held)
		}
		if t0.done != tc.done || t0.pending != tc.pending || t1.done != 2 || t1.pending != 2 {
			t.Errorf("%s: t-0 done %d pending %d, t-1 done %d pending %d; want %d %d, 2 2",
				name, t0.done, t0.pending, t1.done, t1.pending, tc.done, tc.pending)
		}
		rest.finish()
		if t0.done != tc.finished || t0.pending != 4 {
			t.Errorf("%s: after the retry t-0 done %d pending %d; want %d 4", name, t0.done, t0.pending, tc.finished)
		}
	}
}

// Under RetryListed, records held by a retried part are counted handled
// when a later partial response or a bisection lets the commit position
// pass them, and not before.
func TestPartialHeldRecords(t *testing.T) {
	t.Parallel()
	j := testJob()
	t0 := j.parts[0].ps
	rest := j.partial(map[*partState][]int64{t0: {11, 13}}, RetryListed) // retry 11, 13; hold 12
	// The retry lists 13 only: 11 is done, and so is 12, now under the
	// commit position.
	again := rest.partial(map[*partState][]int64{t0: {13}}, RetryListed)
	if p := again.parts[0]; fmt.Sprint(offsets(p.recs)) != "[13]" || len(p.held) != 0 || t0.done != 13 || t0.pending != 3 {
		t.Fatalf("second partial: retry %v held %v, t-0 done %d pending %d; want [13] [], 13 3",
			offsets(p.recs), p.held, t0.done, t0.pending)
	}

	// A bisection of a retried part gives each half the held records
	// before its end.
	j = testJob()
	rest = j.partial(map[*partState][]int64{j.parts[0].ps: {11, 13}}, RetryListed)
	a, b := rest.split()
	if got := fmt.Sprintf("%v %v end%d | %v %v end%d", offsets(a.parts[0].recs), a.parts[0].held, a.parts[0].end,
		offsets(b.parts[0].recs), b.parts[0].held, b.parts[0].end); got != "[11] [12] end13 | [13] [] end14" {
		t.Fatalf("split: %s", got)
	}
}

func offsets(recs []*rec) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.raw.Offset
	}
	return out
}
