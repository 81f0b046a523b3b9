package producertest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Failures: their class, what they say, and what the producer does about
// them.

// A stale password: the brokers refuse it, the hook invalidates the
// cached secret, and the next invocation's producer, built from a fresh
// config, gets through.
func authFailureRebuildsWithFreshConfig(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out"), kfake.EnableSASL(), kfake.Superuser("PLAIN", "app", "rotated-secret"))
	var password atomic.Value
	password.Store("stale-secret")
	var invalidations atomic.Int32
	addr := c.Kafka().ListenAddrs()[0]
	p := impl.new(t, func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": addr, "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism": "PLAIN", "sasl.username": "app", "sasl.password": password.Load().(string)}, nil
	}, func() {
		invalidations.Add(1)
		password.Store("rotated-secret") // what a fresh read of the secret returns
	})
	h := EchoHandler(t, p, "out", nil)
	ctx, cancel := WithDeadline(5 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, InputEvent(t, 3, "in-0"))
	if !errors.Is(err, kafkalambda.ErrUndelivered) || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("Invoke with a stale password = %v (class %q), want ErrUndelivered, configuration", err, kafkalambda.Classify(err))
	}
	if strings.Contains(err.Error(), "stale-secret") {
		t.Errorf("the error quotes the password: %v", err)
	}
	if invalidations.Load() == 0 {
		t.Fatal("the auth failure hook was not called")
	}
	ctx2, cancel2 := WithDeadline(10 * time.Second)
	defer cancel2()
	if _, err := h.Invoke(ctx2, InputEvent(t, 3, "in-0")); err != nil {
		t.Fatalf("Invoke after rotation: %v", err)
	}
}

// With brokers that refuse connections, the invocation's error names the
// refused connection behind the purge at the deadline, with no producer
// logger, and is the environment's fault.
func undeliveredSaysWhy(t *testing.T, impl Impl) {
	addr := kafkalambdatest.ClosedAddr(t)
	p := impl.new(t, func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": addr}, nil
	}, nil)
	h := EchoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
		kafkalambda.WithDeadlineMargin(100*time.Millisecond))
	ctx, cancel := WithDeadline(2 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, InputEvent(t, 2, "in-0"))
	if !errors.Is(err, kafkalambda.ErrUndelivered) || kafkalambda.Classify(err) != kafkalambda.ClassEnvironment {
		t.Fatalf("Invoke = %v (class %q), want ErrUndelivered, environment", err, kafkalambda.Classify(err))
	}
	if !strings.Contains(strings.ToLower(err.Error()), "connection refused") {
		t.Errorf("error %q does not say the connection was refused", err)
	}
	re, ok := errors.AsType[*kafkalambda.RecordError](err)
	if !ok || re.Stage != kafkalambda.StageSend || re.Offset != 100 {
		t.Errorf("error %v: want a *RecordError at stage send for offset 100", err)
	}
}

// An output larger than the producer accepts is refused at Send, the same
// on every retry: the record's fault, so a dead-letter policy isolates it
// and the records after it go on.
func tooLargeIsTheRecords(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out", "dlq"))
	p := impl.newProducer(t, c, map[string]any{"message.max.bytes": 1000})
	big := strings.Repeat("x", 2000)
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.String()).AddAt("t", 0, 1,
		kafkalambdatest.Record[string, string]{Key: "k", Value: "small"},
		kafkalambdatest.Record[string, string]{Key: "k", Value: big},
		kafkalambdatest.Record[string, string]{Key: "k", Value: "small"}).Payload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()

	// DeadLetter copies the record as it came: as large, refused too, and
	// that fails the invocation rather than drop the record.
	h := EchoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
		kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")))
	if _, err := h.Invoke(ctx, payload); !errors.Is(err, kafkalambda.ErrBatchFailed) {
		t.Fatalf("Invoke = %v, want the batch failed: the dead-letter write was refused", err)
	}

	// DeadLetterFunc writes a small record of the user's own instead.
	dlq := kafkalambda.NewOutput("dlq", serde.String(), serde.String())
	var reasons []string
	h = EchoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
		kafkalambda.WithFailurePolicy(kafkalambda.DeadLetterFunc(func(ctx context.Context, f *kafkalambda.Failure) error {
			reasons = append(reasons, string(f.Err.Stage)+": "+string(kafkalambda.Classify(f.Err)))
			return dlq.Send(ctx, string(f.Record.Key), "too large")
		})))
	if _, err := h.Invoke(ctx, payload); err != nil {
		t.Fatalf("Invoke = %v", err)
	}
	if want := []string{"send: record"}; !slices.Equal(reasons, want) {
		t.Errorf("dead-letter reasons %v, want %v", reasons, want)
	}
	if got := ReadTopic(t, c, "dlq"); len(got) != 1 {
		t.Errorf("dlq holds %d records, want 1", len(got))
	}
	// The first invocation wrote record 1 before it failed; the second
	// wrote 1 and 3.
	if got := ReadTopic(t, c, "out"); len(got) != 3 {
		t.Errorf("out holds %d records, want 3", len(got))
	}
}

