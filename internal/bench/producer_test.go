//go:build cgo

package bench_test

// Send + flush-at-end for both producers of the seam, in the same run: one
// invocation whose Process sends 1,000 records (a fan-out of one input
// record), through the librdkafka producer and through the franz-go
// producer, against raw confluent-kafka-go producing the same records and
// waiting for every delivery report with the same durability settings
// (the baseline of issue 4), and raw franz-go (kgo, the same settings,
// ProduceSync-style: every promise waited for). All to one in-process
// broker (kfake), 3 partitions. Run:
//
//	go test -run '^$' -bench SendFlush -benchmem ./internal/bench/
//
// The ratio row reports each producer's ns/op over raw confluent-kafka-go
// (and franz over raw kgo).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/internal/benchkit"
	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

const sendBatch = 1000

// sendFlushBench holds the records, a handler per producer and the raw
// clients.
type sendFlushBench struct {
	keys, values [][]byte
	payload      []byte
	handlers     map[string]*kafkalambda.Handler[string, string]
	confluent    *kafka.Producer
	kgo          *kgo.Client
}

func setupSendFlush(b *testing.B) *sendFlushBench {
	c := producertest.NewCluster(b, kfake.SeedTopics(3, "out-librdkafka", "out-franz", "raw-confluent", "raw-kgo"))
	sb := &sendFlushBench{payload: producertest.InputEvent(b, 1, "in-0"), handlers: map[string]*kafkalambda.Handler[string, string]{}}
	for i := range sendBatch {
		sb.keys = append(sb.keys, fmt.Appendf(nil, "key-%d", i))
		sb.values = append(sb.values, fmt.Appendf(nil, "settlement %d: ZVZZT Completed 1234.50", i))
	}
	config := func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": c.BootstrapServers()}, nil
	}
	lp, err := librdkafka.NewProducer(config)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(lp.Close)
	fp, err := franz.NewProducer(config)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fp.Close)
	from := kafkalambda.Header{Key: "from", Value: []byte("in")}
	for name, p := range map[string]kafkalambda.Producer{"librdkafka": lp, "franz": fp} {
		out := kafkalambda.NewOutput("out-"+name, serde.Bytes(), serde.Bytes())
		h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
			func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
				for i := range sb.keys {
					if err := out.Send(ctx, sb.keys[i], sb.values[i], from); err != nil {
						return err
					}
				}
				return nil
			}, kafkalambda.WithProducer(p))
		if err != nil {
			b.Fatal(err)
		}
		sb.handlers[name] = h
	}
	sb.confluent, err = kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers": c.BootstrapServers(), "acks": "all", "enable.idempotence": true,
		"partitioner": "murmur2_random", "linger.ms": 0, "go.delivery.report.fields": "none"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sb.confluent.Close)
	sb.kgo, err = kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sb.kgo.Close)
	// Create the clients, connect and fetch metadata before timing.
	for name := range sb.handlers {
		sb.invoke(b, name)
	}
	sb.rawConfluent(b)
	sb.rawKgo(b)
	return sb
}

func (sb *sendFlushBench) invoke(b *testing.B, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sb.handlers[name].Invoke(ctx, sb.payload); err != nil {
		b.Fatal(err)
	}
}

func (sb *sendFlushBench) rawConfluent(b *testing.B) { sb.rawConfluentWith(b, nil) }

// rawConfluentWith is rawConfluent with opaque as every message's Opaque:
// confluent-kafka-go then keeps per-message state (cgoPut when producing,
// cgoGet when reporting), which any scheme that tells one message's
// delivery report from another's through its API pays.
func (sb *sendFlushBench) rawConfluentWith(b *testing.B, opaque any) {
	topic := "raw-confluent"
	for i := range sb.keys {
		m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key: sb.keys[i], Value: sb.values[i], Headers: []kafka.Header{{Key: "from", Value: []byte("in")}},
			Opaque: opaque}
		if err := sb.confluent.Produce(m, nil); err != nil {
			b.Fatal(err)
		}
	}
	for n := 0; n < len(sb.keys); {
		if m, ok := (<-sb.confluent.Events()).(*kafka.Message); ok {
			if m.TopicPartition.Error != nil {
				b.Fatal(m.TopicPartition.Error)
			}
			n++
		}
	}
}

