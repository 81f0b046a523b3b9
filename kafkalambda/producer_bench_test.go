package kafkalambda_test

// Benchmark of the Send + flush-at-end path against raw confluent-kafka-go
// producing the same messages to the same in-process broker, in the same
// run. Run:
//
//	go test -run '^$' -bench 'Producer' -benchmem ./kafkalambda/
//
// BenchmarkProducerRatio reports ours/raw (target ≤ 1.1).

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

const benchBatch = 1000

// rawProducer is the baseline: one confluent-kafka-go producer with the
// same durability settings, waiting for every delivery report.
type rawProducer struct {
	p     *kafka.Producer
	topic string
}

func newRawProducer(b *testing.B, c *kfake.Cluster, topic string) *rawProducer {
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers": strings.Join(c.ListenAddrs(), ","), "acks": "all", "enable.idempotence": true,
		"partitioner": "murmur2_random", "linger.ms": 0, "go.delivery.report.fields": "none"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return &rawProducer{p: p, topic: topic}
}

func (r *rawProducer) sendAll(b *testing.B, keys, values [][]byte) {
	for i := range keys {
		m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &r.topic, Partition: kafka.PartitionAny},
			Key: keys[i], Value: values[i], Headers: []kafka.Header{{Key: "from", Value: []byte("in")}}}
		if err := r.p.Produce(m, nil); err != nil {
			b.Fatal(err)
		}
	}
	for n := 0; n < len(keys); {
		if m, ok := (<-r.p.Events()).(*kafka.Message); ok {
			if m.TopicPartition.Error != nil {
				b.Fatal(m.TopicPartition.Error)
			}
			n++
		}
	}
}

type producerBench struct {
	h           *kafkalambda.Handler[string, string]
	raw         *rawProducer
	payload     []byte
	keys, value [][]byte
}

func setupProducerBench(b *testing.B) *producerBench {
	c := newCluster(b, kfake.SeedTopics(3, "out", "raw"))
	p := newProducer(b, c, nil)
	pb := &producerBench{h: echoHandler(b, p, "out", nil), raw: newRawProducer(b, c, "raw"),
		payload: inputEvent(b, benchBatch/2, "in-0", "in-1")}
	ev, err := kafkalambda.ParseEvent(pb.payload)
	if err != nil {
		b.Fatal(err)
	}
	for _, pt := range ev.Partitions {
		for _, r := range pt.Records {
			pb.keys, pb.value = append(pb.keys, r.Key), append(pb.value, r.Value)
		}
	}
	pb.invoke(b) // create the producers before timing
	pb.raw.sendAll(b, pb.keys, pb.value)
	return pb
}

func (pb *producerBench) invoke(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pb.h.Invoke(ctx, pb.payload); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkProducer(b *testing.B) {
	pb := setupProducerBench(b)
	b.Run("impl=kafkalambda", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pb.invoke(b)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/record")
	})
	b.Run("impl=confluent-raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pb.raw.sendAll(b, pb.keys, pb.value)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/record")
	})
}

// BenchmarkProducerRatio alternates an invocation that sends 1,000 records
// with the raw producer sending the same 1,000, and reports ours/raw.
func BenchmarkProducerRatio(b *testing.B) {
	pb := setupProducerBench(b)
	var ours, raw time.Duration
	for b.Loop() {
		t0 := time.Now()
		pb.invoke(b)
		t1 := time.Now()
		pb.raw.sendAll(b, pb.keys, pb.value)
		raw += time.Since(t1)
		ours += t1.Sub(t0)
	}
	b.ReportMetric(float64(ours)/float64(raw), "ours/raw")
}
