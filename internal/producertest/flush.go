package producertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// The flush at the end of an invocation: what it waits for, what it
// counts failed, and when it gives up.

func healthy(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(3, "out"))
	p := impl.newProducer(t, c, nil)
	h := EchoHandler(t, p, "out", nil)
	for i := range 3 {
		ctx, cancel := WithDeadline(10 * time.Second)
		if _, err := h.Invoke(ctx, InputEvent(t, 50, "in-0", "in-1")); err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		cancel()
	}
	got := ReadTopic(t, c, "out")
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

func rejectedThenRecovers(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(3, "out"))
	p := impl.newProducer(t, c, nil)
	h := EchoHandler(t, p, "out", nil)
	fault := c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.InvalidRecord, Count: -1})
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, InputEvent(t, 10, "in-0"))
	if !errors.Is(err, kafkalambda.ErrBatchFailed) || !errors.Is(err, kafkalambda.ErrUndelivered) ||
		kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("Invoke with the broker rejecting = %v (class %q), want ErrBatchFailed and ErrUndelivered, configuration",
			err, kafkalambda.Classify(err))
	}
	// librdkafka: "Broker failed to validate record"; franz-go: INVALID_RECORD.
	if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "validate record") && !strings.Contains(msg, "invalid_record") {
		t.Errorf("cause %v, want the broker's INVALID_RECORD", err)
	}
	fault.Remove()
	if _, err := h.Invoke(ctx, InputEvent(t, 10, "in-0")); err != nil {
		t.Fatalf("Invoke after the broker recovered: %v", err)
	}
	if got := ReadTopic(t, c, "out"); len(got) != 10 {
		t.Fatalf("read %d records, want the 10 of the second invocation", len(got))
	}
}

func brokerGoneFailsBeforeDeadline(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(3, "out"))
	p := impl.newProducer(t, c, nil)
	// The flush stops 4 s before the deadline: a handler that waited for
	// the producer's own message timeout (300 s), or for the deadline
	// itself, answers after it; a loaded machine has the 4 s to answer in.
	h := EchoHandler(t, p, "out", nil, kafkalambda.WithDeadlineMargin(4*time.Second))
	ctx, cancel := WithDeadline(30 * time.Second)
	if _, err := h.Invoke(ctx, InputEvent(t, 5, "in-0")); err != nil {
		t.Fatal(err)
	}
	cancel()
	c.Kafka().Close()
	ctx, cancel = WithDeadline(6 * time.Second)
	defer cancel()
	start := time.Now()
	_, err := h.Invoke(ctx, InputEvent(t, 5, "in-0"))
	took := time.Since(start)
	if !errors.Is(err, kafkalambda.ErrUndelivered) || kafkalambda.Classify(err) != kafkalambda.ClassEnvironment {
		t.Fatalf("Invoke with the broker gone = %v (class %q), want ErrUndelivered, environment", err, kafkalambda.Classify(err))
	}
	if ctx.Err() != nil {
		t.Errorf("Invoke answered after its deadline (%v): it must stop flushing at the deadline minus its margin", took)
	}
}

func batchLargerThanLocalQueue(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(3, "out"))
	p := impl.newProducer(t, c, map[string]any{"queue.buffering.max.messages": 10})
	h := EchoHandler(t, p, "out", nil)
	ctx, cancel := WithDeadline(20 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, InputEvent(t, 200, "in-0", "in-1")); err != nil {
		t.Fatal(err)
	}
	if got := ReadTopic(t, c, "out"); len(got) != 400 {
		t.Fatalf("read %d records, want 400", len(got))
	}
}

func itemFailuresOneBadPartition(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out", "rejected"))
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "rejected", Err: kerr.InvalidRecord, Count: -1})
	p := impl.newProducer(t, c, nil)
	// A broker rejecting what the function writes is not the input
	// record's fault (the rejection reaches every record of a produce
	// request): by default it fails the invocation, so that it is seen.
	h := EchoHandler(t, p, "out", map[int32]string{1: "rejected"},
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, InputEvent(t, 5, "in-0", "in-1", "in-2")); !errors.Is(err, kafkalambda.ErrUndelivered) ||
		kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("Invoke = %v (class %q), want ErrUndelivered of class configuration", err, kafkalambda.Classify(err))
	}
	// Reported instead, the one partition whose records were rejected is
	// named from its first record on, and the others are done.
	h = EchoHandler(t, p, "out", map[int32]string{1: "rejected"},
		kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()), kafkalambda.WithEnvironmentItemFailures())
	out, err := h.Invoke(ctx, InputEvent(t, 5, "in-0", "in-1", "in-2"))
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
	if got := ReadTopic(t, c, "out"); len(got) != 20 {
		t.Fatalf("read %d records from the good partitions of two invocations, want 20", len(got))
	}
}

func invocationsFlushOnlyTheirOwn(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "slow", "fast"))
	if err := c.Kafka().MoveTopicPartition("slow", 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Kafka().MoveTopicPartition("fast", 0, 1); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	p := impl.newProducer(t, c, nil)
	slow := EchoHandler(t, p, "slow", nil)
	fast := EchoHandler(t, p, "fast", nil)
	// Warm up: metadata for both topics and connections to both brokers,
	// so that nothing the fast invocation needs queues behind the slow
	// topic's delayed requests on broker 0's connection.
	for _, h := range []*kafkalambda.Handler[string, string]{slow, fast} {
		ctx, cancel := WithDeadline(10 * time.Second)
		if _, err := h.Invoke(ctx, InputEvent(t, 1, "in-0")); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	reached := SlowTopic(c.Kafka(), "slow", release)

	var wg sync.WaitGroup
	var slowDone atomic.Bool
	var slowErr error
	wg.Go(func() {
		ctx, cancel := WithDeadline(20 * time.Second)
		defer cancel()
		_, slowErr = slow.Invoke(ctx, InputEvent(t, 5, "in-0"))
		slowDone.Store(true)
	})
	select { // the slow invocation's records are in flight, and held
	case <-reached:
	case <-time.After(time.Minute): // a guard: arrival is the event
		t.Fatal("the slow invocation sent nothing")
	}
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	if _, err := fast.Invoke(ctx, InputEvent(t, 5, "in-0")); err != nil {
		t.Fatal(err)
	}
	// The fast invocation returned while the slow one's records are
	// still held by the broker: it did not wait on them.
	if slowDone.Load() {
		t.Error("the slow invocation finished first: the fast one waited on its messages")
	}
	close(release)
	wg.Wait()
	if slowErr != nil {
		t.Fatalf("slow invocation: %v", slowErr)
	}
}

func flushDeadlinePurges(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "slow"))
	if err := c.Kafka().MoveTopicPartition("slow", 0, 0); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	SlowTopic(c.Kafka(), "slow", release)
	p := impl.newProducer(t, c, nil)
	h := EchoHandler(t, p, "slow", nil, kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()),
		kafkalambda.WithEnvironmentItemFailures(), kafkalambda.WithDeadlineMargin(4*time.Second))
	// The records are held until the test ends: the flush stops at 2 s, 4 s
	// before the deadline, and answers with the purge's reports. A flush
	// that waited for the broker, or for the purge's grace for missing
	// reports, overruns the deadline; a loaded machine needs no 4 s.
	ctx, cancel := WithDeadline(6 * time.Second)
	defer cancel()
	start := time.Now()
	out, err := h.Invoke(ctx, InputEvent(t, 3, "in-0", "in-1"))
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
