package kafkalambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

const eosGroup = "settle-progress"

// eosHandler returns a handler in exactly-once mode over p whose Process
// sends two outputs per record ("<value>/a", "<value>/b") to "out", and
// fails a record whose value is "poison" after its first send.
func eosHandler(t *testing.T, p *kafkalambdatest.MemProducer, opts ...kafkalambda.Option) *kafkalambda.Handler[string, string] {
	t.Helper()
	out := kafkalambda.NewOutput[string, string]("out", serde.String(), serde.String())
	process := func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
		if err := out.Send(ctx, r.Key, r.Value+"/a"); err != nil {
			return err
		}
		if r.Value == "poison" {
			return errors.New("cannot settle this trade")
		}
		return out.Send(ctx, r.Key, r.Value+"/b")
	}
	opts = append([]kafkalambda.Option{kafkalambda.WithProducer(p), kafkalambda.WithExactlyOnce(eosGroup),
		kafkalambda.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(), process, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// values returns the values of msgs.
func values(msgs []kafkalambda.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Value)
	}
	return out
}

func fiveRecords(poisonAt int) []kafkalambda.RawRecord {
	var recs []kafkalambda.RawRecord
	for i := range int64(5) {
		v := fmt.Sprint("v", i)
		if int(i) == poisonAt {
			v = "poison"
		}
		recs = append(recs, rec(i, fmt.Sprint("k", i), v))
	}
	return recs
}

func allOut(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d/a", prefix, i), fmt.Sprintf("%s%d/b", prefix, i))
	}
	return out
}

func reported(t *testing.T, out []byte) []int64 {
	t.Helper()
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	got := []int64{}
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier.Offset)
	}
	return got
}

// TestExactlyOnceCommitsAndSkipsRedelivery: a successful invocation commits
// its outputs and its progress in one transaction; the same batch
// delivered again sends nothing.
func TestExactlyOnceCommitsAndSkipsRedelivery(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := eosHandler(t, p)
	payload := event(t, map[string][]kafkalambda.RawRecord{"in-0": fiveRecords(-1)})
	for attempt := range 3 {
		if out, err := h.Invoke(context.Background(), payload); err != nil || string(out) != "null" {
			t.Fatalf("attempt %d: Invoke = %s, %v", attempt, out, err)
		}
	}
	if got, want := values(p.Messages("out")), allOut("v", 0, 5); !reflect.DeepEqual(got, want) {
		t.Errorf("outputs %v, want %v once each", got, want)
	}
	if got := p.Committed(kafkalambda.ProgressGroup(eosGroup, "in", 0), "in", 0); got != 5 {
		t.Errorf("progress %d, want 5", got)
	}
	if c, a := p.TxnCounts(); c != 3 || a != 0 || p.OpenTxns() != 0 {
		t.Errorf("%d commits, %d aborts, %d open; want 3, 0, 0", c, a, p.OpenTxns())
	}
}

// TestExactlyOnceLostCommitResponse: a commit that went through but whose
// answer was lost fails the invocation; its retry skips every record.
func TestExactlyOnceLostCommitResponse(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := eosHandler(t, p)
	p.LoseCommitResponses(1)
	payload := event(t, map[string][]kafkalambda.RawRecord{"in-0": fiveRecords(-1), "in-1": fiveRecords(-1)[:2]})
	_, err := h.Invoke(context.Background(), payload)
	if !errors.Is(err, kafkalambda.ErrTransaction) || !errors.Is(err, kafkalambdatest.ErrCommitResponseLost) ||
		kafkalambda.Classify(err) != kafkalambda.ClassEnvironment {
		t.Fatalf("Invoke with a lost commit response: %v; want ErrTransaction, of the environment", err)
	}
	if out, err := h.Invoke(context.Background(), payload); err != nil || string(out) != "null" {
		t.Fatalf("retry: %s, %v", out, err)
	}
	if got := len(p.Messages("out")); got != 14 {
		t.Errorf("%d outputs, want 14 (each once)", got)
	}
	if p.OpenTxns() != 0 {
		t.Errorf("%d transactions left open", p.OpenTxns())
	}
}

