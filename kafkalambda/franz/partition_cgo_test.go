//go:build cgo

package franz_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// TestSamePartitionsAsLibrdkafka: the same keys, sent by the librdkafka
// producer (its default partitioner, murmur2_random) and by this one to
// two topics of 7 partitions, land on the same partition number, key by
// key, binary keys included.
func TestSamePartitionsAsLibrdkafka(t *testing.T) {
	t.Parallel()
	c := producertest.NewCluster(t, kfake.SeedTopics(7, "via-librdkafka", "via-franz"))
	config := func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": c.BootstrapServers()}, nil
	}
	lp, err := librdkafka.NewProducer(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lp.Close)
	fp, err := franz.NewProducer(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fp.Close)

	keys := [][]byte{{0}, {0xff, 0xfe, 0x80}}
	for i := range 300 {
		keys = append(keys, fmt.Appendf(nil, "User_%d", i))
	}
	send := func(p kafkalambda.Producer, topic string) {
		out := kafkalambda.NewOutput(topic, serde.Bytes(), serde.Bytes())
		h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
			func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
				for _, k := range keys {
					if err := out.Send(ctx, k, k); err != nil {
						return err
					}
				}
				return nil
			}, kafkalambda.WithProducer(p))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := h.Invoke(ctx, producertest.InputEvent(t, 1, "in-0")); err != nil {
			t.Fatal(err)
		}
	}
	send(lp, "via-librdkafka")
	send(fp, "via-franz")

	where := func(topic string) map[string]int32 {
		m := map[string]int32{}
		for _, r := range producertest.ReadTopic(t, c, topic) {
			m[string(r.Value)] = r.Partition
		}
		if len(m) != len(keys) {
			t.Fatalf("%s holds %d distinct keys, want %d", topic, len(m), len(keys))
		}
		return m
	}
	lib, fr := where("via-librdkafka"), where("via-franz")
	used := map[int32]bool{}
	for _, k := range keys {
		if lib[string(k)] != fr[string(k)] {
			t.Errorf("key %q: partition %d with librdkafka, %d with franz-go", k, lib[string(k)], fr[string(k)])
		}
		used[fr[string(k)]] = true
	}
	if len(used) != 7 {
		t.Errorf("the keys used %d of 7 partitions: the comparison says little", len(used))
	}
}
