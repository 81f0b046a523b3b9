package kafkalambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// emfUnits are the units the Embedded Metric Format accepts.
var emfUnits = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
	"Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None"}

// checkEMF checks one log line against the rules of the Embedded Metric
// Format specification and returns its metrics by name, with the
// dimension sets of each directive.
func checkEMF(t *testing.T, line []byte) (root map[string]any, dims [][][]string) {
	t.Helper()
	if len(line) > 256<<10 {
		t.Errorf("EMF line of %d bytes: over CloudWatch Logs' 256 KB event limit", len(line))
	}
	if err := json.Unmarshal(line, &root); err != nil {
		t.Fatalf("EMF line is not a JSON object: %v\n%s", err, line)
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	ts, ok := aws["Timestamp"].(float64)
	if !ok || ts != float64(int64(ts)) || ts <= 0 {
		t.Errorf("_aws.Timestamp %v: want epoch milliseconds", aws["Timestamp"])
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics %v: want a non-empty array", aws["CloudWatchMetrics"])
	}
	for _, d := range directives {
		dir := d.(map[string]any)
		if ns, _ := dir["Namespace"].(string); ns == "" || len(ns) > 255 {
			t.Errorf("Namespace %q: want 1 to 255 characters", dir["Namespace"])
		}
		var sets [][]string
		for _, s := range dir["Dimensions"].([]any) {
			set := s.([]any)
			if len(set) > 30 {
				t.Errorf("a dimension set of %d: at most 30", len(set))
			}
			var names []string
			for _, k := range set {
				name := k.(string)
				v, ok := root[name].(string)
				if !ok || v == "" || len(v) > 1024 {
					t.Errorf("dimension %q: root member %v, want a string of 1 to 1024 characters", name, root[name])
				}
				names = append(names, name)
			}
			sets = append(sets, names)
		}
		dims = append(dims, sets)
		metrics := dir["Metrics"].([]any)
		if len(metrics) > 100 {
			t.Errorf("%d metrics in a directive: at most 100", len(metrics))
		}
		seen := map[string]bool{}
		for _, m := range metrics {
			def := m.(map[string]any)
			name, _ := def["Name"].(string)
			if name == "" || len(name) > 255 || seen[name] {
				t.Errorf("metric name %q: want 1 to 255 characters, unique", name)
			}
			seen[name] = true
			if u, ok := def["Unit"]; ok && !slices.Contains(emfUnits, u.(string)) {
				t.Errorf("metric %s: unit %v is not an EMF unit", name, u)
			}
			if _, ok := root[name].(float64); !ok {
				t.Errorf("metric %s: root member %v, want a number", name, root[name])
			}
		}
	}
	return root, dims
}

func TestEMFPerPartitionFigures(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := kafkalambdatest.NewMemProducer()
	p.Fail(func(m *kafkalambda.Message) error {
		if string(m.Value) == "99" {
			return errors.New("broker said no")
		}
		return nil
	})
	tp, _ := newTracing(t)
	h := memHandler(t, p, kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")), kafkalambda.WithTracing(tp),
		kafkalambda.WithMetrics(&kafkalambda.EMF{Namespace: "Trades", Service: "settle", Writer: &out}))
	old := time.Now().Add(-time.Hour)
	r0, r1, r2 := rec(10, "a", `{"id":1}`), rec(11, "b", "{poison"), rec(12, "c", `{"id":3}`)
	r0.Timestamp = old
	payload := event(t, map[string][]kafkalambda.RawRecord{
		"t-0": {r0, r1, r2},
		"t-1": {rec(4, "d", `{"id":99}`)},
	})
	if _, err := h.Invoke(context.Background(), payload); !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("err %v, want the undelivered output's", err)
	}
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per partition:\n%s", len(lines), out.Bytes())
	}
	want := []map[string]any{
		{"Service": "settle", "Topic": "t", "Partition": "0", "RecordsIn": 3.0, "RecordsProcessed": 2.0,
			"RecordsFailedRecord": 1.0, "RecordsFailedEnvironment": 0.0, "RecordsFailedConfiguration": 0.0,
			"RecordsDeadLettered": 1.0, "OutputsSent": 3.0, "OutputsAcknowledged": 3.0,
			"BatchSize": 4.0, "ColdStart": 1.0},
		{"Service": "settle", "Topic": "t", "Partition": "1", "RecordsIn": 1.0, "RecordsProcessed": 1.0,
			"RecordsFailedRecord": 0.0, "RecordsDeadLettered": 0.0, "OutputsSent": 1.0, "OutputsAcknowledged": 0.0},
	}
	var traceID string
	for i, line := range lines {
		root, dims := checkEMF(t, line)
		for k, v := range want[i] {
			if root[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, root[k], v)
			}
		}
		if root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Namespace"] != "Trades" {
			t.Errorf("line %d: namespace", i)
		}
		if fmt.Sprint(dims[0]) != "[[Service Topic Partition] [Service Topic]]" {
			t.Errorf("line %d: partition dimensions %v", i, dims[0])
		}
		// The invocation's own figures are on the first line only, with
		// the Service dimension, so that they count once.
		if _, ok := root["BatchSize"]; ok != (i == 0) {
			t.Errorf("line %d has BatchSize: %v", i, ok)
		}
		if i == 0 && (len(dims) != 2 || fmt.Sprint(dims[1]) != "[[Service]]") {
			t.Errorf("invocation dimensions %v", dims)
		}
		id, _ := root["trace_id"].(string)
		if len(id) != 32 || (traceID != "" && id != traceID) {
			t.Errorf("line %d: trace_id %q", i, id)
		}
		traceID = id
	}
	first, _ := checkEMF(t, lines[0])
	if age := first["RecordAgeMax"].(float64); age < float64(time.Hour/time.Millisecond) {
		t.Errorf("RecordAgeMax %vms, want at least the hour-old record's age", age)
	}
	if fw := first["FlushWait"].(float64); fw < 0 || fw > first["Duration"].(float64) {
		t.Errorf("FlushWait %v, Duration %v", fw, first["Duration"])
	}

	// The next invocation is warm; a malformed event still writes its line.
	out.Reset()
	if _, err := h.Invoke(context.Background(), []byte("{")); err == nil {
		t.Fatal("a malformed event succeeded")
	}
	root, _ := checkEMF(t, bytes.TrimSuffix(out.Bytes(), []byte("\n")))
	if root["ColdStart"] != 0.0 || root["BatchSize"] != 0.0 || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("malformed event's metrics: %s", out.Bytes())
	}
}

