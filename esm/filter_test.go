package esm_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// FilterCriteria with AWS's two Kafka examples: a JSON value whose
// device_ID begins with AB, or a plain string value other than "error".
// Only the matching records are delivered; the others (a JSON value with
// another device_ID, "error", a value that is not UTF-8, a null value)
// are not, and their offsets are committed with the batch.
func TestFilterCriteria(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	values := [][]byte{[]byte(`{"device_ID": "AB1"}`), []byte(`{"device_ID": "CD1"}`), []byte("error"), []byte("hello"),
		{0xff, 0xfe}, nil, []byte(`{"device_ID": "AB2", "session": {"duration": 162}}`)}
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: "in", Partition: 0, Value: v})
	}
	if err := c.ProduceRecords(testCtx(t), recs...); err != nil {
		t.Fatal(err)
	}
	fn := &recorder{}
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(len(values)), esm.WithBatchingWindow(esm.MaxBatchingWindow), esm.WithStopWhenCaughtUp(true),
		esm.WithFilterCriteria(`{ "value" : { "device_ID" : [ { "prefix": "AB" } ] } }`, `{ "value" : [ { "anything-but": [ "error" ] } ] }`))
	if err := r.awaitRun(t); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(fn.seen()["in-0"]); got != "[0 3 6]" {
		t.Fatalf("delivered %s, want [0 3 6]", got)
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 7 {
		t.Fatalf("committed %v, want 7", got)
	}
	if st := r.m.Stats(); st.RecordsFiltered != 4 || st.RecordsCommitted != 7 || st.RecordsSucceeded != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// Patterns AWS would refuse are refused by New: not compiling, naming
// another field than value, more than ten.
func TestFilterCriteriaInvalid(t *testing.T) {
	t.Parallel()
	cfg := esm.Config{Brokers: []string{"b:1"}, Topics: []string{"t"}}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = `{"value": ["x"]}`
	}
	for _, patterns := range [][]string{{`{"value": {"a": [{"wildcard": "*"}]}}`}, {`{"key": ["k"]}`}, eleven} {
		if _, err := esm.New(cfg, &esm.HandlerTarget{Handler: &recorder{}}, esm.WithFilterCriteria(patterns...)); !errors.Is(err, esm.ErrInvalidOption) {
			t.Errorf("%.60q: %v, want ErrInvalidOption", patterns, err)
		}
	}
	m, err := esm.New(cfg, &esm.HandlerTarget{Handler: &recorder{}}, esm.WithFilterCriteria(eleven[:6]...))
	if err != nil || len(m.Warnings()) != 1 {
		t.Fatalf("six filters: %v, warnings %q", err, m.Warnings())
	}
}
