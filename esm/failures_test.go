package esm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// poisoned fails every event that holds a record whose value is "poison".
func poisoned(_ context.Context, ev *kafkalambda.Event, _ int) ([]byte, error) {
	for _, p := range ev.Partitions {
		for _, r := range p.Records {
			if string(r.Value) == "poison" {
				return nil, errors.New("poison pill")
			}
		}
	}
	return nil, nil
}

func produceWithPoison(t *testing.T, c *kafkalambdatest.Cluster, n int, poison int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := fmt.Sprint("v", i)
		if i == poison {
			v = "poison"
		}
		recs[i] = &kgo.Record{Topic: "in", Key: []byte(fmt.Sprint("k", i)), Value: []byte(v)}
	}
	if err := c.ProduceRecords(testCtx(t), recs...); err != nil {
		t.Fatal(err)
	}
}

// Without bisect, a batch that exhausts its retries goes to the on-failure
// topic whole, one message per record, with AWS's failure metadata; the
// partition goes on after it.
func TestRetriesExhaustedToOnFailureTopic(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1), kafkalambdatest.WithTopic("dlq", 1))
	produceWithPoison(t, c, 8, 2)
	fn := &recorder{respond: poisoned}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(4), esm.WithMaxRetryAttempts(1), esm.WithOnFailureTopic("dlq"), esm.WithFunctionARN("arn:aws:lambda:eu-west-1:1:function:f"))
	r.await(t, time.Minute, "8 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 8 })
	if got := fmt.Sprint(fn.seen()["in-0"]); got != "[0 1 2 3 0 1 2 3 4 5 6 7]" {
		t.Fatalf("invoked %s", got)
	}
	msgs, frs := readFailures(t, c, "dlq")
	if len(frs) != 4 {
		t.Fatalf("%d on-failure records, want 4", len(frs))
	}
	for i, fr := range frs {
		if string(msgs[i].Key) != fmt.Sprint("k", i) {
			t.Errorf("on-failure key %q, want the record's key", msgs[i].Key)
		}
		if fr.RequestContext.Condition != esm.ConditionRetriesExhausted || fr.RequestContext.ApproximateInvokeCount != 2 ||
			fr.RequestContext.FunctionARN != "arn:aws:lambda:eu-west-1:1:function:f" || fr.RequestContext.RequestID == "" {
			t.Errorf("requestContext %+v", fr.RequestContext)
		}
		if fr.ResponseContext == nil || fr.ResponseContext.FunctionError != "Unhandled" || fr.ResponseContext.StatusCode != 200 {
			t.Errorf("responseContext %+v", fr.ResponseContext)
		}
		bi := fr.KafkaBatchInfo
		if fr.Version != "1.0" || bi.BatchSize != 1 || bi.RecordInfo.Offset != fmt.Sprint(i) || bi.BootstrapServers != c.BootstrapServers() ||
			bi.PayloadSize != len(fr.Payload) || !strings.HasSuffix(fr.Timestamp, "Z") || bi.EventSourceARN != "" {
			t.Errorf("metadata %+v", fr)
		}
		ev, err := fr.Event()
		if err != nil || ev.Len() != 1 || ev.Partitions[0].Key != "in-0" || ev.Partitions[0].Records[0].Offset != int64(i) {
			t.Fatalf("payload: %v %+v", err, ev)
		}
	}
	// The raw JSON uses AWS's field names.
	for _, name := range []string{`"requestContext"`, `"responseContext"`, `"KafkaBatchInfo"`, `"recordInfo"`, `"approximateInvokeCount":2`, `"payload":{"eventSource"`} {
		if !strings.Contains(string(msgs[0].Value), name) {
			t.Errorf("on-failure JSON lacks %s: %s", name, msgs[0].Value)
		}
	}
	if st := r.m.Stats(); st.RecordsOnFailure != 4 || st.RecordsSucceeded != 4 || st.RecordsCommitted != 8 {
		t.Fatalf("stats %+v", st)
	}
}

