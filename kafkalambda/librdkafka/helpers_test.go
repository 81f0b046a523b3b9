package librdkafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// newCluster starts an in-process broker on 127.0.0.1 (one broker unless
// opts say otherwise) and closes it when the test ends.
func newCluster(t testing.TB, opts ...kfake.Opt) *kafkalambdatest.Cluster {
	t.Helper()
	return kafkalambdatest.NewCluster(t, kafkalambdatest.WithKafkaOptions(opts...))
}

// newProducer returns a Producer for the cluster with extra librdkafka
// properties, closed when the test ends.
func newProducer(t testing.TB, c *kafkalambdatest.Cluster, extra map[string]any, opts ...librdkafka.Option) *librdkafka.Producer {
	t.Helper()
	addrs := c.BootstrapServers()
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		cm := map[string]any{"bootstrap.servers": addrs}
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

// readTopic returns every record of topic. What an Invoke sent is
// acknowledged, so in the log, when Invoke returns: the count read after it
// is exact, with no waiting for stragglers.
func readTopic(t testing.TB, c *kafkalambdatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard: a loaded machine needs more than 10 s at times
	defer cancel()
	recs, err := c.ReadTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
