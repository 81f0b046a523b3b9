package librdkafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// inputEvent is an event of n records per partition key given ("topic-N"),
// at offsets 100 on, with keys key-i and values "<partition key>/i".
func inputEvent(t testing.TB, n int, keys ...string) []byte {
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

// echoHandler sends every record's value to out (or, for records of the
// partitions in route, to the topic route names).
func echoHandler(t testing.TB, p *librdkafka.Producer, out string, route map[int32]string, opts ...kafkalambda.Option) *kafkalambda.Handler[string, string] {
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

func withDeadline(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func TestProducerHealthy(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(3, "out"))
	p := newProducer(t, c, nil)
	h := echoHandler(t, p, "out", nil)
	for i := range 3 {
		ctx, cancel := withDeadline(10 * time.Second)
		if _, err := h.Invoke(ctx, inputEvent(t, 50, "in-0", "in-1")); err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		cancel()
	}
	got := readTopic(t, c, "out")
	if len(got) != 300 {
		t.Fatalf("read %d records, want 300", len(got))
	}
	// Same key, same partition (murmur2).
	parts := map[string]int32{}
	for _, r := range got {
		if p, ok := parts[string(r.Key)]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		parts[string(r.Key)] = r.Partition
		if len(r.Headers) != 1 || r.Headers[0].Key != "from" || string(r.Headers[0].Value) != "in" {
			t.Errorf("headers %v", r.Headers)
		}
	}
}

func TestProducerRejectedThenRecovers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(3, "out"))
	p := newProducer(t, c, nil)
	h := echoHandler(t, p, "out", nil)
	fault := c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.InvalidRecord, Count: -1})
	ctx, cancel := withDeadline(10 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, inputEvent(t, 10, "in-0"))
	if !errors.Is(err, kafkalambda.ErrBatchFailed) || !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke with the broker rejecting = %v, want ErrBatchFailed and ErrUndelivered", err)
	}
	var ke kafka.Error
	if !errors.As(err, &ke) || ke.Code() != kafka.ErrInvalidRecord {
		t.Errorf("cause %v, want the broker's INVALID_RECORD", err)
	}
	fault.Remove()
	if _, err := h.Invoke(ctx, inputEvent(t, 10, "in-0")); err != nil {
		t.Fatalf("Invoke after the broker recovered: %v", err)
	}
	if got := readTopic(t, c, "out"); len(got) != 10 {
		t.Fatalf("read %d records, want the 10 of the second invocation", len(got))
	}
}

func TestProducerBrokerGoneFailsBeforeDeadline(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(3, "out"))
	p := newProducer(t, c, nil)
	// The flush stops 4 s before the deadline: a handler that waited for
	// librdkafka's message.timeout.ms (300 s), or for the deadline itself,
	// answers after it; a loaded machine has the 4 s to return its answer.
	h := echoHandler(t, p, "out", nil, kafkalambda.WithDeadlineMargin(4*time.Second))
	ctx, cancel := withDeadline(30 * time.Second)
	if _, err := h.Invoke(ctx, inputEvent(t, 5, "in-0")); err != nil {
		t.Fatal(err)
	}
	cancel()
	c.Kafka().Close()
	ctx, cancel = withDeadline(6 * time.Second)
	defer cancel()
	start := time.Now()
	_, err := h.Invoke(ctx, inputEvent(t, 5, "in-0"))
	took := time.Since(start)
	if !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke with the broker gone = %v, want ErrUndelivered", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Invoke answered after its deadline (%v): it must stop flushing at the deadline minus its margin", took)
	}
}

func TestProducerBatchLargerThanLocalQueue(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(3, "out"))
	p := newProducer(t, c, map[string]any{"queue.buffering.max.messages": 10})
	h := echoHandler(t, p, "out", nil)
	ctx, cancel := withDeadline(20 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 200, "in-0", "in-1")); err != nil {
		t.Fatal(err)
	}
	if got := readTopic(t, c, "out"); len(got) != 400 {
		t.Fatalf("read %d records, want 400", len(got))
	}
}

func TestProducerItemFailuresOneBadPartition(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out", "rejected"))
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "rejected", Err: kerr.InvalidRecord, Count: -1})
	p := newProducer(t, c, nil)
	// A broker rejecting what the function writes is not the input
	// record's fault (the rejection reaches every record of a produce
	// request): by default it fails the invocation, so that it is seen.
	h := echoHandler(t, p, "out", map[int32]string{1: "rejected"},
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	ctx, cancel := withDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 5, "in-0", "in-1", "in-2")); !errors.Is(err, kafkalambda.ErrUndelivered) ||
		kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("Invoke = %v (class %q), want ErrUndelivered of class configuration", err, kafkalambda.Classify(err))
	}
	// Reported instead, the one partition whose records were rejected is
	// named from its first record on, and the others are done.
	h = echoHandler(t, p, "out", map[int32]string{1: "rejected"},
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()), kafkalambda.WithEnvironmentItemFailures())
	out, err := h.Invoke(ctx, inputEvent(t, 5, "in-0", "in-1", "in-2"))
	if err != nil {
		t.Fatal(err)
	}
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var want []kafkalambda.ItemFailure
	for o := range int64(5) {
		want = append(want, kafkalambda.ItemFailure{ItemIdentifier: kafkalambda.ItemIdentifier{Partition: "in-1", Offset: 100 + o}})
	}
	if !reflect.DeepEqual(resp.BatchItemFailures, want) {
		t.Fatalf("response %s, want in-1 from offset 100 to its end", out)
	}
	if got := readTopic(t, c, "out"); len(got) != 20 {
		t.Fatalf("read %d records from the good partitions of two invocations, want 20", len(got))
	}
}