// With bisect, a failing batch is split until the bad record is alone; every
// good record is processed exactly once and only the bad one is given up.
// Splitting does not count as a retry.
func TestBisect(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1), kafkalambdatest.WithTopic("dlq", 1))
	produceWithPoison(t, c, 8, 5)
	ok := &recorder{}
	fn := &recorder{respond: func(ctx context.Context, ev *kafkalambda.Event, n int) ([]byte, error) {
		if _, err := poisoned(ctx, ev, n); err != nil {
			return nil, err
		}
		return ok.Invoke(ctx, mustJSON(ev))
	}}
	var res batches
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(8), esm.WithBatchingWindow(300*time.Millisecond), esm.WithBisectBatchOnFunctionError(true),
		esm.WithMaxRetryAttempts(0), esm.WithOnFailureTopic("dlq"), esm.WithOnBatch(res.add))
	r.await(t, time.Minute, "8 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 8 })
	if got := fmt.Sprint(ok.seen()["in-0"]); got != "[0 1 2 3 4 6 7]" {
		t.Fatalf("processed %s, want every good record once, in order", got)
	}
	var shapes []string
	for _, b := range res.get() {
		shapes = append(shapes, fmt.Sprintf("%d..%d:%s", b.Partitions[0].First, b.Partitions[0].Last, b.Outcome))
	}
	want := "[0..7:function-error 0..3:success 4..7:function-error 4..5:function-error 4..4:success 5..5:function-error 6..7:success]"
	if fmt.Sprint(shapes) != want {
		t.Fatalf("invocations %v\nwant        %s", shapes, want)
	}
	_, frs := readFailures(t, c, "dlq")
	if len(frs) != 1 || frs[0].KafkaBatchInfo.RecordInfo.Offset != "5" || frs[0].RequestContext.ApproximateInvokeCount != 4 {
		t.Fatalf("on-failure %+v", frs)
	}
	if st := r.m.Stats(); st.Bisections != 3 || st.RecordsOnFailure != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func mustJSON(ev *kafkalambda.Event) []byte {
	b, err := ev.MarshalJSON()
	if err != nil {
		panic(err)
	}
	return b
}

// ReportBatchItemFailures: under the default model exactly the reported
// records are retried; partitions not reported are done. A response that is malformed or names a
// record outside the batch fails the whole batch.
func TestItemFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		resp func(ev *kafkalambda.Event) string // the first invocation's answer
		want string                             // offsets of partition 0 invoked, in order
		out  esm.Outcome
	}{
		{"the reported records are retried", func(*kafkalambda.Event) string {
			return `{"batchItemFailures":[{"itemIdentifier":{"partition":"in-0","offset":6}},{"itemIdentifier":{"partition":"in-0","offset":3}}]}`
		}, "[0 1 2 3 4 5 6 7 8 9 3 6]", esm.OutcomePartial},
		{"empty list is success", func(*kafkalambda.Event) string { return `{"batchItemFailures":[]}` }, "[0 1 2 3 4 5 6 7 8 9]", esm.OutcomeSuccess},
		{"null list is success", func(*kafkalambda.Event) string { return `{"batchItemFailures":null}` }, "[0 1 2 3 4 5 6 7 8 9]", esm.OutcomeSuccess},
		{"empty object is success", func(*kafkalambda.Event) string { return `{}` }, "[0 1 2 3 4 5 6 7 8 9]", esm.OutcomeSuccess},
		{"offset not in batch fails all", func(*kafkalambda.Event) string {
			return `{"batchItemFailures":[{"itemIdentifier":{"partition":"in-0","offset":99}}]}`
		}, "[0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9]", esm.OutcomeBadResponse},
		{"unknown partition fails all", func(*kafkalambda.Event) string {
			return `{"batchItemFailures":[{"itemIdentifier":{"partition":"other-0","offset":1}}]}`
		}, "[0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9]", esm.OutcomeBadResponse},
		{"string offset fails all", func(*kafkalambda.Event) string {
			return `{"batchItemFailures":[{"itemIdentifier":{"partition":"in-0","offset":"3"}}]}`
		}, "[0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9]", esm.OutcomeBadResponse},
		{"not JSON fails all", func(*kafkalambda.Event) string { return `ok` }, "[0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9]", esm.OutcomeBadResponse},
		{"no itemIdentifier fails all", func(*kafkalambda.Event) string { return `{"batchItemFailures":[{"partition":"in-0","offset":3}]}` },
			"[0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9]", esm.OutcomeBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
			produceN(t, c, "in", 0, 10, "")
			fn := &recorder{respond: func(_ context.Context, ev *kafkalambda.Event, n int) ([]byte, error) {
				if n == 1 {
					return []byte(tc.resp(ev)), nil
				}
				return nil, nil
			}}
			var res batches
			r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
				esm.WithBatchSize(10), esm.WithBatchingWindow(300*time.Millisecond), esm.WithReportBatchItemFailures(true), esm.WithOnBatch(res.add))
			r.await(t, time.Minute, "10 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 10 })
			if got := fmt.Sprint(fn.seen()["in-0"]); got != tc.want {
				t.Fatalf("invoked %s, want %s", got, tc.want)
			}
			first := res.get()[0]
			if first.Outcome != tc.out || (tc.out == esm.OutcomeBadResponse) != errors.Is(first.Err, esm.ErrBadResponse) {
				t.Fatalf("outcome %s (%v), want %s", first.Outcome, first.Err, tc.out)
			}
			if tc.out == esm.OutcomePartial && (first.Succeeded != 8 || first.Retrying != 2) {
				t.Fatalf("partial: %+v", first)
			}
		})
	}
}