// TestExactlyOncePolicies: how each failure policy's outcome maps to a
// commit or an abort, and what read_committed consumers see.
func TestExactlyOncePolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     []kafkalambda.Option
		fail     bool
		items    []int64
		outputs  []string // committed on "out"
		dead     int      // committed on "dlq"
		progress int64
	}{
		{name: "FailBatch", fail: true, progress: -1},
		{name: "ReportItemFailures", opts: []kafkalambda.Option{kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures())},
			items: []int64{2, 3, 4}, outputs: allOut("v", 0, 2), progress: 2},
		{name: "DeadLetter", opts: []kafkalambda.Option{kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq"))},
			outputs: append(allOut("v", 0, 2), allOut("v", 3, 5)...), dead: 1, progress: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := kafkalambdatest.NewMemProducer()
			h := eosHandler(t, p, tc.opts...)
			payload := event(t, map[string][]kafkalambda.RawRecord{"in-0": fiveRecords(2)})
			out, err := h.Invoke(context.Background(), payload)
			switch {
			case tc.fail && !errors.Is(err, kafkalambda.ErrBatchFailed):
				t.Fatalf("Invoke = %s, %v; want a failure", out, err)
			case !tc.fail && err != nil:
				t.Fatalf("Invoke: %v", err)
			case tc.items != nil:
				if got := reported(t, out); !reflect.DeepEqual(got, tc.items) {
					t.Errorf("reported %v, want %v", got, tc.items)
				}
			}
			if got := values(p.Messages("out")); !slices.Equal(got, tc.outputs) {
				t.Errorf("committed outputs %v, want %v", got, tc.outputs)
			}
			if slices.Contains(values(p.Messages("")), "poison/a") {
				t.Error("the failed record's own send was committed")
			}
			if got := len(p.Messages("dlq")); got != tc.dead {
				t.Errorf("%d dead-lettered, want %d", got, tc.dead)
			}
			if got := p.Committed(kafkalambda.ProgressGroup(eosGroup, "in", 0), "in", 0); got != tc.progress {
				t.Errorf("progress %d, want %d", got, tc.progress)
			}
			if p.OpenTxns() != 0 {
				t.Errorf("%d transactions left open", p.OpenTxns())
			}
			// The whole batch again (a mapping that retries it all): what
			// was committed is skipped, not sent twice.
			_, _ = h.Invoke(context.Background(), payload)
			if got := values(p.Messages("out")); !slices.Equal(got, tc.outputs) || len(p.Messages("dlq")) != tc.dead {
				t.Errorf("after the batch again: outputs %v, %d dead-lettered; want %v, %d",
					got, len(p.Messages("dlq")), tc.outputs, tc.dead)
			}
		})
	}
}

// TestExactlyOnceFailuresAbort: a failure of any transaction step, or of a
// delivery, fails the invocation, aborts the transaction, and leaves no
// output visible; the retry then sends everything once.
func TestExactlyOnceFailuresAbort(t *testing.T) {
	t.Parallel()
	boom := kafkalambda.Transient(errors.New("coordinator not available"))
	for _, tc := range []struct {
		name    string
		fault   func(p *kafkalambdatest.MemProducer)
		wantTxn bool // the error wraps ErrTransaction (a failed delivery says ErrUndelivered)
		aborted int  // messages written then aborted
	}{
		{"begin", func(p *kafkalambdatest.MemProducer) { p.FailTxn(failOp(kafkalambdatest.TxnBegin, boom)) }, true, 0},
		{"progress", func(p *kafkalambdatest.MemProducer) { p.FailTxn(failOp(kafkalambdatest.TxnProgress, boom)) }, true, 0},
		{"commit", func(p *kafkalambdatest.MemProducer) { p.FailTxn(failOp(kafkalambdatest.TxnCommit, boom)) }, true, 10},
		{"commit and abort", func(p *kafkalambdatest.MemProducer) {
			p.FailTxn(func(op kafkalambdatest.TxnOp) error {
				if op == kafkalambdatest.TxnCommit || op == kafkalambdatest.TxnAbort {
					return boom
				}
				return nil
			})
		}, true, 10},
		{"delivery", func(p *kafkalambdatest.MemProducer) {
			p.Fail(func(m *kafkalambda.Message) error {
				if string(m.Value) == "v3/b" {
					return kafkalambda.Transient(errors.New("request timed out"))
				}
				return nil
			})
		}, false, 9},
		{"refused mid-record", func(p *kafkalambdatest.MemProducer) {
			p.Refuse(func(m *kafkalambda.Message) error {
				if string(m.Value) == "v1/b" {
					return kafkalambda.Permanent(errors.New("message too large"))
				}
				return nil
			})
		}, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := kafkalambdatest.NewMemProducer()
			// Even under ReportItemFailures: a transaction cannot commit
			// part of what it wrote.
			h := eosHandler(t, p, kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
			tc.fault(p)
			payload := event(t, map[string][]kafkalambda.RawRecord{"in-0": fiveRecords(-1)})
			out, err := h.Invoke(context.Background(), payload)
			if !errors.Is(err, kafkalambda.ErrBatchFailed) || errors.Is(err, kafkalambda.ErrTransaction) != tc.wantTxn {
				t.Fatalf("Invoke = %s, %v; want ErrBatchFailed (ErrTransaction: %v)", out, err, tc.wantTxn)
			}
			if got := p.Messages(""); len(got) != 0 {
				t.Errorf("visible after the failure: %v", values(got))
			}
			if got := len(p.Aborted("")); got != tc.aborted {
				t.Errorf("%d messages aborted, want %d", got, tc.aborted)
			}
			if p.OpenTxns() != 0 || p.Committed(kafkalambda.ProgressGroup(eosGroup, "in", 0), "in", 0) != -1 {
				t.Errorf("%d transactions open, progress %d; want none", p.OpenTxns(), p.Committed(kafkalambda.ProgressGroup(eosGroup, "in", 0), "in", 0))
			}
			p.FailTxn(nil)
			p.Fail(nil)
			p.Refuse(nil)
			if out, err := h.Invoke(context.Background(), payload); err != nil || string(out) != `{"batchItemFailures":[]}` {
				t.Fatalf("retry: %s, %v", out, err)
			}
			if got, want := values(p.Messages("out")), allOut("v", 0, 5); !reflect.DeepEqual(got, want) {
				t.Errorf("after the retry %v, want %v", got, want)
			}
		})
	}
}

