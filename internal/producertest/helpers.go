package producertest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// NewCluster starts an in-process broker on 127.0.0.1 (one broker unless
// opts say otherwise) and closes it when the test ends.
func NewCluster(t testing.TB, opts ...kfake.Opt) *kafkalambdatest.Cluster {
	t.Helper()
	return kafkalambdatest.NewCluster(t, kafkalambdatest.WithKafkaOptions(opts...))
}

// InputEvent is an event of n records per partition key given ("topic-N"),
// at offsets 100 on, with keys key-i and values "<partition key>/i".
func InputEvent(t testing.TB, n int, keys ...string) []byte {
	t.Helper()
	b := kafkalambdatest.NewEvent(serde.String(), serde.String())
	for _, k := range keys {
		i := strings.LastIndexByte(k, '-')
		part, err := strconv.Atoi(k[i+1:])
		if err != nil {
			t.Fatal(err)
		}
		recs := make([]kafkalambdatest.Record[string, string], n)
		for j := range recs {
			recs[j] = kafkalambdatest.Record[string, string]{Key: fmt.Sprintf("key-%d", j), Value: fmt.Sprintf("%s/%d", k, j)}
		}
		b.AddAt(k[:i], int32(part), 100, recs...)
	}
	payload, err := b.Payload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// EchoHandler sends every record's value to out (or, for records of the
// partitions in route, to the topic route names), with a header "from"
// naming the input topic.
func EchoHandler(t testing.TB, p kafkalambda.Producer, out string, route map[int32]string, opts ...kafkalambda.Option) *kafkalambda.Handler[string, string] {
	t.Helper()
	outputs := map[string]*kafkalambda.Output[string, string]{}
	output := func(topic string) *kafkalambda.Output[string, string] {
		if o, ok := outputs[topic]; ok {
			return o
		}
		o := kafkalambda.NewOutput(topic, serde.String(), serde.String())
		outputs[topic] = o
		return o
	}
	output(out)
	for _, topic := range route {
		output(topic)
	}
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			topic := out
			if to, ok := route[r.Partition]; ok {
				topic = to
			}
			return outputs[topic].Send(ctx, r.Key, r.Value, kafkalambda.Header{Key: "from", Value: []byte(r.Topic)})
		}, append([]kafkalambda.Option{kafkalambda.WithProducer(p)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// WithDeadline is an invocation's context, ending after d.
func WithDeadline(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// ReadTopic returns every record of topic. What an Invoke sent is
// acknowledged, so in the log, when Invoke returns: the count read after it
// is exact, with no waiting for stragglers.
func ReadTopic(t testing.TB, c *kafkalambdatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := c.ReadTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// SlowTopic holds every produce request to topic until release is closed;
// the channel it returns is closed when the first one arrives. It needs the
// topic's leader to be a broker that no other topic of the test uses, since
// a broker answers one connection in order. The topic must exist: produce
// requests name it by its id from version 13 on (franz-go uses it).
func SlowTopic(c *kfake.Cluster, topic string, release <-chan struct{}) <-chan struct{} {
	reached := make(chan struct{})
	var once sync.Once
	var id [16]byte
	if info := c.TopicInfo(topic); info != nil {
		id = info.TopicID
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == topic || (tp.TopicID != [16]byte{} && tp.TopicID == id) {
				once.Do(func() { close(reached) })
				c.SleepControl(func() { <-release })
				break
			}
		}
		return nil, nil, false
	})
	return reached
}