// Item failures in a multi-partition event: only the reported partition is
// retried, under the default model only its reported record, under
// ResumeFromLowest from its reported offset on.
//
// The first event holds both partitions whatever the fetch timing: a batch
// is due before the (long) window only when BatchSize records are
// buffered, and BatchSize is all ten records.
func TestItemFailuresAcrossPartitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts  []esm.Option
		model string
		in1   string // offsets of in-1 invoked, in order
	}{
		{nil, "default", "[0 1 2 3 4 2]"},
		{[]esm.Option{esm.WithItemFailureModel(esm.ResumeFromLowest)}, string(esm.ResumeFromLowest), "[0 1 2 3 4 2 3 4]"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			t.Parallel()
			itemFailuresAcrossPartitions(t, tc.in1, tc.opts...)
		})
	}
}

func itemFailuresAcrossPartitions(t *testing.T, in1 string, opts ...esm.Option) {
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 2))
	produceN(t, c, "in", 0, 5, "")
	produceN(t, c, "in", 1, 5, "")
	var reported atomic.Bool
	fn := &recorder{respond: func(_ context.Context, ev *kafkalambda.Event, _ int) ([]byte, error) {
		if len(ev.Partitions) == 2 && reported.CompareAndSwap(false, true) {
			return []byte(`{"batchItemFailures":[{"itemIdentifier":{"partition":"in-1","offset":2}}]}`), nil
		}
		return nil, nil
	}}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		append([]esm.Option{esm.WithConcurrency(1), esm.WithBatchSize(10), esm.WithBatchingWindow(esm.MaxBatchingWindow),
			esm.WithReportBatchItemFailures(true)}, opts...)...)
	r.await(t, time.Minute, "10 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 10 })
	evs := fn.invocations()
	if len(evs) != 2 || len(evs[0].Partitions) != 2 || !reported.Load() {
		t.Fatalf("%d events, the first with %d partitions; want two, the first with both", len(evs), len(evs[0].Partitions))
	}
	seen := fn.seen()
	if fmt.Sprint(seen["in-0"]) != "[0 1 2 3 4]" || fmt.Sprint(seen["in-1"]) != in1 {
		t.Fatalf("invoked %v", seen)
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 5 || got[1] != 5 {
		t.Fatalf("committed %v", got)
	}
}

// Records older than MaximumRecordAge are not invoked; they go to the
// on-failure topic with no response context.
func TestMaxRecordAge(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1), kafkalambdatest.WithTopic("dlq", 1))
	old := time.Now().Add(-2 * time.Hour)
	if err := c.ProduceRecords(testCtx(t),
		&kgo.Record{Topic: "in", Key: []byte("old0"), Value: []byte("x"), Timestamp: old},
		&kgo.Record{Topic: "in", Key: []byte("old1"), Value: []byte("x"), Timestamp: old},
		&kgo.Record{Topic: "in", Key: []byte("new"), Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	fn := &recorder{}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithMaxRecordAge(time.Minute), esm.WithOnFailureTopic("dlq"))
	r.await(t, time.Minute, "3 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 3 })
	if got := fmt.Sprint(fn.seen()["in-0"]); got != "[2]" {
		t.Fatalf("invoked %s, want only the fresh record", got)
	}
	msgs, frs := readFailures(t, c, "dlq")
	if len(frs) != 2 || string(msgs[0].Key) != "old0" {
		t.Fatalf("on-failure: %d records", len(frs))
	}
	for _, fr := range frs {
		if fr.RequestContext.Condition != esm.ConditionRecordAgeExceeded || fr.ResponseContext != nil || fr.RequestContext.ApproximateInvokeCount != 0 {
			t.Fatalf("on-failure %+v", fr)
		}
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 3 {
		t.Fatalf("committed %v", got)
	}
}

// Without an on-failure topic, exhausted records are discarded (counted) and
// committed, as AWS skips them.
func TestDiscardWithoutOnFailureTopic(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	produceWithPoison(t, c, 3, 0)
	fn := &recorder{respond: poisoned}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(1), esm.WithMaxRetryAttempts(0))
	r.await(t, time.Minute, "3 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 3 })
	if st := r.m.Stats(); st.RecordsDiscarded != 1 || st.RecordsSucceeded != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// A target that cannot be reached is retried without using up
// MaximumRetryAttempts.
func TestInvokeErrorsAreNotAttempts(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	produceN(t, c, "in", 0, 3, "")
	fn := &recorder{}
	target := &flaky{failures: 3, next: &esm.HandlerTarget{Handler: fn}}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, target, esm.WithMaxRetryAttempts(0))
	r.await(t, time.Minute, "3 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 3 })
	if st := r.m.Stats(); st.InvokeErrors != 3 || st.RecordsSucceeded != 3 || st.RecordsDiscarded != 0 {
		t.Fatalf("stats %+v", st)
	}
}

type flaky struct {
	failures int
	calls    int
	next     esm.Target
}

func (f *flaky) Invoke(ctx context.Context, payload []byte) (esm.Result, error) {
	f.calls++ // one batch in flight: no concurrent calls
	if f.calls <= f.failures {
		return esm.Result{}, errors.New("connection refused")
	}
	return f.next.Invoke(ctx, payload)
}

// No event is over the 6 MB invoke payload: batches are cut to fit, and a
// record too large for an event on its own goes to the on-failure topic.
func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1), kafkalambdatest.WithTopic("big", 1), kafkalambdatest.WithTopic("dlq", 1))
	value := strings.Repeat("x", 900_000) // 1.2 MB in base64
	var recs []*kgo.Record
	for i := range 12 {
		recs = append(recs, &kgo.Record{Topic: "in", Value: []byte(value), Key: []byte(fmt.Sprint(i))})
	}
	for _, r := range recs {
		if err := c.ProduceRecords(testCtx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	fn := &recorder{}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn}, esm.WithBatchingWindow(time.Second))
	r.await(t, time.Minute, "12 large records", func() bool { return fn.count() >= 12 })
	if got := fmt.Sprint(fn.seen()["in-0"]); got != "[0 1 2 3 4 5 6 7 8 9 10 11]" {
		t.Fatalf("invoked %s", got)
	}
	fn.mu.Lock()
	sizes := slices.Clone(fn.payloads)
	fn.mu.Unlock()
	if len(sizes) < 3 {
		t.Fatalf("12 records of 1.2 MB came in %d events", len(sizes))
	}
	for _, n := range sizes {
		if n > esm.MaxPayloadBytes {
			t.Fatalf("event of %d bytes, over %d", n, esm.MaxPayloadBytes)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	// One record alone over a (lowered) limit.
	if err := c.ProduceRecords(testCtx(t), &kgo.Record{Topic: "big", Key: []byte("huge"), Value: []byte(value)},
		&kgo.Record{Topic: "big", Value: []byte("small")}); err != nil {
		t.Fatal(err)
	}
	fn2 := &recorder{}
	r2 := start(t, c, esm.Config{Topics: []string{"big"}}, &esm.HandlerTarget{Handler: fn2},
		esm.WithMaxPayloadBytes(1<<20), esm.WithOnFailureTopic("dlq"))
	r2.await(t, time.Minute, "2 records handled", func() bool { return r2.m.Stats().RecordsCommitted >= 2 })
	if got := fmt.Sprint(fn2.seen()["big-0"]); got != "[1]" {
		t.Fatalf("invoked %s", got)
	}
	msgs, frs := readFailures(t, c, "dlq")
	if len(frs) != 1 || string(msgs[0].Key) != "huge" || frs[0].RequestContext.Condition != esm.ConditionPayloadTooLarge || frs[0].ResponseContext != nil {
		t.Fatalf("on-failure %+v", frs)
	}
}

// The response of the function is not looked at without item failures on.
func TestResponseIgnoredWithoutItemFailures(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	produceN(t, c, "in", 0, 3, "")
	fn := &recorder{respond: func(context.Context, *kafkalambda.Event, int) ([]byte, error) {
		return json.Marshal(map[string]any{"batchItemFailures": []any{map[string]any{"itemIdentifier": map[string]any{"partition": "in-0", "offset": 0}}}})
	}}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn})
	r.await(t, time.Minute, "3 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 3 })
	if st := r.m.Stats(); st.Invocations != 1 || st.PartialFailures != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A write the on-failure topic refuses is retried after a backoff, with
// the payload dropped when the broker says the message is too large.
func TestOnFailureWriteRetried(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1), kafkalambdatest.WithTopic("dlq", 1))
	produceN(t, c, "in", 0, 2, "")
	var refused atomic.Int32
	// The mapping's client produces to the on-failure topic only: refuse
	// its first write.
	c.Kafka().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if !refused.CompareAndSwap(0, 1) {
			return nil, nil, false
		}
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.MessageTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	fn := &recorder{respond: func(context.Context, *kafkalambda.Event, int) ([]byte, error) { return nil, errors.New("fails") }}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithMaxRetryAttempts(0), esm.WithOnFailureTopic("dlq"))
	r.await(t, time.Minute, "2 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 2 })
	if st := r.m.Stats(); st.RecordsOnFailure != 2 || refused.Load() != 1 {
		t.Fatalf("stats %+v after %d refused writes, want 2 records on failure after 1", st, refused.Load())
	}
	msgs, frs := readFailures(t, c, "dlq")
	if len(frs) != 2 || string(msgs[0].Key) != "k0" || string(msgs[1].Key) != "k1" {
		t.Fatalf("on-failure topic holds %d records", len(frs))
	}
	for _, fr := range frs {
		if string(fr.Payload) != "null" || fr.RequestContext.Condition != esm.ConditionRetriesExhausted {
			t.Fatalf("on-failure record written again: payload %s, condition %s; want a null payload, RetriesExhausted", fr.Payload, fr.RequestContext.Condition)
		}
	}
}