func TestEMFDefaults(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	h := memHandler(t, kafkalambdatest.NewMemProducer(), kafkalambda.WithMetrics(&kafkalambda.EMF{Writer: &out}))
	if _, err := h.Invoke(context.Background(), orders(t, `{"id":1}`)); err != nil {
		t.Fatal(err)
	}
	root, _ := checkEMF(t, bytes.TrimSuffix(out.Bytes(), []byte("\n")))
	ns := root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Namespace"]
	if ns != "KafkaLambda" || root["Service"] != "kafkalambda" {
		t.Errorf("namespace %v service %v, want the defaults", ns, root["Service"])
	}
	if _, ok := root["trace_id"]; ok {
		t.Error("trace_id without tracing")
	}
}

// Partitions processed at once each count their own records and sends.
func TestEMFConcurrentPartitions(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	tp, exp := newTracing(t)
	h := memHandler(t, kafkalambdatest.NewMemProducer(), kafkalambda.WithConcurrency(3), kafkalambda.WithTracing(tp),
		kafkalambda.WithMetrics(&kafkalambda.EMF{Writer: &out}))
	parts := map[string][]kafkalambda.RawRecord{}
	for p := range 3 {
		for i := range 20 + p {
			key := fmt.Sprintf("t-%d", p)
			parts[key] = append(parts[key], rec(int64(i), "k", `{"id":1}`))
		}
	}
	if _, err := h.Invoke(context.Background(), event(t, parts)); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, line := range lines {
		root, _ := checkEMF(t, line)
		n := float64(20 + i)
		if root["Partition"] != fmt.Sprint(i) || root["RecordsIn"] != n || root["RecordsProcessed"] != n ||
			root["OutputsSent"] != n || root["OutputsAcknowledged"] != n {
			t.Errorf("line %d: %s", i, line)
		}
	}
	if n := len(spansNamed(exp.GetSpans(), "process t")); n != 63 {
		t.Errorf("%d process spans, want 63", n)
	}
}
