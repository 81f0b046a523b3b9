package librdkafka_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// TestDeadlinePurgeSparesTheNextInvocation: a purge at one invocation's
// deadline must not fail what the next invocation sends. librdkafka's
// broker threads each empty their own queues when they next serve their
// ops; a purge that did not wait for them could empty a queue after the
// next invocation's messages were in it (CI saw all three of an
// invocation's messages "Purged in queue" 3 ms after it began). Here the
// purge is held back until the next send has either gone through or begun
// to wait for it.
func TestDeadlinePurgeSparesTheNextInvocation(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	release := make(chan struct{})
	reached := producertest.SlowTopic(c.Kafka(), "out", release)
	p := newProducer(t, c, nil)
	waiting := make(chan struct{}, 1)
	librdkafka.OnPurgeWait(p, func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	})
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()

	first := make(doneChan, 1)
	if err := p.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("given up")}, first); err != nil {
		t.Fatal(err)
	}
	<-reached // in flight, held at the broker past the deadline
	gate := make(chan struct{})
	librdkafka.HoldPurges(p, gate)
	p.Purge() // the first invocation's deadline

	next := make(doneChan, 1)
	sent := make(chan error, 1)
	go func() { sent <- p.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("next")}, next) }()
	select {
	case <-waiting: // the next invocation's send waits for the purge
	case err := <-sent: // or went ahead: the purge must not reach it
		sent <- err
	}
	close(gate)
	if err := <-first; err == nil {
		t.Fatal("the purged send was reported delivered")
	}
	close(release)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := <-next; err != nil {
		t.Fatalf("the next invocation's send failed: %v", err)
	}
}

// TestStuckPurgeReplacesTheProducer: a deadline purge that does not return
// (a broker thread stuck in a blocking call serves no ops) holds the next
// send for a second at most; then the producer is replaced, and the send
// goes through the new one.
func TestStuckPurgeReplacesTheProducer(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	p := newProducer(t, c, nil)
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	send := func(v string) {
		t.Helper()
		d := make(doneChan, 1)
		if err := p.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte(v)}, d); err != nil {
			t.Fatal(err)
		}
		if err := <-d; err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	send("first")
	before := librdkafka.CurrentGeneration(p)
	gate := make(chan struct{})
	defer close(gate) // lets the old producer's purge, then its close, finish
	librdkafka.HoldPurges(p, gate)
	p.Purge()
	send("next")
	if after := librdkafka.CurrentGeneration(p); after == before {
		t.Errorf("still generation %d after its purge did not return", after)
	}
}
