package esm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// itemFailures is a batch item failures response naming offsets of in-0.
func itemFailures(offsets ...int64) []byte {
	type id struct {
		Partition string `json:"partition"`
		Offset    int64  `json:"offset"`
	}
	type item struct {
		ID id `json:"itemIdentifier"`
	}
	doc := struct {
		Items []item `json:"batchItemFailures"`
	}{Items: []item{}}
	for _, o := range offsets {
		doc.Items = append(doc.Items, item{id{"in-0", o}})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// The two item failure models, with hand-written responses. Ten records,
// two batches of five (0..4, 5..9). The function answers the first
// invocation by listing some offsets of 0..4 and succeeds afterwards. It
// stands for a function that processes records in order and stops at the
// first one it lists: on the first invocation it processed only the records
// before the lowest listed offset.
//
// Under ResumeFromLowest the partition resumes at the lowest listed offset:
// nothing is lost whatever the function lists. Under RetryListed only the
// listed records come back: a function that lists only its first failure
// loses the records after it (they are committed without ever being
// processed), and one that lists the failure and every later record of the
// partition gets them all back, in order. Under both the retry comes before
// the next batch, and while it is in flight the group's committed offset
// is the lowest listed one.
func TestItemFailureModels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		model  esm.ItemFailureModel
		listed []int64 // the first invocation's answer
		// invoked is every offset invoked, in order; batches is each
		// invocation as "first..last/records:outcome succeeded retrying
		// committed" (committed: records whose offsets the broker
		// acknowledged after it).
		invoked, batches string
		// lost are the records never processed: those the function left in
		// the first invocation and that were not delivered again.
		lost string
	}{
		{"resume/first failure only", esm.ResumeFromLowest, []int64{2},
			"[0 1 2 3 4 2 3 4 5 6 7 8 9]",
			"[0..4/5:partial s2 r3 c2 2..4/3:success s3 r0 c3 5..9/5:success s5 r0 c5]", "[]"},
		{"resume/two failures", esm.ResumeFromLowest, []int64{3, 1},
			"[0 1 2 3 4 1 2 3 4 5 6 7 8 9]",
			"[0..4/5:partial s1 r4 c1 1..4/4:success s4 r0 c4 5..9/5:success s5 r0 c5]", "[]"},
		{"listed/first failure only loses the records after it", esm.RetryListed, []int64{2},
			"[0 1 2 3 4 2 5 6 7 8 9]",
			"[0..4/5:partial s4 r1 c2 2..2/1:success s1 r0 c3 5..9/5:success s5 r0 c5]", "[3 4]"},
		{"listed/two failures", esm.RetryListed, []int64{3, 1},
			"[0 1 2 3 4 1 3 5 6 7 8 9]",
			"[0..4/5:partial s3 r2 c1 1..3/2:success s2 r0 c4 5..9/5:success s5 r0 c5]", "[2 4]"},
		{"listed/failure to the end of the partition", esm.RetryListed, []int64{2, 3, 4},
			"[0 1 2 3 4 2 3 4 5 6 7 8 9]",
			"[0..4/5:partial s2 r3 c2 2..4/3:success s3 r0 c3 5..9/5:success s5 r0 c5]", "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
			produceN(t, c, "in", 0, 10, "")
			retrying := make(chan struct{})
			release := make(chan struct{})
			var releaseOnce sync.Once
			unblock := func() { releaseOnce.Do(func() { close(release) }) }
			fn := &recorder{respond: func(ctx context.Context, _ *kafkalambda.Event, n int) ([]byte, error) {
				switch n {
				case 1:
					return itemFailures(tc.listed...), nil
				case 2: // the retry: hold it while the test reads the commit
					close(retrying)
					select {
					case <-release:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return nil, nil
			}}
			var res batches
			// A batch is due only when BatchSize records wait: the first
			// is 0..4 and the second 5..9 whatever the fetch timing.
			r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
				esm.WithBatchSize(5), esm.WithBatchingWindow(esm.MaxBatchingWindow),
				esm.WithReportBatchItemFailures(true), esm.WithItemFailureModel(tc.model), esm.WithOnBatch(res.add))
			t.Cleanup(unblock) // before start's cleanup stops the mapping

			select {
			case <-retrying:
			case <-testCtx(t).Done():
				t.Fatal("no retry invocation")
			}
			lowest := slices.Min(tc.listed)
			if got := committed(t, c, t.Name(), "in"); got[0] != lowest {
				t.Errorf("committed %v while the retry is in flight, want %d: nothing at or after the lowest listed offset", got, lowest)
			}
			unblock()
			r.await(t, time.Minute, "10 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 10 })

			seen := fn.seen()["in-0"]
			if got := fmt.Sprint(seen); got != tc.invoked {
				t.Errorf("invoked %s, want %s", got, tc.invoked)
			}
			var shapes []string
			for _, b := range res.get() {
				pr := b.Partitions[0]
				shapes = append(shapes, fmt.Sprintf("%d..%d/%d:%s s%d r%d c%d", pr.First, pr.Last, pr.Records, b.Outcome, b.Succeeded, b.Retrying, b.Committed))
			}
			if got := fmt.Sprint(shapes); got != tc.batches {
				t.Errorf("invocations %s\nwant        %s", got, tc.batches)
			}
			processed := map[int64]bool{}
			for i, o := range seen {
				if i >= 5 || o < lowest { // later invocations succeed; the first stopped at the lowest listed
					processed[o] = true
				}
			}
			lost := []int64{}
			for o := range int64(10) {
				if !processed[o] {
					lost = append(lost, o)
				}
			}
			if got := fmt.Sprint(lost); got != tc.lost {
				t.Errorf("never processed %s, want %s", got, tc.lost)
			}
			if got := committed(t, c, t.Name(), "in"); got[0] != 10 {
				t.Errorf("committed %v, want 10", got)
			}
			if st := r.m.Stats(); st.PartialFailures != 1 || st.RecordsCommitted != 10 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// Under RetryListed, retries and the on-failure destination apply to the
// listed records as after a function error: a listed record that is listed
// again on every retry runs out of retries and is given up on its own, the
// records around it are not invoked again, and the partition's offsets are
// committed past it.
func TestRetryListedExhausted(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1), kafkalambdatest.WithTopic("dlq", 1))
	produceN(t, c, "in", 0, 5, "")
	fn := &recorder{respond: func(_ context.Context, ev *kafkalambda.Event, _ int) ([]byte, error) {
		for _, r := range ev.Partitions[0].Records {
			if r.Offset == 2 {
				return itemFailures(2), nil
			}
		}
		return nil, nil
	}}
	var res batches
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(5), esm.WithBatchingWindow(esm.MaxBatchingWindow), esm.WithMaxRetryAttempts(2),
		esm.WithOnFailureTopic("dlq"), esm.WithReportBatchItemFailures(true), esm.WithItemFailureModel(esm.RetryListed),
		esm.WithOnBatch(res.add))
	r.await(t, time.Minute, "5 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 5 })
	if got := fmt.Sprint(fn.seen()["in-0"]); got != "[0 1 2 3 4 2 2]" {
		t.Fatalf("invoked %s, want the batch, then offset 2 alone twice", got)
	}
	msgs, frs := readFailures(t, c, "dlq")
	if len(frs) != 1 || string(msgs[0].Key) != "k2" || frs[0].RequestContext.ApproximateInvokeCount != 3 ||
		frs[0].RequestContext.Condition != esm.ConditionRetriesExhausted {
		t.Fatalf("on-failure %+v", frs)
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 5 {
		t.Fatalf("committed %v, want 5", got)
	}
	if st := r.m.Stats(); st.RecordsSucceeded != 4 || st.RecordsOnFailure != 1 || st.RecordsRetried != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// kafkalambda's own handler, with ReportItemFailures, through the mapping
// under each item failure model: Process fails some records a few times
// each, then succeeds. Every record must be processed successfully, and in
// each partition the successful processings must come in offset order
// without skipping a record (a record processed again, at-least-once, is
// allowed).
//
// Under RetryListed this holds only if the handler lists, per failed
// partition, the failed record and every record of the partition it left
// unprocessed: a handler that lists only the first failed offset makes the
// mapping count the records after it as done.
func TestSDKItemFailuresUnderBothModels(t *testing.T) {
	t.Parallel()
	for _, model := range []esm.ItemFailureModel{esm.ResumeFromLowest, esm.RetryListed} {
		t.Run(string(model), func(t *testing.T) {
			t.Parallel()
			const perPartition = 12
			c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 2))
			produceN(t, c, "in", 0, perPartition, "a")
			produceN(t, c, "in", 1, perPartition, "b")
			type at struct {
				partition int32
				offset    int64
			}
			failures := map[at]int{{0, 3}: 2, {0, 9}: 1, {1, 5}: 1} // how many times each fails before it succeeds
			var mu sync.Mutex
			succeeded := map[int32][]int64{}
			process := func(_ context.Context, r *kafkalambda.Record[string, string]) error {
				mu.Lock()
				defer mu.Unlock()
				k := at{r.Partition, r.Offset}
				if failures[k] > 0 {
					failures[k]--
					return fmt.Errorf("%s-%d@%d fails %d more times", r.Topic, r.Partition, r.Offset, failures[k])
				}
				succeeded[r.Partition] = append(succeeded[r.Partition], r.Offset)
				return nil
			}
			h, err := kafkalambda.NewHandler(serde.String(), serde.String(), process,
				kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
			if err != nil {
				t.Fatal(err)
			}
			var res batches
			r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: h},
				esm.WithConcurrency(1), esm.WithBatchSize(8), esm.WithBatchingWindow(20*time.Millisecond),
				esm.WithReportBatchItemFailures(true), esm.WithItemFailureModel(model), esm.WithOnBatch(res.add))
			r.await(t, time.Minute, "every record committed", func() bool { return r.m.Stats().RecordsCommitted >= 2*perPartition })

			mu.Lock()
			defer mu.Unlock()
			for partition := range int32(2) {
				next := int64(0) // every offset before it has succeeded
				for _, o := range succeeded[partition] {
					if o > next {
						t.Errorf("in-%d: %d processed before %d: records skipped (processed in order: %v)",
							partition, o, next, succeeded[partition])
						break
					}
					if o == next {
						next++
					}
				}
				if next != perPartition {
					t.Errorf("in-%d: records %d.. never processed successfully (processed in order: %v)",
						partition, next, succeeded[partition])
				}
			}
			if st := r.m.Stats(); st.PartialFailures < 3 {
				t.Errorf("%d partial failures, want one per failed processing at least; stats %+v", st.PartialFailures, st)
			}
		})
	}
}
