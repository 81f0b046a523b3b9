//go:build cgo

package esm_test

// Records per second through the mapping into an in-process function, over
// an in-process broker, for 1, 3 and 6 partitions. Two functions, in the
// same run:
//
//   - noop parses the event and returns: the mapping's own cost (poll,
//     batch, encode, invoke, commit);
//   - kafkalambda is kafkalambda's Handler sending every record to an
//     output topic through its shared Producer (librdkafka) and waiting for
//     the acks at the end of each invocation: the whole pipeline;
//   - kafkalambda-franz is the same through the franz-go Producer
//     (kafkalambda/franz), to tell the producer's share from the rest.
//
// Each iteration consumes the same 30,000 records (100-byte values) as a new
// consumer group, after one untimed round that warms the producer. The
// batch size is AWS's default for Kafka (100); the batching window is 0
// rather than AWS's default 500 ms, which changes nothing while a backlog
// fills every batch and would only add half a second of waiting for the
// last partial batch of each round. Run:
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
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

const benchRecords = 30_000

func BenchmarkESM(b *testing.B) {
	for _, fn := range []string{"noop", "kafkalambda", "kafkalambda-franz"} {
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
	switch fn {
	case "kafkalambda":
		handler = newPipeline(b, c, kafkalambda.FailBatch(), nil)
	case "kafkalambda-franz":
		brokers := c.BootstrapServers()
		p, err := franz.NewProducer(func(context.Context) (map[string]any, error) {
			return map[string]any{"bootstrap.servers": brokers}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		handler = newPipelineOn(b, p, kafkalambda.FailBatch(), nil)
	}
	target := &esm.HandlerTarget{Handler: handler}
	// One untimed round first: the producer's first sends connect to the
	// brokers and fetch its producer id (about half a second), a cold
	// start that would otherwise land in the first timed round and, with
	// rounds of a few hundred milliseconds, dominate b.N = 1.
	consumeAll(b, c, target, "bench-warm")
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		consumeAll(b, c, target, fmt.Sprint("bench-", i))
	}
	b.ReportMetric(float64(benchRecords*b.N)/time.Since(began).Seconds(), "records/s")
}

// consumeAll runs a mapping as group until it has committed every record of
// "in", then stops it.
func consumeAll(b *testing.B, c *kafkalambdatest.Cluster, target esm.Target, group string) {
	b.Helper()
	wake := make(chan struct{}, 1)
	m, err := esm.New(esm.Config{Brokers: c.Brokers(), Topics: []string{"in"}, Group: group}, target,
		esm.WithBatchingWindow(0), progressTo(wake))
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	awaitOn(b, wake, 2*time.Minute, "every record committed", func() bool { return m.Stats().RecordsCommitted >= benchRecords })
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
