package esm_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// awsInvocationRecord is the example AWS's "Capturing discarded batches for
// Amazon MSK and self-managed Apache Kafka event sources" page gives for an
// SQS or SNS destination (an S3 destination's adds "payload").
const awsInvocationRecord = `{
  "requestContext": {
    "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:myfunction",
    "condition": "RetryAttemptsExhausted",
    "approximateInvokeCount": 1
  },
  "responseContext": {
    "statusCode": 200,
    "executedVersion": "$LATEST",
    "functionError": "Unhandled"
  },
  "version": "1.0",
  "timestamp": "2019-11-14T00:38:06.021Z",
  "KafkaBatchInfo": {
    "batchSize": 500,
    "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/751d2973-a626-431c-9d4e-d7975eb44dd7-2",
    "bootstrapServers": "b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
    "payloadSize": 2039086,
    "recordsInfo": {
      "example-topic-0": {
        "firstRecordOffset": "49601189658422359378836298521827638475320189012309704722",
        "lastRecordOffset": "49601189658422359378836298522902373528957594348623495186",
        "firstRecordTimestamp": "2019-11-14T00:38:04.835Z",
        "lastRecordTimestamp": "2019-11-14T00:38:05.580Z"
      }
    }
  }
}`

const mskARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/local/751d2973-a626-431c-9d4e-d7975eb44dd7-2"

// onFailureFiles returns the names of the files in dir and, decoded as
// generic JSON, their contents.
func onFailureFiles(t *testing.T, dir string) ([]string, []map[string]any, [][]byte) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var docs []map[string]any
	var raws [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v: %s", e.Name(), err, b)
		}
		names, docs, raws = append(names, e.Name()), append(docs, doc), append(raws, b)
	}
	return names, docs, raws
}

// adapt returns AWS's example with the given fields replaced (a nil value
// deletes the field); a field's path is its keys joined by NUL.
func adapt(t *testing.T, edits map[string]any) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(awsInvocationRecord), &doc); err != nil {
		t.Fatal(err)
	}
	for path, v := range edits {
		m, keys := doc, strings.Split(path, "\x00")
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		if v == nil {
			delete(m, keys[len(keys)-1])
		} else {
			m[keys[len(keys)-1]] = v
		}
	}
	return doc
}

// checkVolatile checks the fields that differ from run to run (ids and
// clocks) for their form, and copies them into want.
func checkVolatile(t *testing.T, got, want map[string]any) {
	t.Helper()
	rc := got["requestContext"].(map[string]any)
	if id, _ := rc["requestId"].(string); len(id) != 36 {
		t.Errorf("requestId %v, want a UUID", rc["requestId"])
	}
	want["requestContext"].(map[string]any)["requestId"] = rc["requestId"]
	ts, _ := got["timestamp"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	want["timestamp"] = ts
}

// A batch that exhausts its retries is written to the folder as one file,
// in exactly the shape of AWS's documented example, with every partition's
// failed records in recordsInfo and no record the function processed (the
// default RetryListed model retries only the listed ones). The S3 variant
// has the same metadata and the event of the failed records as payload.
func TestRetryAttemptsExhaustedToOnFailureDir(t *testing.T) {
	t.Parallel()
	for _, kind := range []esm.DestinationKind{esm.DestinationSQS, esm.DestinationS3} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 2))
			base := time.Date(2019, 11, 14, 0, 38, 4, 835e6, time.UTC)
			var recs []*kgo.Record
			for p := range int32(2) {
				for i := range 5 {
					recs = append(recs, &kgo.Record{Topic: "in", Partition: p, Key: []byte{'k', byte('0' + i)}, Value: []byte{'v', byte('0' + i)},
						Timestamp: base.Add(time.Duration(10*p+int32(i)) * time.Second)})
				}
			}
			if err := c.ProduceRecords(testCtx(t), recs...); err != nil {
				t.Fatal(err)
			}
			// The first event lists in-0@2 and in-1@3; the retry, which
			// holds those two only, fails as a whole.
			fn := &recorder{respond: func(_ context.Context, ev *kafkalambda.Event, _ int) ([]byte, error) {
				if ev.Len() == 2 {
					return nil, errors.New("still broken")
				}
				return []byte(`{"batchItemFailures":[{"itemIdentifier":{"partition":"in-0","offset":2}},{"itemIdentifier":{"partition":"in-1","offset":3}}]}`), nil
			}}
			dir := filepath.Join(t.TempDir(), "dlq")
			r := start(t, c, esm.Config{Topics: []string{"in"}, EventSourceARN: mskARN}, &esm.HandlerTarget{Handler: fn},
				esm.WithBatchSize(10), esm.WithBatchingWindow(esm.MaxBatchingWindow), esm.WithMaxRetryAttempts(1),
				esm.WithReportBatchItemFailures(true), esm.WithOnFailureDir(dir, kind),
				esm.WithFunctionARN("arn:aws:lambda:eu-west-1:123456789012:function:orders"))
			r.await(t, time.Minute, "10 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 10 })
			if n := len(fn.invocations()); n != 2 {
				t.Fatalf("%d invocations, want the batch and one retry of its two failed records", n)
			}
			names, docs, raws := onFailureFiles(t, dir)
			if !slices.Equal(names, []string{"000001-RetryAttemptsExhausted.json"}) {
				t.Fatalf("on-failure folder holds %v", names)
			}
			got := docs[0]
			want := adapt(t, map[string]any{
				"requestContext\x00functionArn":            "arn:aws:lambda:eu-west-1:123456789012:function:orders",
				"requestContext\x00approximateInvokeCount": 2.0,
				"KafkaBatchInfo\x00batchSize":              2.0,
				"KafkaBatchInfo\x00eventSourceArn":         mskARN,
				"KafkaBatchInfo\x00bootstrapServers":       c.BootstrapServers(),
				"KafkaBatchInfo\x00recordsInfo": map[string]any{
					"in-0": map[string]any{"firstRecordOffset": "2", "lastRecordOffset": "2",
						"firstRecordTimestamp": "2019-11-14T00:38:06.835Z", "lastRecordTimestamp": "2019-11-14T00:38:06.835Z"},
					"in-1": map[string]any{"firstRecordOffset": "3", "lastRecordOffset": "3",
						"firstRecordTimestamp": "2019-11-14T00:38:17.835Z", "lastRecordTimestamp": "2019-11-14T00:38:17.835Z"},
				},
			})
			checkVolatile(t, got, want)
			ir, err := esm.ParseInvocationRecord(raws[0])
			if err != nil {
				t.Fatal(err)
			}
			// payloadSize is the size of the failed records' event.
			var payload []byte
			if kind == esm.DestinationS3 {
				payload = ir.Payload
				var p any
				if err := json.Unmarshal(payload, &p); err != nil {
					t.Fatal(err)
				}
				want["payload"] = p
				ev, err := ir.Event()
				if err != nil {
					t.Fatal(err)
				}
				var offs []string
				for _, p := range ev.Partitions {
					for _, r := range p.Records {
						offs = append(offs, p.Key+"@"+string(r.Value))
					}
				}
				if !slices.Equal(offs, []string{"in-0@v2", "in-1@v3"}) {
					t.Fatalf("payload holds %v, want only the two failed records", offs)
				}
			} else {
				payload = fn.invocations()[1].AppendJSON(nil)
			}
			want["KafkaBatchInfo"].(map[string]any)["payloadSize"] = float64(len(payload))
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(want, "", "  ")
				t.Fatalf("invocation record\n%s\nwant\n%s", g, w)
			}
			if st := r.m.Stats(); st.RecordsOnFailure != 2 || st.RecordsSucceeded != 8 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// A record that alone makes an event over the payload limit is never
