//go:build cgo

package esm_test

// Records per second through the mapping into an in-process function, over
// an in-process broker, for 1, 3 and 6 partitions. Two functions, in the
// same run:
//
//   - noop parses the event and returns: the mapping's own cost (poll,
//     batch, encode, invoke, commit);
//   - kafkalambda is kafkalambda's Handler sending every record to an
//     output topic through its shared Producer and waiting for the acks at
//     the end of each invocation: the whole pipeline.
//
// Each iteration consumes the same 30,000 records (100-byte values) as a new
// consumer group, default batch size (100), no batching window. Run:
//
//	go test -run '^$' -bench ESM -benchtime 3x ./esm/

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

const benchRecords = 30_000

func BenchmarkESM(b *testing.B) {
	for _, fn := range []string{"noop", "kafkalambda"} {
		for _, parts := range []int32{1, 3, 6} {
			b.Run(fmt.Sprintf("%s/partitions=%d", fn, parts), func(b *testing.B) { benchESM(b, fn, parts) })
		}
	}
}

type parseOnly struct{}

func (parseOnly) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	_, err := kafkalambda.ParseEvent(payload)
	return nil, err
}

func benchESM(b *testing.B, fn string, parts int32) {
	c := kafkalambdatest.NewCluster(b, kafkalambdatest.WithTopic("in", parts), kafkalambdatest.WithTopic("out", parts))
	value := bytes.Repeat([]byte("v"), 100)
	ctx := context.Background()
	for from := 0; from < benchRecords; from += 5000 {
		recs := make([]*kgo.Record, 0, 5000)
		for i := from; i < from+5000; i++ {
			recs = append(recs, &kgo.Record{Topic: "in", Partition: int32(i) % parts, Key: []byte("k" + strconv.Itoa(i)), Value: value})
		}
		if err := c.ProduceRecords(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	var handler lambda.Handler = parseOnly{}
	if fn == "kafkalambda" {
		handler = newPipeline(b, c, kafkalambda.FailBatch(), nil)
	}
	target := &esm.HandlerTarget{Handler: handler}
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		wake := make(chan struct{}, 1)
		m, err := esm.New(esm.Config{Brokers: c.Brokers(), Topics: []string{"in"}, Group: fmt.Sprint("bench-", i)}, target,
			esm.WithBatchingWindow(0), progressTo(wake))
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(runCtx) }()
		awaitOn(b, wake, 2*time.Minute, "every record committed", func() bool { return m.Stats().RecordsCommitted >= benchRecords })
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/time.Since(began).Seconds(), "records/s")
}
