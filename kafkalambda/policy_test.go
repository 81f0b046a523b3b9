package kafkalambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

type memOrder struct {
	ID int `json:"id"`
}

// memHandler decodes JSON orders and sends each to "out" through p.
func memHandler(t *testing.T, p kafkalambda.Producer, opts ...kafkalambda.Option) *kafkalambda.Handler[string, memOrder] {
	t.Helper()
	out := kafkalambda.NewOutput("out", serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[memOrder](),
		func(ctx context.Context, r *kafkalambda.Record[string, memOrder]) error {
			if r.Value.ID < 0 {
				return kafkalambda.Transient(errors.New("pricing service unavailable"))
			}
			return out.Send(ctx, r.Key, strconv.Itoa(r.Value.ID))
		}, append([]kafkalambda.Option{kafkalambda.WithProducer(p),
			kafkalambda.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// orders is t-0 with offsets 10.. holding values; "" is a record that does
// not decode.
func orders(t *testing.T, values ...string) []byte {
	t.Helper()
	var recs []kafkalambda.RawRecord
	for i, v := range values {
		if v == "" {
			v = "{not json"
		}
		recs = append(recs, rec(int64(10+i), "k"+strconv.Itoa(i), v))
	}
	return event(t, map[string][]kafkalambda.RawRecord{"t-0": recs})
}

func offsets(t *testing.T, out []byte) []int64 {
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

func TestMemDeadLetterIsolatesPoison(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := memHandler(t, p, kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")))
	out, err := h.Invoke(context.Background(), orders(t, `{"id":1}`, "", `{"id":3}`))
	if err != nil || string(out) != "null" {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	if got := p.Messages("out"); len(got) != 2 || string(got[1].Value) != "3" {
		t.Errorf("out = %v, want the two good orders", got)
	}
	dead := p.Messages("dlq")
	if len(dead) != 1 || string(dead[0].Value) != "{not json" || string(dead[0].Key) != "k1" {
		t.Fatalf("dlq = %v, want the poison record as it came", dead)
	}
	hdr := map[string]string{}
	for _, hd := range dead[0].Headers {
		hdr[hd.Key] = string(hd.Value)
	}
	if hdr[kafkalambda.HeaderErrorStage] != string(kafkalambda.StageValue) || hdr[kafkalambda.HeaderSourceOffset] != "11" ||
		hdr[kafkalambda.HeaderSourceTopic] != "t" || hdr[kafkalambda.HeaderError] == "" {
		t.Errorf("dead-letter headers %v", hdr)
	}
}

func TestMemDeadLetterNeverTakesAGoodRecord(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	h := memHandler(t, p, kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")))
	_, err := h.Invoke(context.Background(), orders(t, `{"id":1}`, `{"id":-1}`))
	if !errors.Is(err, kafkalambda.ErrTransient) || kafkalambda.Classify(err) != kafkalambda.ClassEnvironment {
		t.Fatalf("Invoke = %v, want the environment's failure to fail the invocation", err)
	}
	if got := p.Messages("dlq"); len(got) != 0 {
		t.Errorf("dead-lettered %d records, want none", len(got))
	}
}

// TestMemUndelivered: a send the brokers refuse fails the invocation under
// every policy, or, with WithEnvironmentItemFailures, the record that made
// it and the rest of its partition.
func TestMemUndelivered(t *testing.T) {
	t.Parallel()
	refused := kafkalambda.Transient(errors.New("NOT_ENOUGH_REPLICAS"))
	for _, tc := range []struct {
		name  string
		opts  []kafkalambda.Option
		items []int64 // nil: the invocation fails
	}{
		{"FailBatch", nil, nil},
		{"ReportItemFailures", []kafkalambda.Option{kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures())}, nil},
		{"DeadLetter", []kafkalambda.Option{kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq"))}, nil},
		{"ReportItemFailures, environment reported", []kafkalambda.Option{
			kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()), kafkalambda.WithEnvironmentItemFailures()},
			[]int64{11, 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := kafkalambdatest.NewMemProducer()
			p.Fail(func(m *kafkalambda.Message) error {
				if string(m.Value) == "2" {
					return refused
				}
				return nil
			})
			out, err := memHandler(t, p, tc.opts...).Invoke(context.Background(), orders(t, `{"id":1}`, `{"id":2}`, `{"id":3}`))
			if tc.items == nil {
				if !errors.Is(err, kafkalambda.ErrUndelivered) || !errors.Is(err, kafkalambda.ErrBatchFailed) {
					t.Fatalf("Invoke = %s, %v; want the batch failed, undelivered", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := offsets(t, out); !reflect.DeepEqual(got, tc.items) {
				t.Errorf("reported %v, want %v", got, tc.items)
			}
		})
	}
}

// TestMemFlushDeadlinePurges: what is unacknowledged at the deadline is
// purged, and the invocation answers before its deadline.
//
// It runs in a synctest bubble, on a fake clock: the flush waits until
// exactly the deadline minus the margin, whatever the machine's load.
func TestMemFlushDeadlinePurges(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := kafkalambdatest.NewMemProducer()
		p.Hold()
		h := memHandler(t, p, kafkalambda.WithDeadlineMargin(20*time.Millisecond))
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := h.Invoke(ctx, orders(t, `{"id":1}`, `{"id":2}`))
		if !errors.Is(err, kafkalambda.ErrUndelivered) || !errors.Is(err, kafkalambdatest.ErrPurged) {
			t.Fatalf("Invoke = %v, want undelivered: purged", err)
		}
		if took := time.Since(start); took != 180*time.Millisecond {
			t.Errorf("Invoke answered after %v; want at the deadline minus the margin, 180ms", took)
		}
		if p.Held() != 0 || len(p.Messages("")) != 0 {
			t.Errorf("held %d, delivered %d after the purge; want none", p.Held(), len(p.Messages("")))
		}
	})
}

// TestMemRefusedRecordIsDeadLettered: a message the producer can never
// accept is the record's fault; DeadLetter sets the record aside.
func TestMemRefusedRecordIsDeadLettered(t *testing.T) {
	t.Parallel()
	p := kafkalambdatest.NewMemProducer()
	p.Refuse(func(m *kafkalambda.Message) error {
		if m.Topic == "out" && string(m.Value) == "2" {
			return kafkalambda.Permanent(errors.New("message too large"))
		}
		return nil
	})
	h := memHandler(t, p, kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")))
	if _, err := h.Invoke(context.Background(), orders(t, `{"id":1}`, `{"id":2}`, `{"id":3}`)); err != nil {
		t.Fatal(err)
	}
	dead := p.Messages("dlq")
	if len(dead) != 1 || len(p.Messages("out")) != 2 {
		t.Fatalf("dlq %d, out %d; want 1 and 2", len(dead), len(p.Messages("out")))
	}
	for _, hd := range dead[0].Headers {
		if hd.Key == kafkalambda.HeaderErrorStage && string(hd.Value) != string(kafkalambda.StageSend) {
			t.Errorf("stage %q, want send", hd.Value)
		}
	}
}