func failOp(op kafkalambdatest.TxnOp, err error) func(kafkalambdatest.TxnOp) error {
	return func(o kafkalambdatest.TxnOp) error {
		if o == op {
			return err
		}
		return nil
	}
}

// TestExactlyOnceFlushDeadline: sends still unacknowledged at the flush
// deadline are purged and the transaction aborted.
func TestExactlyOnceFlushDeadline(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := eosHandler(t, p, kafkalambda.WithFlushTimeout(10e6))
	p.Hold()
	_, err := h.Invoke(context.Background(), event(t, map[string][]kafkalambda.RawRecord{"in-0": fiveRecords(-1)}))
	if !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke with held deliveries: %v; want ErrUndelivered", err)
	}
	if p.Held() != 0 || p.OpenTxns() != 0 || len(p.Messages("")) != 0 {
		t.Errorf("%d held, %d open, %d visible; want none", p.Held(), p.OpenTxns(), len(p.Messages("")))
	}
}

// TestExactlyOnceConcurrentInvocations: invocations running at once each
// have a transaction of their own.
func TestExactlyOnceConcurrentInvocations(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := eosHandler(t, p, kafkalambda.WithConcurrency(2))
	p.Hold() // every transaction is open at once until Release
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		payload := event(t, map[string][]kafkalambda.RawRecord{fmt.Sprint("in-", i): fiveRecords(-1)})
		wg.Go(func() {
			_, err := h.Invoke(context.Background(), payload)
			errs <- err
		})
	}
	if err := p.WaitHeld(t.Context(), 8*10); err != nil {
		t.Fatal(err)
	}
	if p.OpenTxns() != 8 {
		t.Errorf("%d transactions open, want 8", p.OpenTxns())
	}
	p.Release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := len(p.Messages("out")); got != 80 || p.OpenTxns() != 0 {
		t.Errorf("%d outputs, %d open; want 80, 0", got, p.OpenTxns())
	}
}