// The check Start makes at INIT creates the client, which rejects an
// unknown property: the operator's fault, so INIT fails, and the error
// names the property.
func checkRejectsBadProperties(t *testing.T, impl Impl) {
	addr := kafkalambdatest.ClosedAddr(t)
	p := impl.new(t, func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": addr, "no.such.property": "x"}, nil
	}, nil)
	h := EchoHandler(t, p, "out", nil)
	err := h.Check(context.Background())
	if kafkalambda.Classify(err) != kafkalambda.ClassConfiguration || !strings.Contains(err.Error(), "no.such.property") {
		t.Fatalf("Check = %v (class %q), want a configuration error naming the property", err, kafkalambda.Classify(err))
	}
}

// Brokers that refuse the idempotent producer its producer id
// (CLUSTER_AUTHORIZATION_FAILED: no IdempotentWrite permission) fail it;
// every new producer would fail the same way, so it is the operator's
// fault, not the environment's.
func fatalAuthorizationIsConfiguration(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out"))
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.ClusterAuthorizationFailed, Count: -1})
	p := impl.newProducer(t, c, nil)
	h := EchoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := WithDeadline(20 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, InputEvent(t, 1, "in-0"))
	if !errors.Is(err, kafkalambda.ErrUndelivered) || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("Invoke = %v (class %q), want ErrUndelivered, configuration", err, kafkalambda.Classify(err))
	}
	if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "cluster authorization failed") &&
		!strings.Contains(msg, "cluster_authorization_failed") {
		t.Errorf("error %q does not say why", err)
	}
}

// A dead-lettered record is in the dead-letter topic with the SDK's
// headers; a dead-letter write that is not acknowledged fails the
// invocation.
func deadLetter(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out", "dlq"))
	p := impl.newProducer(t, c, nil)
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
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, InputEvent(t, 5, "in-0")); err != nil {
		t.Fatal(err)
	}
	if got := ReadTopic(t, c, "out"); len(got) != 3 {
		t.Fatalf("out has %d records, want 3", len(got))
	}
	dead := ReadTopic(t, c, "dlq")
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
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "dlq", Err: kerr.InvalidRecord, Count: -1})
	if _, err := h.Invoke(ctx, InputEvent(t, 5, "in-0")); !errors.Is(err, kafkalambda.ErrUndelivered) {
		t.Fatalf("Invoke with the dead-letter topic rejecting = %v, want ErrUndelivered", err)
	}
}

// A transient failure of Process is never dead-lettered.
func deadLetterRetriesTransientFailures(t *testing.T, impl Impl) {
	c := NewCluster(t, kfake.SeedTopics(1, "out", "dlq"))
	p := impl.newProducer(t, c, nil)
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
	ctx, cancel := WithDeadline(10 * time.Second)
	defer cancel()
	_, err = h.Invoke(ctx, InputEvent(t, 3, "in-0"))
	if !errors.Is(err, kafkalambda.ErrBatchFailed) || !errors.Is(err, kafkalambda.ErrTransient) {
		t.Fatalf("Invoke = %v, want the batch failed by a transient failure", err)
	}
	if dead := ReadTopic(t, c, "dlq"); len(dead) != 0 {
		t.Fatalf("a transient failure was dead-lettered: %v", dead)
	}
}
