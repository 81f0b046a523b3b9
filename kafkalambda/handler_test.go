package kafkalambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

type trade struct {
	Symbol string `json:"symbol"`
	Qty    int    `json:"qty"`
}

// event builds an event payload from partitions of (offset, value) pairs;
// a nil value is a tombstone.
func event(t testing.TB, parts map[string][]kafkalambda.RawRecord) []byte {
	t.Helper()
	ev := &kafkalambda.Event{Source: kafkalambda.SourceSelfManaged, BootstrapServers: []string{"b:9092"}}
	for key, recs := range parts {
		i := strings.LastIndexByte(key, '-')
		var n int32
		fmt.Sscan(key[i+1:], &n)
		for j := range recs {
			recs[j].Topic, recs[j].Partition = key[:i], n
			if recs[j].Timestamp.IsZero() {
				recs[j].Timestamp = time.UnixMilli(1700000000000)
			}
		}
		ev.Partitions = append(ev.Partitions, kafkalambda.Partition{Key: key, Topic: key[:i], Partition: n, Records: recs})
	}
	return ev.AppendJSON(nil)
}

func rec(offset int64, key, value string) kafkalambda.RawRecord {
	r := kafkalambda.RawRecord{Offset: offset, Key: []byte(key), TimestampType: kafkalambda.TimestampCreateTime}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

func TestHandlerTypedRecordsInOrder(t *testing.T) {
	t.Parallel()
	payload := event(t, map[string][]kafkalambda.RawRecord{
		"trades-1": {rec(10, "u1", `{"symbol":"A","qty":1}`), rec(11, "u2", `{"symbol":"B","qty":2}`)},
		"trades-0": {rec(5, "u3", `{"symbol":"C","qty":3}`), rec(6, "u4", "")},
	})
	var got []string
	h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[trade](),
		func(ctx context.Context, r *kafkalambda.Record[string, trade]) error {
			got = append(got, fmt.Sprintf("%s-%d@%d %s %+v tomb=%v", r.Topic, r.Partition, r.Offset, r.Key, r.Value, r.IsTombstone()))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "null" {
		t.Errorf("response %s", out)
	}
	want := []string{
		"trades-0@5 u3 {Symbol:C Qty:3} tomb=false",
		"trades-0@6 u4 {Symbol: Qty:0} tomb=true",
		"trades-1@10 u1 {Symbol:A Qty:1} tomb=false",
		"trades-1@11 u2 {Symbol:B Qty:2} tomb=false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("processed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// countingDeserializer counts its calls and fails the test if it is ever
// given a null.
type countingDeserializer struct {
	t     testing.TB
	calls *atomic.Int32
}

func (d countingDeserializer) Deserialize(_ context.Context, m serde.Message) (string, error) {
	d.calls.Add(1)
	if m.Data == nil {
		d.t.Errorf("deserializer got a null %v", m)
	}
	return string(m.Data), nil
}

func TestHandlerNeverDeserializesNull(t *testing.T) {
	t.Parallel()
	var keyCalls, valueCalls, processed atomic.Int32
	h, err := kafkalambda.NewHandler[string, string](countingDeserializer{t, &keyCalls}, countingDeserializer{t, &valueCalls},
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			processed.Add(1)
			if r.RawKey == nil && r.Key != "" || r.RawValue == nil && r.Value != "" {
				t.Errorf("record %d: a null became key %q value %q", r.Offset, r.Key, r.Value)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), fixture(t, "tombstones.json")); err != nil {
		t.Fatal(err)
	}
	// tombstones.json: 6 records, 2 with a null key, 2 with a null value.
	if processed.Load() != 6 || keyCalls.Load() != 4 || valueCalls.Load() != 4 {
		t.Errorf("processed %d records, deserialized %d keys and %d values; want 6, 4, 4",
			processed.Load(), keyCalls.Load(), valueCalls.Load())
	}
}

// WithConcurrency(n) keeps exactly min(n, partitions not done) partitions
// in flight: never more (the upper bound), and never fewer while work is
// left (the lower bound: n is reached). Every Process call blocks until the
// test lets one record go; at each step synctest.Wait returns once every
// goroutine of the handler is blocked, so the records then inside Process
// are all the partitions in flight, and the count is exact, not a race
// against a sleep. Records of a partition still come one at a time, in
// offset order.
func TestHandlerConcurrentPartitionsKeepOrder(t *testing.T) {
	t.Parallel()
	const n, partitions, perPartition = 3, 8, 4
	parts := map[string][]kafkalambda.RawRecord{}
	for p := range partitions {
		for o := range perPartition {
			parts[fmt.Sprintf("t-%d", p)] = append(parts[fmt.Sprintf("t-%d", p)], rec(int64(o), "k", "v"))
		}
	}
	payload := event(t, parts)
	synctest.Test(t, func(t *testing.T) {
		var (
			mu        sync.Mutex
			inProcess = map[int32]bool{} // partitions with a record inside Process
			done      = map[int32]int{}  // records finished, per partition
			last      = map[int32]int64{}
			maxIn     int
		)
		next := make(chan struct{})  // one send lets one Process call return
		abort := make(chan struct{}) // closed lets them all return, after a failure
		h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
			func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
				mu.Lock()
				if prev, ok := last[r.Partition]; ok && r.Offset != prev+1 {
					t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
				}
				if inProcess[r.Partition] {
					t.Errorf("partition %d: two records in Process at once", r.Partition)
				}
				last[r.Partition] = r.Offset
				inProcess[r.Partition] = true
				maxIn = max(maxIn, len(inProcess))
				mu.Unlock()
				select {
				case <-next:
				case <-abort:
				}
				mu.Lock()
				delete(inProcess, r.Partition)
				done[r.Partition]++
				mu.Unlock()
				return nil
			}, kafkalambda.WithConcurrency(n))
		if err != nil {
			t.Fatal(err)
		}
		invoked := make(chan error, 1)
		go func() {
			_, err := h.Invoke(context.Background(), payload)
			invoked <- err
		}()
		for step := range partitions * perPartition {
			synctest.Wait()
			mu.Lock()
			unfinished := partitions
			for _, d := range done {
				if d == perPartition {
					unfinished--
				}
			}
			in := len(inProcess)
			mu.Unlock()
			if want := min(n, unfinished); in != want {
				t.Errorf("step %d: %d partitions in flight, want %d (concurrency %d, %d partitions not done)",
					step, in, want, n, unfinished)
				close(abort)
				<-invoked
				return
			}
			next <- struct{}{}
		}
		if err := <-invoked; err != nil {
			t.Fatal(err)
		}
		if len(last) != partitions || maxIn != n {
			t.Errorf("%d partitions processed, at most %d at once; want %d, exactly %d", len(last), maxIn, partitions, n)
		}
		for p, d := range done {
			if d != perPartition {
				t.Errorf("partition %d: %d records processed, want %d", p, d, perPartition)
			}
		}
	})
}

func TestHandlerFailBatch(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	payload := event(t, map[string][]kafkalambda.RawRecord{
		"t-0": {rec(1, "a", "1"), rec(2, "b", "2"), rec(3, "c", "3")},
		"t-1": {rec(7, "d", "4")},
	})
	var seen []int64
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			seen = append(seen, r.Offset)
			if r.Offset == 2 {
				return boom
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Invoke(context.Background(), payload)
	if !errors.Is(err, kafkalambda.ErrBatchFailed) || !errors.Is(err, boom) {
		t.Fatalf("error %v, want ErrBatchFailed wrapping boom", err)
	}
	var re *kafkalambda.RecordError
	if !errors.As(err, &re) || re.Topic != "t" || re.Partition != 0 || re.Offset != 2 || re.Stage != kafkalambda.StageProcess {
		t.Fatalf("record error %+v", re)
	}
	if !reflect.DeepEqual(seen, []int64{1, 2}) {
		t.Errorf("processed %v, want [1 2]: the batch stops at the first failure", seen)
	}
}

func TestHandlerItemFailures(t *testing.T) {
	t.Parallel()
	payload := event(t, map[string][]kafkalambda.RawRecord{
		"t-0": {rec(1, "a", "ok"), rec(2, "b", "bad"), rec(3, "c", "ok")},
		"t-1": {rec(7, "d", "ok"), rec(8, "e", "ok")},
		"t-2": {rec(4, "f", "panic"), rec(5, "g", "ok")},
	})
	var seen []string
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			seen = append(seen, fmt.Sprintf("%d@%d", r.Partition, r.Offset))
			switch r.Value {
			case "bad":
				return errors.New("bad record")
			case "panic":
				var m map[string]int
				m["x"]++ // a nil map write: a runtime panic
			}
			return nil
		}, kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	want := kafkalambda.ItemFailures{BatchItemFailures: []kafkalambda.ItemFailure{
		{ItemIdentifier: kafkalambda.ItemIdentifier{Partition: "t-0", Offset: 2}},
		{ItemIdentifier: kafkalambda.ItemIdentifier{Partition: "t-0", Offset: 3}},
		{ItemIdentifier: kafkalambda.ItemIdentifier{Partition: "t-2", Offset: 4}},
		{ItemIdentifier: kafkalambda.ItemIdentifier{Partition: "t-2", Offset: 5}},
	}}
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("response %s, want %+v", out, want)
	}
	if !reflect.DeepEqual(seen, []string{"0@1", "0@2", "1@7", "1@8", "2@4"}) {
		t.Errorf("processed %v", seen)
	}
}

func TestHandlerItemFailuresAllGood(t *testing.T) {
	t.Parallel()
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error { return nil },
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), fixture(t, "msk.json"))
	if err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
}