func TestExactlyOnceNeedsATransactor(t *testing.T) {
	t.Parallel()
	process := func(context.Context, *kafkalambda.Record[string, string]) error { return nil }
	for name, opts := range map[string][]kafkalambda.Option{
		"no group":      {kafkalambda.WithProducer(kafkalambdatest.NewMemProducer()), kafkalambda.WithExactlyOnce("")},
		"no producer":   {kafkalambda.WithExactlyOnce(eosGroup)},
		"no Transactor": {kafkalambda.WithProducer(plainProducer{}), kafkalambda.WithExactlyOnce(eosGroup)},
	} {
		if _, err := kafkalambda.NewHandler(serde.String(), serde.String(), process, opts...); !errors.Is(err, kafkalambda.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

// plainProducer is a Producer that is not a Transactor.
type plainProducer struct{}

func (plainProducer) Produce(context.Context, *kafkalambda.Message, kafkalambda.Delivery) error {
	return nil
}
func (plainProducer) Purge() {}
func (plainProducer) Close() {}

// TestExactlyOnceCheck: the init check begins no transaction (one belongs
// to an input partition, which INIT does not know); the brokers refusing
// the transactional id fail the first invocation, as the operator's fault.
func TestExactlyOnceCheck(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := eosHandler(t, p)
	if err := h.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c, a := p.TxnCounts(); c != 0 || a != 0 || p.OpenTxns() != 0 {
		t.Errorf("%d commits, %d aborts, %d open after the check; want none", c, a, p.OpenTxns())
	}
	refused := kafkalambda.Misconfigured(errors.New("TRANSACTIONAL_ID_AUTHORIZATION_FAILED"))
	p.FailTxn(failOp(kafkalambdatest.TxnBegin, refused))
	_, err := h.Invoke(t.Context(), event(t, map[string][]kafkalambda.RawRecord{"in-0": fiveRecords(-1)}))
	if !errors.Is(err, kafkalambda.ErrTransaction) || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Errorf("invocation with the transactional id refused: %v; want ErrTransaction, the operator's fault", err)
	}
}

// TestExactlyOnceWaitsForAnEarlierAttempt: an attempt still running when
// the batch is retried (an invocation past its timeout in another
// execution environment; a commit given up on at the deadline that may
// still go through) holds back the retry's progress read until it ends: it
// commits, and the retry skips what it did — or it aborts, and the retry
// does it. Each output is committed once.
func TestExactlyOnceWaitsForAnEarlierAttempt(t *testing.T) {
	t.Parallel()
	for _, earlierFails := range []bool{false, true} {
		t.Run(fmt.Sprint("earlier fails=", earlierFails), func(t *testing.T) {
			t.Parallel()
			p := kafkalambdatest.NewMemProducer()
			out := kafkalambda.NewOutput[string, string]("out", serde.String(), serde.String())
			entered, resume := make(chan struct{}), make(chan struct{})
			var stalled atomic.Bool
			process := func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
				if r.Offset == 4 && stalled.CompareAndSwap(false, true) { // only the first attempt stalls
					close(entered)
					<-resume
					if earlierFails {
						return kafkalambda.Transient(errors.New("the earlier attempt fails late"))
					}
				}
				return out.Send(ctx, r.Key, r.Value)
			}
			newHandler := func() *kafkalambda.Handler[string, string] {
				h, err := kafkalambda.NewHandler(serde.String(), serde.String(), process, kafkalambda.WithProducer(p),
					kafkalambda.WithExactlyOnce(eosGroup), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			payload := event(t, map[string][]kafkalambda.RawRecord{"in-0": fiveRecords(-1)})
			earlier, retry := make(chan error, 1), make(chan error, 1)
			go func() { _, err := newHandler().Invoke(context.Background(), payload); earlier <- err }()
			<-entered
			go func() { _, err := newHandler().Invoke(context.Background(), payload); retry <- err }()
			guard, cancel := context.WithTimeout(t.Context(), time.Minute) // a guard, not a wait
			defer cancel()
			if err := p.AwaitProgressWaiting(guard); err != nil {
				close(resume)
				t.Fatalf("the retry's progress read did not wait for the earlier attempt: %v", err)
			}
			close(resume)
			if err := <-earlier; (err != nil) != earlierFails {
				t.Errorf("the earlier attempt: %v", err)
			}
			if err := <-retry; err != nil {
				t.Errorf("the retry: %v", err)
			}
			want := []string{"v0", "v1", "v2", "v3", "v4"}
			if got := values(p.Messages("out")); !reflect.DeepEqual(got, want) {
				t.Errorf("committed outputs %v, want %v once each", got, want)
			}
			group := kafkalambda.ProgressGroup(eosGroup, "in", 0)
			if got := p.Committed(group, "in", 0); got != 5 {
				t.Errorf("progress %d, want 5", got)
			}
			if p.OpenTxns() != 0 {
				t.Errorf("%d transactions left open", p.OpenTxns())
			}
		})
	}
}
