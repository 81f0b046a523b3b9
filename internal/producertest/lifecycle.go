package producertest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// The client's life: made lazily, retried after a failed creation,
// replaced after a fatal error.

func fatalErrorReplacesProducer(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out"))
	p := impl.newProducer(t, c, nil)
	h := EchoHandler(t, p, "out", nil)
	ctx, cancel := WithDeadline(time.Minute) // working invocations: room for a loaded machine
	defer cancel()
	if _, err := h.Invoke(ctx, InputEvent(t, 3, "in-0")); err != nil {
		t.Fatal(err)
	}
	if gen := impl.Generation(p); gen != 1 {
		t.Fatalf("generation %d after the first invocation", gen)
	}
	impl.Break(t, p)
	// The next invocations must not use the failed client; the first may
	// still meet the failure as it is reported.
	for {
		_, err := h.Invoke(ctx, InputEvent(t, 3, "in-0"))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no recovery after a fatal error: %v", err)
		}
	}
	if gen := impl.Generation(p); gen != 2 {
		t.Fatalf("generation %d, want a new client (2)", gen)
	}
}

func fatalErrorDuringFlushFailsFast(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "slow"))
	if err := c.Kafka().MoveTopicPartition("slow", 0, 0); err != nil {
		t.Fatal(err)
	}
	p := impl.newProducer(t, c, nil)
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
				impl.Break(t, p)
			}
			return nil
		}, kafkalambda.WithProducer(p))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, InputEvent(t, 1, "in-0")); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reached = SlowTopic(c.Kafka(), "slow", release)
	// A deadline far away: the invocation must end on the fatal error,
	// long before it, not at its flush deadline.
	ctx, cancel = WithDeadline(time.Minute)
	defer cancel()
	_, err = h.Invoke(ctx, InputEvent(t, 3, "in-0"))
	if !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke = %v, want ErrUndelivered", err)
	}
	if dl, _ := ctx.Deadline(); time.Until(dl) < 30*time.Second {
		t.Error("Invoke ran to its flush deadline: a fatal error must fail the flush at once")
	}
}

func warm(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out"))
	p := impl.newProducer(t, c, nil)
	w, ok := p.(kafkalambda.Warmer)
	if !ok {
		t.Fatal("the producer is not a kafkalambda.Warmer")
	}
	if gen := impl.Generation(p); gen != 0 {
		t.Fatalf("the constructor created the client (generation %d): it must be lazy", gen)
	}
	if err := w.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gen := impl.Generation(p); gen != 1 {
		t.Fatalf("generation %d after Warm twice, want 1", gen)
	}
	failing := impl.new(t, func(context.Context) (map[string]any, error) {
		return nil, errors.New("no secret yet")
	}, nil)
	if err := failing.(kafkalambda.Warmer).Warm(context.Background()); !errors.Is(err, kafkalambda.ErrProducer) {
		t.Fatalf("Warm with a failing config = %v, want ErrProducer", err)
	}
}

func failedCreationIsRetried(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out"))
	var calls atomic.Int32
	addr := c.Kafka().ListenAddrs()[0]
	p := impl.new(t, func(context.Context) (map[string]any, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("secret source throttled")
		}
		return map[string]any{"bootstrap.servers": addr}, nil
	}, nil)
	h := EchoHandler(t, p, "out", nil)
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, InputEvent(t, 2, "in-0")); !errors.Is(err, kafkalambda.ErrProducer) {
		t.Fatalf("first invocation = %v, want ErrProducer", err)
	}
	if _, err := h.Invoke(ctx, InputEvent(t, 2, "in-0")); err != nil {
		t.Fatalf("second invocation: %v (a failed creation must not be cached)", err)
	}
	if calls.Load() != 2 {
		t.Errorf("config called %d times, want 2", calls.Load())
	}
}