func TestHandlerPanicIsARecordFailure(t *testing.T) {
	t.Parallel()
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			panic("settlement exploded")
		})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Invoke(context.Background(), fixture(t, "msk.json"))
	var pe *kafkalambda.PanicError
	if !errors.Is(err, kafkalambda.ErrPanic) || !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *PanicError", err)
	}
	if pe.Value != "settlement exploded" || !strings.Contains(string(pe.Stack), "handler_test.go") {
		t.Errorf("panic value %v, stack:\n%s", pe.Value, pe.Stack)
	}
}

func TestHandlerDeserializeError(t *testing.T) {
	t.Parallel()
	h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[trade](),
		func(ctx context.Context, r *kafkalambda.Record[string, trade]) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Invoke(context.Background(), fixture(t, "msk.json")) // its value is not JSON
	var re *kafkalambda.RecordError
	if !errors.Is(err, kafkalambda.ErrDeserialize) || !errors.As(err, &re) || re.Stage != kafkalambda.StageValue {
		t.Fatalf("error %v, want a value deserialization error", err)
	}
	if !strings.Contains(err.Error(), "mytopic-0@15") {
		t.Errorf("error %q does not say where", err)
	}
}

// TestHandlerDeadlineStopsProcessing runs in a synctest bubble: the
// deadline falls exactly while record 3 is processed, whatever the load.
func TestHandlerDeadlineStopsProcessing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		parts := map[string][]kafkalambda.RawRecord{}
		for o := range 20 {
			parts["t-0"] = append(parts["t-0"], rec(int64(o), "k", "v"))
		}
		var last atomic.Int64
		h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
			func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
				last.Store(r.Offset)
				if r.Offset == 3 { // still busy at the deadline
					<-ctx.Done()
				}
				return nil
			},
			kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()),
			kafkalambda.WithDeadlineMargin(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		out, err := h.Invoke(ctx, event(t, parts))
		if err != nil {
			t.Fatal(err)
		}
		var resp kafkalambda.ItemFailures
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 16 {
			t.Fatalf("response %s (%v), want the 16 records left", out, err)
		}
		for i, f := range resp.BatchItemFailures {
			if f.ItemIdentifier.Offset != int64(4+i) {
				t.Fatalf("item failure %d names offset %d, want %d: every record from 4 on", i, f.ItemIdentifier.Offset, 4+i)
			}
		}
		if last.Load() != 3 {
			t.Errorf("processed up to %d; want 3 (the record that was done at the deadline)", last.Load())
		}
	})
}

