package librdkafka_test

// Benchmark of the Send + flush-at-end path (one invocation whose Process
// sends 1,000 records) against raw confluent-kafka-go producing the same
// records and waiting for their delivery reports, with the same librdkafka
// settings, to the same in-process broker, in the same run. Run:
//
//	go test -run '^$' -bench 'Producer' -benchmem ./kafkalambda/
//
// The ratio row reports ours/raw (target ≤ 1.1, aim 1.05).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/internal/benchkit"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
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
	produceAndWait(b, r.p, r.topic, keys, values)
}

// produceAndWait produces keys and values to topic with raw
// confluent-kafka-go and waits for every delivery report.
func produceAndWait(b *testing.B, p *kafka.Producer, topic string, keys, values [][]byte) {
	for i := range keys {
		m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key: keys[i], Value: values[i], Headers: []kafka.Header{{Key: "from", Value: []byte("in")}}}
		if err := p.Produce(m, nil); err != nil {
			b.Fatal(err)
		}
	}
	for n := 0; n < len(keys); {
		if m, ok := (<-p.Events()).(*kafka.Message); ok {
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

// setupProducerBench makes a handler whose Process sends benchBatch
// records (a fan-out of one input record), so that what is timed is the
// Send + flush-at-end path, and a raw producer to send the same records.
func setupProducerBench(b *testing.B) *producerBench {
	c := newCluster(b, kfake.SeedTopics(3, "out", "raw"))
	p := newProducer(b, c, nil)
	pb := &producerBench{raw: newRawProducer(b, c.Kafka(), "raw"), payload: inputEvent(b, 1, "in-0")}
	for i := range benchBatch {
		pb.keys = append(pb.keys, []byte(fmt.Sprintf("key-%d", i)))
		pb.value = append(pb.value, []byte(fmt.Sprintf("settlement %d: ZVZZT Completed 1234.50", i)))
	}
	out := kafkalambda.NewOutput("out", serde.Bytes(), serde.Bytes())
	from := kafkalambda.Header{Key: "from", Value: []byte("in")}
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			for i := range pb.keys {
				if err := out.Send(ctx, pb.keys[i], pb.value[i], from); err != nil {
					return err
				}
			}
			return nil
		}, kafkalambda.WithProducer(p))
	if err != nil {
		b.Fatal(err)
	}
	pb.h = h
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
	t := benchkit.Timings{}
	t.Run(b, "impl=kafkalambda", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pb.invoke(b)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/record")
	})
	t.Run(b, "impl=confluent-raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pb.raw.sendAll(b, pb.keys, pb.value)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/record")
	})
	t.Ratio(b, "ratio", benchkit.Ratio{Num: "impl=kafkalambda", Den: "impl=confluent-raw", Unit: "ours/raw"})
}
