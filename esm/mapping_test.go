package esm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// Every record reaches the function once, in offset order per partition, in
// events of the documented shape; the offsets are committed afterwards.
func TestOrderAndCommit(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 3))
	for p := range int32(3) {
		produceN(t, c, "in", p, 120, fmt.Sprintf("p%d-", p))
	}
	// One record with everything an event can carry.
	if err := c.ProduceRecords(testCtx(t), &kgo.Record{Topic: "in", Partition: 0, Key: nil, Value: []byte{},
		Headers: []kgo.RecordHeader{{Key: "sig", Value: []byte{0xff, 0x01}}, {Key: "nul", Value: nil}}}); err != nil {
		t.Fatal(err)
	}
	fn := &recorder{}
	var inflight, maxInflight atomic.Int32
	overlapped := make(chan struct{}) // closed once two invocations were in flight at once
	var once sync.Once
	fn.respond = func(ctx context.Context, _ *kafkalambda.Event, _ int) ([]byte, error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		if n >= 2 {
			once.Do(func() { close(overlapped) })
		}
		// Until another partition's invocation joins this one, stay in
		// flight. The bound only ends a wait that concurrency should have
		// ended: the test then fails below.
		select {
		case <-overlapped:
		case <-time.After(10 * time.Second):
			once.Do(func() { close(overlapped) })
		case <-ctx.Done():
		}
		return nil, nil
	}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(25), esm.WithBatchingWindow(20*time.Millisecond))
	r.await(t, time.Minute, "361 records", func() bool { return fn.count() >= 361 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	seen := fn.seen()
	for p, want := range map[string]int64{"in-0": 121, "in-1": 120, "in-2": 120} {
		if !contiguous(seen[p], 0, want) {
			t.Errorf("%s: offsets %v, want 0..%d once each in order", p, seen[p], want-1)
		}
	}
	for _, ev := range fn.invocations() {
		if ev.Source != kafkalambda.SourceSelfManaged || ev.SourceARN != "" || strings.Join(ev.BootstrapServers, ",") != c.BootstrapServers() {
			t.Fatalf("envelope: %s %q %v", ev.Source, ev.SourceARN, ev.BootstrapServers)
		}
		if len(ev.Partitions) > esm.PartitionsPerInvoker || ev.Len() > 25 {
			t.Fatalf("an event holds at most PartitionsPerInvoker partitions and BatchSize records: %d partitions, %d records", len(ev.Partitions), ev.Len())
		}
		for _, p := range ev.Partitions {
			for _, rec := range p.Records {
				if rec.Timestamp.IsZero() || rec.TimestampType != kafkalambda.TimestampCreateTime {
					t.Fatalf("timestamp: %v %q", rec.Timestamp, rec.TimestampType)
				}
				if p.Key == "in-0" && rec.Offset == 120 {
					if rec.Key != nil || rec.Value == nil || len(rec.Value) != 0 || len(rec.Headers) != 2 ||
						!bytes.Equal(rec.Headers[0].Value, []byte{0xff, 1}) || rec.Headers[1].Value != nil {
						t.Fatalf("null key, empty value, headers: %+v", rec)
					}
				}
			}
		}
	}
	if maxInflight.Load() < 2 {
		t.Errorf("partitions were never invoked concurrently (max in flight %d)", maxInflight.Load())
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 121 || got[1] != 120 || got[2] != 120 {
		t.Fatalf("committed %v", got)
	}
	st := r.m.Stats()
	if st.RecordsPolled != 361 || st.RecordsCommitted != 361 || st.RecordsSucceeded != 361 || st.RecordsRetried != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// By default an event holds several partitions, as AWS's pollers send them:
// a function that reads only the first "<topic>-<partition>" key misses
// records locally as it would on AWS. Each partition's records are in
// order within the event.
func TestSeveralPartitionsPerEventByDefault(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 2))
	produceN(t, c, "in", 0, 3, "")
	produceN(t, c, "in", 1, 3, "")
	fn := &recorder{}
	// A batch is due only when six records wait: both partitions' three.
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(6), esm.WithBatchingWindow(esm.MaxBatchingWindow))
	r.await(t, time.Minute, "6 records", func() bool { return fn.count() >= 6 })
	evs := fn.invocations()
	if len(evs) != 1 || len(evs[0].Partitions) != 2 {
		t.Fatalf("want one event with both partitions, got %d events, the first with %d partitions", len(evs), len(evs[0].Partitions))
	}
	for i, p := range evs[0].Partitions {
		one := &kafkalambda.Event{Partitions: []kafkalambda.Partition{p}}
		if want := fmt.Sprintf("in-%d", i); p.Key != want || !contiguous(offsetsOf(one), 0, 3) {
			t.Errorf("partition %d: key %s, offsets %v", i, p.Key, offsetsOf(one))
		}
	}
}

