package librdkafka_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

func TestProducerFatalErrorReplacesProducer(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	p := newProducer(t, c, nil)
	h := echoHandler(t, p, "out", nil)
	ctx, cancel := withDeadline(time.Minute) // working invocations: room for a loaded machine
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 3, "in-0")); err != nil {
		t.Fatal(err)
	}
	kp, gen := librdkafka.CurrentProducer(p)
	if gen != 1 {
		t.Fatalf("generation %d after the first invocation", gen)
	}
	kp.TestFatalError(kafka.ErrOutOfOrderSequenceNumber, "injected by the test")
	// The next invocation must not use the failed producer.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := h.Invoke(ctx, inputEvent(t, 3, "in-0"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after a fatal error: %v", err)
		}
	}
	if _, gen := librdkafka.CurrentProducer(p); gen != 2 {
		t.Fatalf("generation %d, want a new producer (2)", gen)
	}
}

func TestProducerFatalErrorDuringFlushFailsFast(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "slow"))
	if err := c.Kafka().MoveTopicPartition("slow", 0, 0); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, c, nil)
	out := kafkalambda.NewOutput("slow", serde.String(), serde.String())
	var reached <-chan struct{} // set once the producer is warm
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			if err := out.Send(ctx, r.Key, r.Value); err != nil {
				return err
			}
			if reached != nil && r.Offset == 102 {
				// Every record is sent and the first is held by the broker:
				// the fatal error strikes as the flush begins.
				<-reached
				kp, _ := librdkafka.CurrentProducer(p)
				kp.TestFatalError(kafka.ErrOutOfOrderSequenceNumber, "injected")
			}
			return nil
		}, kafkalambda.WithProducer(p))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := withDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 1, "in-0")); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reached = slowTopic(c.Kafka(), "slow", release)
	// The records are held until the test ends, so a flush that ignored
	// the fatal error would run to its deadline, two minutes away; half of
	// that is a gap no loaded machine needs.
	fctx, fcancel := withDeadline(2 * time.Minute)
	defer fcancel()
	start := time.Now()
	_, err = h.Invoke(fctx, inputEvent(t, 3, "in-0"))
	if !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke = %v, want ErrUndelivered", err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("Invoke took %v: a fatal error must fail the flush at once, not at the deadline", took)
	}
}

func TestDeadLetter(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out", "dlq"))
	p := newProducer(t, c, nil)
	out := kafkalambda.NewOutput("out", serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			if strings.HasSuffix(r.Value, "/1") || strings.HasSuffix(r.Value, "/3") {
				return errors.New("poison " + r.Value)
			}
			return out.Send(ctx, r.Key, r.Value)
		}, kafkalambda.WithProducer(p), kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := withDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 5, "in-0")); err != nil {
		t.Fatal(err)
	}
	if got := readTopic(t, c, "out"); len(got) != 3 {
		t.Fatalf("out has %d records, want 3", len(got))
	}
	dead := readTopic(t, c, "dlq")
	if len(dead) != 2 {
		t.Fatalf("dlq has %d records, want 2", len(dead))
	}
	for i, r := range dead {
		h := map[string]string{}
		for _, hd := range r.Headers {
			h[hd.Key] = string(hd.Value)
		}
		wantOffset := strconv.Itoa(101 + 2*i)
		if string(r.Value) != "in-0/"+strconv.Itoa(1+2*i) || h[kafkalambda.HeaderSourceTopic] != "in" ||
			h[kafkalambda.HeaderSourcePartition] != "0" || h[kafkalambda.HeaderSourceOffset] != wantOffset ||
			h[kafkalambda.HeaderErrorStage] != "process" || !strings.Contains(h[kafkalambda.HeaderError], "poison") {
			t.Errorf("dead letter %d: value %q headers %v", i, r.Value, h)
		}
	}
	// A dead-letter write that is not acknowledged fails the invocation.
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "dlq", Err: kerr.InvalidRecord, Count: -1})
	if _, err := h.Invoke(ctx, inputEvent(t, 5, "in-0")); !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke with the dead-letter topic rejecting = %v, want ErrUndelivered", err)
	}
}

func TestProducerWarm(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	p := newProducer(t, c, nil)
	if _, gen := librdkafka.CurrentProducer(p); gen != 0 {
		t.Fatalf("NewProducer created the producer (generation %d): it must be lazy", gen)
	}
	if err := p.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, gen := librdkafka.CurrentProducer(p); gen != 1 {
		t.Fatalf("generation %d after Warm twice, want 1", gen)
	}
	failing, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return nil, errors.New("no secret yet")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := failing.Warm(context.Background()); !errors.Is(err, kafkalambda.ErrProducer) {
		t.Fatalf("Warm with a failing config = %v, want ErrProducer", err)
	}
}

func TestProducerFailedCreationIsRetried(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	var calls atomic.Int32
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("secret source throttled")
		}
		return map[string]any{"bootstrap.servers": c.Kafka().ListenAddrs()[0]}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	h := echoHandler(t, p, "out", nil)
	ctx, cancel := withDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 2, "in-0")); !errors.Is(err, kafkalambda.ErrProducer) {
		t.Fatalf("first invocation = %v, want ErrProducer", err)
	}
	if _, err := h.Invoke(ctx, inputEvent(t, 2, "in-0")); err != nil {
		t.Fatalf("second invocation: %v (a failed creation must not be cached)", err)
	}
	if calls.Load() != 2 {
		t.Errorf("config called %d times, want 2", calls.Load())
	}
}

func TestDeadLetterRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out", "dlq"))
	p := newProducer(t, c, nil)
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			if strings.HasSuffix(r.Value, "/1") {
				return kafkalambda.Transient(errors.New("pricing service unavailable"))
			}
			return nil
		}, kafkalambda.WithProducer(p), kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := withDeadline(10 * time.Second)
	defer cancel()
	_, err = h.Invoke(ctx, inputEvent(t, 3, "in-0"))
	if !errors.Is(err, kafkalambda.ErrBatchFailed) || !errors.Is(err, kafkalambda.ErrTransient) {
		t.Fatalf("Invoke = %v, want the batch failed by a transient failure", err)
	}
	if dead := readTopic(t, c, "dlq"); len(dead) != 0 {
		t.Fatalf("a transient failure was dead-lettered: %v", dead)
	}
}
