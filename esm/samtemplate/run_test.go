package samtemplate_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// The template's mapping, run against kfake with kafkalambda's handler in
// process: its BatchSize, consumer group, ReportBatchItemFailures,
// MaximumRetryAttempts and Kafka on-failure topic all take effect.
func TestRunTemplateMapping(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("trades", 1), kafkalambdatest.WithTopic("trades-failed", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard, not a speed
	defer cancel()
	var recs []*kgo.Record
	for _, v := range []string{"a", "b", "bad", "c", "d"} {
		recs = append(recs, &kgo.Record{Topic: "trades", Key: []byte("k-" + v), Value: []byte(v)})
	}
	if err := c.ProduceRecords(ctx, recs...); err != nil {
		t.Fatal(err)
	}

	m := mappingOf(t, "run.yaml", samtemplate.WithParameters(map[string]string{"Brokers": c.BootstrapServers()}))
	var mu sync.Mutex
	var processed []string
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(), func(_ context.Context, r *kafkalambda.Record[string, string]) error {
		if r.Value == "bad" {
			return errors.New("cannot settle")
		}
		mu.Lock()
		defer mu.Unlock()
		processed = append(processed, r.Value)
		return nil
	}, kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	opts := append(m.Options(), esm.WithStopWhenCaughtUp(true), esm.WithRetryBackoff(0, 0), esm.WithOnBatch(func(b esm.BatchResult) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, b.Records)
	}))
	mp, err := esm.New(m.Config(), &esm.HandlerTarget{Handler: h, Timeout: m.FunctionTimeout}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if w := mp.Warnings(); len(w) != 0 {
		t.Errorf("warnings %v", w)
	}
	if err := mp.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// kafkalambda's ReportItemFailures reports the failed record and the
	// rest of its partition in the batch ("c"), to keep the partition's
	// order.
	if !slices.Equal(processed, []string{"a", "b", "d"}) || mp.Group() != "trades-local" {
		t.Fatalf("processed %v in group %s", processed, mp.Group())
	}
	for _, n := range sizes {
		if n > 2 {
			t.Fatalf("batch sizes %v, BatchSize is 2", sizes)
		}
	}
	failed, err := c.ReadTopic(ctx, "trades-failed")
	if err != nil {
		t.Fatal(err)
	}
	// Tried twice (MaximumRetryAttempts 1), then to the on-failure topic.
	if st := mp.Stats(); len(failed) != 2 || string(failed[0].Key) != "k-bad" || string(failed[1].Key) != "k-c" || st.RecordsOnFailure != 2 || st.RecordsRetried != 2 {
		t.Fatalf("on-failure %v, stats %+v", failed, st)
	}
}