// An MSK mapping names its source and ARN; with a bounded concurrency an
// event holds several partitions, still one batch per partition in flight.
func TestMSKConcurrencyOne(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("a", 2), kafkalambdatest.WithTopic("b", 1))
	produceN(t, c, "a", 0, 10, "")
	produceN(t, c, "a", 1, 10, "")
	produceN(t, c, "b", 0, 10, "")
	fn := &recorder{}
	const arn = "arn:aws:kafka:us-east-1:123456789012:cluster/local/1"
	r := start(t, c, esm.Config{Topics: []string{"a", "b"}, AllowMultipleTopics: true, EventSourceARN: arn}, &esm.HandlerTarget{Handler: fn},
		esm.WithConcurrency(1), esm.WithBatchingWindow(300*time.Millisecond))
	r.await(t, time.Minute, "30 records", func() bool { return fn.count() >= 30 })
	multi := false
	for _, ev := range fn.invocations() {
		if ev.Source != kafkalambda.SourceMSK || ev.SourceARN != arn {
			t.Fatalf("envelope: %s %q", ev.Source, ev.SourceARN)
		}
		multi = multi || len(ev.Partitions) > 1
	}
	if !multi {
		t.Error("with one invoker, no event held more than one partition")
	}
	for p, offs := range fn.seen() {
		if !contiguous(offs, 0, 10) {
			t.Errorf("%s: %v", p, offs)
		}
	}
}

