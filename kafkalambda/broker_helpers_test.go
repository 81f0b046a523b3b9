package kafkalambda_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// newCluster starts an in-process broker on 127.0.0.1 with the topics given
// (3 partitions each) and closes it when the test ends.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newProducer returns a Producer for the cluster with extra librdkafka
// properties, closed when the test ends.
func newProducer(t testing.TB, c *kfake.Cluster, extra kafka.ConfigMap, opts ...kafkalambda.ProducerOption) *kafkalambda.Producer {
	t.Helper()
	addrs := strings.Join(c.ListenAddrs(), ",")
	p, err := kafkalambda.NewProducer(func(context.Context) (kafka.ConfigMap, error) {
		cm := kafka.ConfigMap{"bootstrap.servers": addrs}
		for k, v := range extra {
			cm[k] = v
		}
		return cm, nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// readTopic reads records from the start of topic until it has want of
// them or wait passes, and then for a little longer to catch extras.
func readTopic(t testing.TB, c *kfake.Cluster, topic string, want int, wait time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var out []*kgo.Record
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) >= want {
			extra, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
			cl.PollFetches(extra).EachRecord(func(r *kgo.Record) { out = append(out, r) })
			cancel2()
			break
		}
	}
	return out
}
