//go:build cgo

package esm_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// newPipeline returns kafkalambda's Handler that upper-cases each value to
// topic "out" through a shared Producer, with the given failure policy and
// process hook (called before the send; an error fails the record).
func newPipeline(t testing.TB, c *kafkalambdatest.Cluster, policy kafkalambda.FailurePolicy,
	hook func(r *kafkalambda.Record[string, string]) error) *kafkalambda.Handler[string, string] {
	t.Helper()
	brokers := c.BootstrapServers()
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": brokers}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return newPipelineOn(t, p, policy, hook)
}

// newPipelineOn is newPipeline sending through p.
func newPipelineOn(t testing.TB, p kafkalambda.Producer, policy kafkalambda.FailurePolicy,
	hook func(r *kafkalambda.Record[string, string]) error) *kafkalambda.Handler[string, string] {
	t.Helper()
	out := kafkalambda.NewOutput("out", serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			if hook != nil {
				if err := hook(r); err != nil {
					return err
				}
			}
			return out.Send(ctx, r.Key, fmt.Sprintf("%s-%d@%d:%s", r.Topic, r.Partition, r.Offset, r.Value))
		}, kafkalambda.WithProducer(p), kafkalambda.WithFailurePolicy(policy))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The mapping invoking kafkalambda's Handler in process: item failures
// reported by the handler make the partition resume at the failed record,
// a record that keeps failing ends in the on-failure topic, and every other
// record's output is in the output topic exactly once.
func TestKafkalambdaHandler(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 2), kafkalambdatest.WithTopic("out", 2), kafkalambdatest.WithTopic("dlq", 1))
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := range 20 {
			v := fmt.Sprint("v", i)
			switch {
			case p == 0 && i == 5:
				v = "flaky"
			case p == 1 && i == 19:
				v = "bad"
			}
			recs = append(recs, &kgo.Record{Topic: "in", Partition: p, Key: []byte(fmt.Sprint("k", p, "-", i)), Value: []byte(v)})
		}
	}
	if err := c.ProduceRecords(testCtx(t), recs...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	flakyFailed := false
	h := newPipeline(t, c, kafkalambda.ReportItemFailures(), func(r *kafkalambda.Record[string, string]) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Value == "flaky" && !flakyFailed:
			flakyFailed = true
			return errors.New("flaky once")
		case r.Value == "bad":
			return errors.New("always bad")
		}
		return nil
	})
	var res batches
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: h},
		esm.WithBatchSize(10), esm.WithBatchingWindow(100*time.Millisecond), esm.WithReportBatchItemFailures(true),
		esm.WithMaxRetryAttempts(2), esm.WithOnFailureTopic("dlq"), esm.WithOnBatch(res.add))
	r.await(t, time.Minute, "40 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 40 })

	outs, err := c.ReadTopic(testCtx(t), "out")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, o := range outs {
		count[string(o.Value)]++
	}
	if len(outs) != 39 || len(count) != 39 {
		t.Fatalf("%d outputs, %d distinct; want the 39 good records once each", len(outs), len(count))
	}
	msgs, frs := readFailures(t, c, "dlq")
	if len(frs) != 1 || string(msgs[0].Key) != "k1-19" || frs[0].RequestContext.ApproximateInvokeCount != 3 ||
		frs[0].ResponseContext == nil || frs[0].ResponseContext.FunctionError != "" {
		t.Fatalf("on-failure %+v", frs)
	}
	partials := 0
	for _, b := range res.get() {
		if b.Outcome == esm.OutcomePartial {
			partials++
		}
	}
	if st := r.m.Stats(); partials != 4 || st.PartialFailures != 4 || st.RecordsOnFailure != 1 { // flaky once, bad three times
		t.Fatalf("%d partial outcomes; stats %+v", partials, st)
	}
}