// invoked: it goes to the folder with MaximumPayloadSizeExceeded, without a
// responseContext, with the payload in an S3 destination's file.
func TestPayloadTooLargeToOnFailureDir(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("big", 1))
	ts := time.Date(2019, 11, 14, 0, 38, 4, 835e6, time.UTC)
	huge := make([]byte, 2048)
	for i := range huge {
		huge[i] = 'x'
	}
	if err := c.ProduceRecords(testCtx(t), &kgo.Record{Topic: "big", Key: []byte("huge"), Value: huge, Timestamp: ts},
		&kgo.Record{Topic: "big", Value: []byte("small"), Timestamp: ts}); err != nil {
		t.Fatal(err)
	}
	fn := &recorder{}
	dir := t.TempDir()
	// A file from an earlier run is kept, and numbering goes on after it.
	if err := os.WriteFile(filepath.Join(dir, "000007-RetryAttemptsExhausted.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, c, esm.Config{Topics: []string{"big"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithMaxPayloadBytes(1024), esm.WithOnFailureDir(dir, esm.DestinationS3))
	r.await(t, time.Minute, "2 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 2 })
	names, docs, raws := onFailureFiles(t, dir)
	if !slices.Equal(names, []string{"000007-RetryAttemptsExhausted.json", "000008-MaximumPayloadSizeExceeded.json"}) || len(docs[0]) != 0 {
		t.Fatalf("on-failure folder holds %v", names)
	}
	docs, raws = docs[1:], raws[1:]
	ir, err := esm.ParseInvocationRecord(raws[0])
	if err != nil {
		t.Fatal(err)
	}
	var p any
	if err := json.Unmarshal(ir.Payload, &p); err != nil {
		t.Fatal(err)
	}
	want := adapt(t, map[string]any{
		"requestContext\x00functionArn":            esm.DefaultFunctionARN,
		"requestContext\x00condition":              esm.ConditionPayloadTooLarge,
		"requestContext\x00approximateInvokeCount": 0.0,
		"responseContext":                          nil,
		"KafkaBatchInfo\x00batchSize":              1.0,
		"KafkaBatchInfo\x00eventSourceArn":         nil, // a self-managed cluster has none
		"KafkaBatchInfo\x00bootstrapServers":       c.BootstrapServers(),
		"KafkaBatchInfo\x00payloadSize":            float64(len(ir.Payload)),
		"KafkaBatchInfo\x00recordsInfo": map[string]any{"big-0": map[string]any{"firstRecordOffset": "0", "lastRecordOffset": "0",
			"firstRecordTimestamp": "2019-11-14T00:38:04.835Z", "lastRecordTimestamp": "2019-11-14T00:38:04.835Z"}},
		"payload": p,
	})
	want["responseContext"] = nil // never invoked: null, as the field is always there
	checkVolatile(t, docs[0], want)
	if !reflect.DeepEqual(docs[0], want) {
		t.Fatalf("invocation record %s\nwant %v", raws[0], want)
	}
	ev, err := ir.Event()
	if err != nil || ev.Len() != 1 || string(ev.Partitions[0].Records[0].Value) != string(huge) {
		t.Fatalf("payload: %v", err)
	}
	if got := fn.seen()["big-0"]; !slices.Equal(got, []int64{1}) {
		t.Fatalf("invoked %v, want only offset 1", got)
	}
}