// slowTopic delays every produce request for topic until release is
// closed. It needs the topic's leader to be a broker that no other topic
// of the test uses, since a broker answers one connection in order.
// slowTopic holds every produce request to topic until release is closed;
// the channel it returns is closed when the first one arrives.
func slowTopic(c *kfake.Cluster, topic string, release <-chan struct{}) <-chan struct{} {
	reached := make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == topic {
				once.Do(func() { close(reached) })
				c.SleepControl(func() { <-release })
				break
			}
		}
		return nil, nil, false
	})
	return reached
}

func TestProducerInvocationsFlushOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "slow", "fast"))
	if err := c.Kafka().MoveTopicPartition("slow", 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Kafka().MoveTopicPartition("fast", 0, 1); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	p := newProducer(t, c, nil)
	slow := echoHandler(t, p, "slow", nil)
	fast := echoHandler(t, p, "fast", nil)
	// Warm up: metadata for both topics and connections to both brokers,
	// so that nothing the fast invocation needs queues behind the slow
	// topic's delayed requests on broker 0's connection.
	for _, h := range []*kafkalambda.Handler[string, string]{slow, fast} {
		ctx, cancel := withDeadline(10 * time.Second)
		if _, err := h.Invoke(ctx, inputEvent(t, 1, "in-0")); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	reached := slowTopic(c.Kafka(), "slow", release)

	var wg sync.WaitGroup
	var slowDone atomic.Bool
	var slowErr error
	wg.Go(func() {
		ctx, cancel := withDeadline(20 * time.Second)
		defer cancel()
		_, slowErr = slow.Invoke(ctx, inputEvent(t, 5, "in-0"))
		slowDone.Store(true)
	})
	select { // the slow invocation's records are in flight, and held
	case <-reached:
	case <-time.After(time.Minute): // a guard: arrival is the event
		t.Fatal("the slow invocation sent nothing")
	}
	// The slow invocation's records are held until after the check, so
	// slowDone proves the order. The bound is a second guard, for an
	// invocation that waits out its flush deadline (a minute) and then
	// succeeds: half of it is a gap no loaded machine needs.
	ctx, cancel := withDeadline(time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := fast.Invoke(ctx, inputEvent(t, 5, "in-0")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second || slowDone.Load() {
		t.Errorf("fast invocation took %v (slow done: %v): it waited on the other invocation's messages", took, slowDone.Load())
	}
	close(release)
	wg.Wait()
	if slowErr != nil {
		t.Fatalf("slow invocation: %v", slowErr)
	}
}

func TestProducerFlushDeadlinePurges(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "slow"))
	if err := c.Kafka().MoveTopicPartition("slow", 0, 0); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slowTopic(c.Kafka(), "slow", release)
	p := newProducer(t, c, nil)
	h := echoHandler(t, p, "slow", nil, kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()),
		kafkalambda.WithEnvironmentItemFailures(), kafkalambda.WithDeadlineMargin(4*time.Second))
	// The records are held until the test ends: the flush stops at 2 s, 4 s
	// before the deadline, a margin that a loaded machine does not need to
	// answer in but that a flush waiting for the broker (or librdkafka's
	// 300 s message.timeout.ms) overruns.
	ctx, cancel := withDeadline(6 * time.Second)
	defer cancel()
	start := time.Now()
	out, err := h.Invoke(ctx, inputEvent(t, 3, "in-0", "in-1"))
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Errorf("Invoke took %v, past its deadline", time.Since(start))
	}
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, f := range resp.BatchItemFailures {
		parts = append(parts, fmt.Sprintf("%s@%d", f.ItemIdentifier.Partition, f.ItemIdentifier.Offset))
	}
	sort.Strings(parts)
	if !reflect.DeepEqual(parts, []string{"in-0@100", "in-0@101", "in-0@102", "in-1@100", "in-1@101", "in-1@102"}) {
		t.Fatalf("item failures %v: unacknowledged sends must fail the records that made them", parts)
	}
}

func TestProducerAuthFailureRebuildsWithFreshConfig(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.EnableSASL(), kfake.Superuser("PLAIN", "app", "rotated-secret"))
	var password atomic.Value
	password.Store("stale-secret")
	var invalidations atomic.Int32
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": c.Kafka().ListenAddrs()[0], "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism": "PLAIN", "sasl.username": "app", "sasl.password": password.Load().(string)}, nil
	}, librdkafka.WithAuthFailureHook(func() {
		invalidations.Add(1)
		password.Store("rotated-secret") // what a fresh read of the secret returns
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	h := echoHandler(t, p, "out", nil)
	ctx, cancel := withDeadline(5 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 3, "in-0")); !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke with a stale password = %v, want ErrUndelivered", err)
	}
	if invalidations.Load() == 0 {
		t.Fatal("the auth failure hook was not called")
	}
	ctx2, cancel2 := withDeadline(10 * time.Second)
	defer cancel2()
	if _, err := h.Invoke(ctx2, inputEvent(t, 3, "in-0")); err != nil {
		t.Fatalf("Invoke after rotation: %v", err)
	}
}