// Stopping a mapping and starting another on the same group skips nothing;
// only the batch unfinished at the stop is delivered twice, and only when
// the shutdown timeout abandons it.
func TestRestartOnSameGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		killed   bool // the in-flight batch does not finish: shutdown timeout
		wantDups bool
	}{
		{"graceful: in-flight batch finishes", false, false},
		{"killed: in-flight batch abandoned", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
			produceN(t, c, "in", 0, 200, "")
			cfg := esm.Config{Topics: []string{"in"}, Group: "restart"}

			blocked := make(chan struct{})
			var once sync.Once
			var mu sync.Mutex
			// inFlight is the batch in flight when the first mapping is
			// stopped: it finishes on a graceful stop, not when killed.
			var completed, inFlight []int64
			stopping := make(chan struct{}) // closed once the first mapping was asked to stop
			first := &recorder{respond: func(ctx context.Context, ev *kafkalambda.Event, n int) ([]byte, error) {
				offs := offsetsOf(ev)
				if n == 4 {
					mu.Lock()
					inFlight = offs
					mu.Unlock()
					once.Do(func() { close(blocked) })
					if tc.killed {
						<-ctx.Done() // the shutdown timeout cancels it
						return nil, ctx.Err()
					}
					select { // finish only after the stop was asked for
					case <-stopping:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				mu.Lock()
				completed = append(completed, offs...)
				mu.Unlock()
				return nil, nil
			}}
			opts := []esm.Option{esm.WithBatchSize(20), esm.WithBatchingWindow(0)}
			if tc.killed {
				opts = append(opts, esm.WithShutdownTimeout(200*time.Millisecond))
			}
			r1 := start(t, c, cfg, &esm.HandlerTarget{Handler: first, Timeout: time.Hour}, opts...)
			<-blocked
			r1.cancel() // the stop, with the fourth batch in flight
			close(stopping)
			if err := r1.stop(t); err != nil {
				t.Fatal(err)
			}

			second := &recorder{}
			r2 := start(t, c, cfg, &esm.HandlerTarget{Handler: second}, esm.WithBatchSize(20), esm.WithBatchingWindow(0))
			mu.Lock()
			done := len(completed)
			mu.Unlock()
			// Once its commits cover as many records as the first mapping
			// left, the second has invoked the rest, duplicates included
			// (it goes in offset order from the group's commit); stopped
			// there, it can add nothing to what is checked below.
			r2.await(t, time.Minute, "the rest of the records committed", func() bool {
				return r2.m.Stats().RecordsCommitted >= int64(200-done)
			})
			if err := r2.stop(t); err != nil {
				t.Fatal(err)
			}
			again := second.seen()["in-0"]

			mu.Lock()
			defer mu.Unlock()
			all := append(append([]int64{}, completed...), again...)
			seenOnce := map[int64]int{}
			for _, o := range all {
				seenOnce[o]++
			}
			for o := range int64(200) {
				if seenOnce[o] == 0 {
					t.Fatalf("offset %d skipped", o)
				}
			}
			for _, o := range again {
				for _, p := range completed {
					if o == p {
						t.Fatalf("offset %d was completed and committed, yet delivered again", o)
					}
				}
			}
			if len(inFlight) == 0 {
				t.Fatal("no batch was in flight at the stop")
			}
			// The duplicates: what the second mapping got of what the
			// first had invoked its function with.
			var dups []int64
			for _, o := range again {
				for _, p := range inFlight {
					if o == p {
						dups = append(dups, o)
					}
				}
			}
			want := "[]"
			if tc.wantDups {
				want = fmt.Sprint(inFlight) // all of the abandoned batch, once each, first
			}
			if fmt.Sprint(dups) != want || (tc.wantDups && again[0] != inFlight[0]) {
				t.Fatalf("duplicates %v, want %s; second mapping started at %d", dups, want, again[0])
			}
			if len(again) != 200-len(completed) {
				t.Fatalf("second mapping saw %d records, want %d", len(again), 200-len(completed))
			}
		})
	}
}

func offsetsOf(ev *kafkalambda.Event) []int64 {
	var out []int64
	for _, p := range ev.Partitions {
		for _, r := range p.Records {
			out = append(out, r.Offset)
		}
	}
	return out
}

// A failed batch is retried whole until it succeeds; the next batch of the
// partition waits for it.
func TestRetryUntilSuccess(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	produceN(t, c, "in", 0, 10, "")
	fn := &recorder{respond: func(_ context.Context, _ *kafkalambda.Event, n int) ([]byte, error) {
		if n <= 2 {
			return nil, errors.New("transient")
		}
		return nil, nil
	}}
	var res batches
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(5), esm.WithMaxRetryAttempts(2), esm.WithOnBatch(res.add))
	r.await(t, time.Minute, "10 records after retries", func() bool { return r.m.Stats().RecordsCommitted >= 10 })
	got := fn.seen()["in-0"]
	want := []int64{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("invoked %v, want %v", got, want)
	}
	all := res.get()
	if len(all) != 4 || all[0].Attempt != 1 || all[1].Attempt != 2 || all[2].Attempt != 3 ||
		all[0].Outcome != esm.OutcomeFunctionError || all[2].Outcome != esm.OutcomeSuccess || all[0].Retrying != 5 {
		t.Fatalf("results %+v", all)
	}
	var fe *esm.FunctionError
	if !errors.As(all[0].Err, &fe) || fe.Kind != "Unhandled" || fe.Message != "transient" || !errors.Is(all[0].Err, esm.ErrFunction) {
		t.Fatalf("function error: %#v", all[0].Err)
	}
	if st := r.m.Stats(); st.RecordsRetried != 10 || st.FunctionErrors != 2 || st.Invocations != 4 {
		t.Fatalf("stats %+v", st)
	}
}
