package librdkafka_test

// Benchmark of exactly-once mode (kafkalambda.WithExactlyOnce): the Send +
// flush-at-end path of one invocation sending n records, in exactly-once
// mode, against the same path without it and against raw
// confluent-kafka-go transactions (begin, produce n, wait for the delivery
// reports, send the input offset to the transaction for a group, commit),
// same broker, same run. Each invocation is of a new input offset, so none
// is skipped. Run:
//
//	go test -run '^$' -bench 'ExactlyOnce' -benchmem ./kafkalambda/librdkafka/
//
// With n=1 the difference between the modes is the fixed cost of a
// transaction per invocation.

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
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// rawTxn is the baseline: a transactional confluent-kafka-go producer.
type rawTxn struct {
	p      *kafka.Producer
	topic  string
	input  string
	md     *kafka.ConsumerGroupMetadata
	offset int64
}

func newRawTxn(b *testing.B, c *kfake.Cluster, topic string) *rawTxn {
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers": strings.Join(c.ListenAddrs(), ","), "acks": "all", "enable.idempotence": true,
		"partitioner": "murmur2_random", "linger.ms": 0, "go.delivery.report.fields": "none",
		"transactional.id": "raw-" + topic, "enable.metrics.push": false})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		b.Fatal(err)
	}
	md, err := kafka.NewTestConsumerGroupMetadata("raw-progress-" + topic)
	if err != nil {
		b.Fatal(err)
	}
	return &rawTxn{p: p, topic: topic, input: "in", md: md}
}

func (r *rawTxn) sendAll(b *testing.B, keys, values [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.p.BeginTransaction(); err != nil {
		b.Fatal(err)
	}
	produceAndWait(b, r.p, r.topic, keys, values)
	r.offset++
	if err := r.p.SendOffsetsToTransaction(ctx, []kafka.TopicPartition{{Topic: &r.input, Partition: 0,
		Offset: kafka.Offset(r.offset)}}, r.md); err != nil {
		b.Fatal(err)
	}
	if err := r.p.CommitTransaction(ctx); err != nil {
		b.Fatal(err)
	}
}

// eosBench is one handler per mode over one producer, sending n records
// per invocation.
type eosBench struct {
	plain, eos  *kafkalambda.Handler[string, string]
	raw         *rawTxn
	keys, value [][]byte
	offset      int64
}

func setupEOSBench(b *testing.B, n int) *eosBench {
	c := newCluster(b, kfake.SeedTopics(3, "out", fmt.Sprint("raw", n)), kfake.SeedTopics(1, "in"))
	p := newProducer(b, c, nil)
	eb := &eosBench{raw: newRawTxn(b, c.Kafka(), fmt.Sprint("raw", n))}
	for i := range n {
		eb.keys = append(eb.keys, fmt.Appendf(nil, "key-%d", i))
		eb.value = append(eb.value, fmt.Appendf(nil, "settlement %d: ZVZZT Completed 1234.50", i))
	}
	out := kafkalambda.NewOutput("out", serde.Bytes(), serde.Bytes())
	from := kafkalambda.Header{Key: "from", Value: []byte("in")}
	process := func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
		for i := range eb.keys {
			if err := out.Send(ctx, eb.keys[i], eb.value[i], from); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if eb.plain, err = kafkalambda.NewHandler(serde.String(), serde.String(), process, kafkalambda.WithProducer(p)); err != nil {
		b.Fatal(err)
	}
	if eb.eos, err = kafkalambda.NewHandler(serde.String(), serde.String(), process, kafkalambda.WithProducer(p),
		kafkalambda.WithExactlyOnce("bench-progress")); err != nil {
		b.Fatal(err)
	}
	eb.invoke(b, eb.plain) // create the producers before timing
	eb.invoke(b, eb.eos)
	eb.raw.sendAll(b, eb.keys, eb.value)
	return eb
}

// invoke runs h over one input record at the next offset.
func (eb *eosBench) invoke(b *testing.B, h *kafkalambda.Handler[string, string]) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eb.offset++
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.String()).
		AddAt("in", 0, eb.offset, kafkalambdatest.Record[string, string]{Key: "k", Value: "v"}).Payload(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.Invoke(ctx, payload); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkExactlyOnce(b *testing.B) {
	for _, n := range []int{1, benchBatch} {
		b.Run(fmt.Sprint("records=", n), func(b *testing.B) {
			eb := setupEOSBench(b, n)
			t := benchkit.Timings{}
			for _, impl := range []struct {
				name string
				run  func(b *testing.B)
			}{
				{"impl=kafkalambda", func(b *testing.B) { eb.invoke(b, eb.plain) }},
				{"impl=kafkalambda-eos", func(b *testing.B) { eb.invoke(b, eb.eos) }},
				{"impl=confluent-raw-txn", func(b *testing.B) { eb.raw.sendAll(b, eb.keys, eb.value) }},
			} {
				t.Run(b, impl.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						impl.run(b)
					}
				})
			}
			t.Ratio(b, "ratio",
				benchkit.Ratio{Num: "impl=kafkalambda-eos", Den: "impl=kafkalambda", Unit: "eos/at-least-once"},
				benchkit.Ratio{Num: "impl=kafkalambda-eos", Den: "impl=confluent-raw-txn", Unit: "eos/raw-txn"})
		})
	}
}