func (sb *sendFlushBench) rawKgo(b *testing.B) {
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	ctx := context.Background()
	wg.Add(len(sb.keys))
	for i := range sb.keys {
		r := &kgo.Record{Topic: "raw-kgo", Key: sb.keys[i], Value: sb.values[i],
			Headers: []kgo.RecordHeader{{Key: "from", Value: []byte("in")}}}
		sb.kgo.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
}

func BenchmarkSendFlush(b *testing.B) {
	sb := setupSendFlush(b)
	t := benchkit.Timings{}
	perRecord := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sendBatch), "ns/record")
	}
	for _, name := range []string{"librdkafka", "franz"} {
		t.Run(b, "impl="+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sb.invoke(b, name)
			}
			perRecord(b)
		})
	}
	t.Run(b, "impl=confluent-raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sb.rawConfluent(b)
		}
		perRecord(b)
	})
	t.Run(b, "impl=kgo-raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sb.rawKgo(b)
		}
		perRecord(b)
	})
	t.Ratio(b, "ratio",
		benchkit.Ratio{Num: "impl=librdkafka", Den: "impl=confluent-raw", Unit: "librdkafka/confluent-raw"},
		benchkit.Ratio{Num: "impl=franz", Den: "impl=confluent-raw", Unit: "franz/confluent-raw"},
		benchkit.Ratio{Num: "impl=franz", Den: "impl=kgo-raw", Unit: "franz/kgo-raw"})

	// The same four, interleaved: each iteration runs one round of each, in
	// an order that rotates, and each is timed on its own. Run one after
	// another (above), whichever runs first was 40-70 % slower than in any
	// later place, whatever it was (the broker's logs grow through the run,
	// and each client's threads wake while the others are timed), which a
	// ratio of sequential rows reads as a difference between producers.
	// Interleaved, all four meet the same conditions; the ratios BENCHMARKS.md
	// gives are these.
	//
	// confluent-raw-opaque is raw confluent-kafka-go with an Opaque on
	// every message, as tracking each message's delivery report needs: its
	// ratio to confluent-raw is what confluent-kafka-go's per-message state
	// costs, and librdkafka/confluent-raw-opaque what the SDK adds besides.
	opaque := 0
	b.Run("interleaved", func(b *testing.B) {
		impls := []struct {
			name string
			run  func()
		}{
			{"librdkafka", func() { sb.invoke(b, "librdkafka") }},
			{"franz", func() { sb.invoke(b, "franz") }},
			{"confluent-raw", func() { sb.rawConfluent(b) }},
			{"kgo-raw", func() { sb.rawKgo(b) }},
			{"confluent-raw-opaque", func() { sb.rawConfluentWith(b, &opaque) }},
		}
		took := make([]time.Duration, len(impls))
		round := 0
		for b.Loop() {
			for k := range impls {
				i := (round + k) % len(impls)
				start := time.Now()
				impls[i].run()
				took[i] += time.Since(start)
			}
			round++
		}
		per := func(i int) float64 { return float64(took[i]) / float64(round) }
		for i, im := range impls {
			b.ReportMetric(per(i)/1e6, im.name+"-ms")
		}
		b.ReportMetric(per(0)/per(2), "librdkafka/confluent-raw")
		b.ReportMetric(per(1)/per(2), "franz/confluent-raw")
		b.ReportMetric(per(1)/per(3), "franz/kgo-raw")
		b.ReportMetric(per(4)/per(2), "confluent-raw-opaque/confluent-raw")
		b.ReportMetric(per(0)/per(4), "librdkafka/confluent-raw-opaque")
	})
}