func TestNewHandlerOptions(t *testing.T) {
	t.Parallel()
	nop := func(ctx context.Context, r *kafkalambda.Record[string, string]) error { return nil }
	tests := []struct {
		name string
		opts []kafkalambda.Option
	}{
		{"dead letter without producer", []kafkalambda.Option{kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq"))}},
		{"dead letter without topic", []kafkalambda.Option{kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter(""))}},
		{"zero concurrency", []kafkalambda.Option{kafkalambda.WithConcurrency(0)}},
		{"nil logger", []kafkalambda.Option{kafkalambda.WithLogger(nil)}},
		{"nil producer", []kafkalambda.Option{kafkalambda.WithProducer(nil)}},
		{"negative margin", []kafkalambda.Option{kafkalambda.WithDeadlineMargin(-time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kafkalambda.NewHandler(serde.String(), serde.String(), nop, tt.opts...); !errors.Is(err, kafkalambda.ErrInvalidOption) {
				t.Errorf("NewHandler = %v, want ErrInvalidOption", err)
			}
		})
	}
	if _, err := kafkalambda.NewHandler[string, string](serde.String(), serde.String(), nil); !errors.Is(err, kafkalambda.ErrInvalidOption) {
		t.Errorf("nil process: %v", err)
	}
}

func TestHandlerMalformedEvent(t *testing.T) {
	t.Parallel()
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"eventSource":"aws:kafka","records":{"t-0":[{]}}`)); !errors.Is(err, kafkalambda.ErrMalformedEvent) {
		t.Fatalf("Invoke = %v", err)
	}
}

func TestSendOutsideInvocation(t *testing.T) {
	t.Parallel()
	out := kafkalambda.NewOutput("t", serde.String(), serde.String())
	if err := out.Send(context.Background(), "k", "v"); !errors.Is(err, kafkalambda.ErrNoInvocation) {
		t.Fatalf("Send = %v", err)
	}
}

func TestIsTransient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("bad record"), false},
		{kafkalambda.Transient(errors.New("downstream 503")), true},
		{fmt.Errorf("settle: %w", serde.ErrRegistry), true},
		{fmt.Errorf("send: %w", kafkalambda.ErrProducer), true},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("decode: %w", serde.ErrMalformed), false},
	} {
		if got := kafkalambda.IsTransient(tc.err); got != tc.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if kafkalambda.Transient(nil) != nil {
		t.Error("Transient(nil) != nil")
	}
}