// A batch that exhausts its retries while the mapping is stopping still
// gets its write to the on-failure topic (it ran to its end); only the
// retries of that write stop with the mapping.
func TestOnFailureWriteAtTheStop(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1), kafkalambdatest.WithTopic("dlq", 1))
	produceN(t, c, "in", 0, 1, "")
	invoked, stopping := make(chan struct{}), make(chan struct{})
	fn := &recorder{respond: func(ctx context.Context, _ *kafkalambda.Event, _ int) ([]byte, error) {
		close(invoked)
		select { // fail only once the stop was asked for
		case <-stopping:
		case <-ctx.Done():
		}
		return nil, errors.New("fails")
	}}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithMaxRetryAttempts(0), esm.WithOnFailureTopic("dlq"))
	<-invoked
	r.cancel()
	close(stopping)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if st := r.m.Stats(); st.RecordsOnFailure != 1 || st.RecordsCommitted != 1 {
		t.Fatalf("stats %+v, want the record on the on-failure topic and committed", st)
	}
	if _, frs := readFailures(t, c, "dlq"); len(frs) != 1 {
		t.Fatalf("on-failure topic holds %d records, want 1", len(frs))
	}
}

// A commit the broker refuses is retried, with the next batch or, when the
// mapping is idle, on its own: the offsets end up committed.
func TestCommitRetried(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	produceN(t, c, "in", 0, 5, "")
	refused := 0
	c.Kafka().ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		r := req.(*kmsg.OffsetCommitRequest)
		if refused >= 2 { // runs on the broker's loop: no lock needed
			return nil, nil, false
		}
		refused++
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code // not retried by the client
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	fn := &recorder{}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn})
	r.await(t, time.Minute, "5 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 5 })
	if st := r.m.Stats(); st.CommitErrors < 1 || fn.count() != 5 {
		t.Fatalf("stats %+v, %d invoked", st, fn.count())
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 5 {
		t.Fatalf("committed %v; stats %+v", got, r.m.Stats())
	}
}
