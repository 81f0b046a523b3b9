package kafkalambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// netErr is a network error as a dependency's client returns it.
type netErr struct{}

func (netErr) Error() string   { return "dial tcp 127.0.0.1:1: connect: connection refused" }
func (netErr) Timeout() bool   { return false }
func (netErr) Temporary() bool { return true }

var _ net.Error = netErr{}

// classed is an error of another package that says its class, as
// serde.Error and secrets.Error do.
type classed string

func (c classed) Error() string        { return "classed " + string(c) }
func (c classed) FailureClass() string { return string(c) }

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want kafkalambda.FailureClass
	}{
		{"nil", nil, ""},
		{"a Process error that says nothing", errors.New("bad record"), kafkalambda.ClassRecord},
		{"a panic", &kafkalambda.PanicError{Value: "boom"}, kafkalambda.ClassRecord},
		{"Transient", kafkalambda.Transient(errors.New("downstream 503")), kafkalambda.ClassEnvironment},
		{"Misconfigured", kafkalambda.Misconfigured(errors.New("no such table")), kafkalambda.ClassConfiguration},
		{"a transaction that did not commit", fmt.Errorf("%w: commit: %w", kafkalambda.ErrTransaction, errors.New("call did not return by its deadline")), kafkalambda.ClassEnvironment},
		{"a transaction refused for a reason that says its class", fmt.Errorf("%w: commit: %w", kafkalambda.ErrTransaction, kafkalambda.Misconfigured(errors.New("not authorized for the transactional id"))), kafkalambda.ClassConfiguration},
		{"the outermost mark wins", kafkalambda.Transient(classed("record")), kafkalambda.ClassEnvironment},
		{"a mark deep in the chain", fmt.Errorf("settle: %w", kafkalambda.Misconfigured(netErr{})), kafkalambda.ClassConfiguration},
		{"another package's class", fmt.Errorf("x: %w", classed("configuration")), kafkalambda.ClassConfiguration},
		{"an unknown class string is ignored", classed("whatever"), kafkalambda.ClassRecord},
		{"a deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), kafkalambda.ClassEnvironment},
		{"a network error", fmt.Errorf("call pricing: %w", netErr{}), kafkalambda.ClassEnvironment},
		{"serde.ErrRegistry bare", fmt.Errorf("settle: %w", serde.ErrRegistry), kafkalambda.ClassEnvironment},
		{"serde.ErrInvalidOption bare", serde.ErrInvalidOption, kafkalambda.ClassConfiguration},
		{"serde.ErrMalformed bare", fmt.Errorf("decode: %w", serde.ErrMalformed), kafkalambda.ClassRecord},
		{"ErrProducer", fmt.Errorf("send: %w", kafkalambda.ErrProducer), kafkalambda.ClassEnvironment},
		{"ErrNoInvocation", kafkalambda.ErrNoInvocation, kafkalambda.ClassConfiguration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kafkalambda.Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
	if !errors.Is(kafkalambda.Transient(netErr{}), kafkalambda.ErrTransient) ||
		!errors.Is(kafkalambda.Misconfigured(netErr{}), kafkalambda.ErrMisconfigured) {
		t.Error("the marks must match their sentinels")
	}
	if kafkalambda.Transient(nil) != nil || kafkalambda.Misconfigured(nil) != nil {
		t.Error("marking nil must give nil")
	}
}

// failOn is a Process func that fails the records whose value names a
// failure class, with an error of that class.
func failOn(ctx context.Context, r *kafkalambda.Record[string, string]) error {
	switch r.Value {
	case "poison":
		return errors.New("cannot settle this trade")
	case "env":
		return kafkalambda.Transient(errors.New("pricing service unavailable"))
	case "conf":
		return kafkalambda.Misconfigured(errors.New("no pricing table"))
	}
	return nil
}

// TestPolicyByClass runs every policy against a failure of each class: only
// a record's own failure is reported or dead-lettered; one that is not
// fails the invocation unless WithEnvironmentItemFailures reports it.
func TestPolicyByClass(t *testing.T) {
	t.Parallel()
	var dead []int64
	var mu sync.Mutex
	deadLetter := kafkalambda.DeadLetterFunc(func(ctx context.Context, f *kafkalambda.Failure) error {
		if f.Class != kafkalambda.ClassRecord || f.Err.Offset != f.Record.Offset {
			return fmt.Errorf("dead-letter func got class %q for %d", f.Class, f.Record.Offset)
		}
		mu.Lock()
		dead = append(dead, f.Record.Offset)
		mu.Unlock()
		return nil
	})
	type want struct {
		items []int64 // offsets of t-0 reported; nil with fail
		fail  bool
		dead  []int64
	}
	for _, tc := range []struct {
		name   string
		policy kafkalambda.FailurePolicy
		env    bool
		value  string // the value of record 2 of 0..4
		want   want
	}{
		{"FailBatch/record", kafkalambda.FailBatch(), false, "poison", want{fail: true}},
		{"FailBatch/environment", kafkalambda.FailBatch(), false, "env", want{fail: true}},
		{"ReportItemFailures/record", kafkalambda.ReportItemFailures(), false, "poison", want{items: []int64{2, 3, 4}}},
		{"ReportItemFailures/environment", kafkalambda.ReportItemFailures(), false, "env", want{fail: true}},
		{"ReportItemFailures/configuration", kafkalambda.ReportItemFailures(), false, "conf", want{fail: true}},
		{"ReportItemFailures/environment reported", kafkalambda.ReportItemFailures(), true, "env", want{items: []int64{2, 3, 4}}},
		{"DeadLetterFunc/record", deadLetter, false, "poison", want{items: []int64{}, dead: []int64{2}}},
		{"DeadLetterFunc/environment", deadLetter, false, "env", want{fail: true}},
		{"DeadLetterFunc/configuration reported", deadLetter, true, "conf", want{items: []int64{2, 3, 4}}},
		{"DeadLetterFunc/record with environment reported", deadLetter, true, "poison", want{items: []int64{}, dead: []int64{2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			dead = nil
			mu.Unlock()
			opts := []kafkalambda.Option{kafkalambda.WithFailurePolicy(tc.policy),
				kafkalambda.WithLogger(slog.New(slog.DiscardHandler))}
			if tc.env {
				opts = append(opts, kafkalambda.WithEnvironmentItemFailures())
			}
			h, err := kafkalambda.NewHandler(serde.String(), serde.String(), failOn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			recs := []kafkalambda.RawRecord{rec(0, "a", "ok"), rec(1, "b", "ok"), rec(2, "c", tc.value),
				rec(3, "d", "ok"), rec(4, "e", "ok")}
			out, err := h.Invoke(context.Background(), event(t, map[string][]kafkalambda.RawRecord{"t-0": recs}))
			if tc.want.fail {
				if !errors.Is(err, kafkalambda.ErrBatchFailed) {
					t.Fatalf("Invoke = %s, %v; want the invocation to fail", out, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			var got []int64
			if string(out) != "null" {
				var resp kafkalambda.ItemFailures
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatalf("response %s: %v", out, err)
				}
				got = []int64{}
				for _, f := range resp.BatchItemFailures {
					got = append(got, f.ItemIdentifier.Offset)
				}
			}
			if tc.want.items != nil && len(tc.want.items) == 0 && got == nil {
				got = []int64{} // DeadLetter without item failures answers null
			}
			if !reflect.DeepEqual(got, tc.want.items) {
				t.Errorf("reported %v, want %v (response %s)", got, tc.want.items, out)
			}
			mu.Lock()
			defer mu.Unlock()
			if !reflect.DeepEqual(dead, tc.want.dead) {
				t.Errorf("dead-lettered %v, want %v", dead, tc.want.dead)
			}
		})
	}
}

func TestEnvironmentItemFailuresNeedsAReport(t *testing.T) {
	t.Parallel()
	_, err := kafkalambda.NewHandler(serde.String(), serde.String(), failOn, kafkalambda.WithEnvironmentItemFailures())
	if !errors.Is(err, kafkalambda.ErrInvalidOption) {
		t.Fatalf("WithEnvironmentItemFailures with FailBatch: %v, want ErrInvalidOption", err)
	}
}

// failingSerializer fails as a registry serializer fails for an output
// whose schema id is 77.
type failingSerializer struct{}

func (failingSerializer) Serialize(_ context.Context, tg serde.Target, v string) ([]byte, error) {
	return nil, &serde.Error{Op: serde.OpSerialize, Format: "AVRO", Topic: tg.Topic, SchemaID: 77, Err: serde.ErrEncode}
}

// TestSendFailureStage: a Send failure is stage "send", and the output's
// schema id is not shown as the input's.
func TestSendFailureStage(t *testing.T) {
	t.Parallel()
	out := kafkalambda.NewOutput[string, string]("settlements", serde.String(), failingSerializer{})
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			return out.Send(ctx, r.Key, r.Value)
		}, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Invoke(context.Background(), event(t, map[string][]kafkalambda.RawRecord{"t-0": {rec(5, "k", "v")}}))
	re, ok := errors.AsType[*kafkalambda.RecordError](err)
	if !ok {
		t.Fatalf("Invoke = %v, want a *RecordError", err)
	}
	if re.Stage != kafkalambda.StageSend || re.SchemaID != "" || re.Offset != 5 {
		t.Errorf("stage %q, schema id %q, offset %d; want send, no input schema id, 5", re.Stage, re.SchemaID, re.Offset)
	}
	if !strings.Contains(err.Error(), `serialize value of topic "settlements" (AVRO, schema id 77)`) {
		t.Errorf("error %q must name the output's topic and schema", err)
	}
}

// TestDefaultLogging: with no WithLogger, failures are logged in Lambda's
// JSON format at the level AWS_LAMBDA_LOG_LEVEL sets, one line per failed
// record up to a bound, then a summary, coordinates in and record contents
// out, and figures that agree with the response.
func TestDefaultLogging(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	env := map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}
	log := kafkalambda.LambdaLogger(&buf, func(k string) string { return env[k] })
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			if strings.HasPrefix(r.Value, "secret-") {
				return fmt.Errorf("rejected trade %d", r.Offset)
			}
			return nil
		}, kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()), kafkalambda.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string][]kafkalambda.RawRecord{}
	for p := range 12 { // 12 partitions, each failing at its first record
		key := fmt.Sprintf("t-%d", p)
		parts[key] = []kafkalambda.RawRecord{rec(0, "k", "secret-value"), rec(1, "k", "ok")}
		for i := range parts[key] {
			parts[key][i].Partition = int32(p)
		}
	}
	out, err := h.Invoke(context.Background(), event(t, parts))
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for l := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		lines = append(lines, m)
	}
	if strings.Contains(buf.String(), "secret-value") {
		t.Error("a log line carries a record's value")
	}
	if len(lines) != 11 {
		t.Fatalf("%d lines, want 10 record lines and one summary:\n%s", len(lines), buf.String())
	}
	first, last := lines[0], lines[10]
	for _, k := range []string{"timestamp", "level", "message", "topic", "partition", "offset", "stage", "class", "action"} {
		if _, ok := first[k]; !ok {
			t.Errorf("record line has no %q: %v", k, first)
		}
	}
	if first["level"] != "WARN" || first["class"] != "record" || first["action"] != "reported" {
		t.Errorf("record line %v", first)
	}
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if last["failed_partitions"] != 12.0 || last["item_failures"] != float64(len(resp.BatchItemFailures)) ||
		last["failures_not_logged"] != 2.0 {
		t.Errorf("summary %v does not agree with the response (%d items in 12 partitions, 2 lines not logged)",
			last, len(resp.BatchItemFailures))
	}
	if _, ok := last["duration_ms"].(float64); !ok {
		t.Errorf("summary has no duration_ms: %v", last)
	}
}

func TestLambdaLoggerLevelsAndText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, level string
		debug, info   bool
	}{
		{"", "", false, true},
		{"Text", "DEBUG", true, true},
		{"JSON", "TRACE", true, true},
		{"JSON", "ERROR", false, false},
		{"json", "fatal", false, false},
	} {
		var buf bytes.Buffer
		env := map[string]string{"AWS_LAMBDA_LOG_FORMAT": tc.format, "AWS_LAMBDA_LOG_LEVEL": tc.level}
		l := kafkalambda.LambdaLogger(&buf, func(k string) string { return env[k] })
		ctx := context.Background()
		if l.Enabled(ctx, slog.LevelDebug) != tc.debug || l.Enabled(ctx, slog.LevelInfo) != tc.info {
			t.Errorf("%q %q: debug %v info %v", tc.format, tc.level, l.Enabled(ctx, slog.LevelDebug), l.Enabled(ctx, slog.LevelInfo))
		}
		l.Error("x")
		isJSON := strings.HasPrefix(buf.String(), "{")
		if isJSON != strings.EqualFold(tc.format, "JSON") {
			t.Errorf("format %q wrote %q", tc.format, buf.String())
		}
	}
}
