package librdkafka_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// TestUndeliveredSaysWhy: with brokers that refuse connections, the
// invocation's error names the refused connection behind the purge at the
// deadline, with no producer logger, and is the environment's fault.
func TestUndeliveredSaysWhy(t *testing.T) {
	t.Parallel()
	addr := kafkalambdatest.ClosedAddr(t)
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": addr}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	h := echoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
		kafkalambda.WithDeadlineMargin(100*time.Millisecond))
	ctx, cancel := withDeadline(2 * time.Second)
	defer cancel()
	_, err = h.Invoke(ctx, inputEvent(t, 2, "in-0"))
	if !errors.Is(err, kafkalambda.ErrUndelivered) || kafkalambda.Classify(err) != kafkalambda.ClassEnvironment {
		t.Fatalf("Invoke = %v (class %q), want ErrUndelivered, environment", err, kafkalambda.Classify(err))
	}
	if !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("error %q does not say the connection was refused", err)
	}
	re, ok := errors.AsType[*kafkalambda.RecordError](err)
	if !ok || re.Stage != kafkalambda.StageSend || re.Offset != 100 {
		t.Errorf("error %v: want a *RecordError at stage send for offset 100", err)
	}
}

// TestTooLargeIsTheRecords: an output larger than the producer accepts is
// refused at Send, the same on every retry: the record's fault, so a
// dead-letter policy isolates it and the records after it go on.
func TestTooLargeIsTheRecords(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out", "dlq"))
	p := newProducer(t, c, map[string]any{"message.max.bytes": 1000})
	big := strings.Repeat("x", 2000)
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.String()).AddAt("t", 0, 1,
		kafkalambdatest.Record[string, string]{Key: "k", Value: "small"},
		kafkalambdatest.Record[string, string]{Key: "k", Value: big},
		kafkalambdatest.Record[string, string]{Key: "k", Value: "small"}).Payload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := withDeadline(10 * time.Second)
	defer cancel()

	// DeadLetter copies the record as it came: as large, refused too, and
	// that fails the invocation rather than drop the record.
	h := echoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
		kafkalambda.WithFailurePolicy(kafkalambda.DeadLetter("dlq")))
	if _, err := h.Invoke(ctx, payload); !errors.Is(err, kafkalambda.ErrBatchFailed) {
		t.Fatalf("Invoke = %v, want the batch failed: the dead-letter write was refused", err)
	}

	// DeadLetterFunc writes a small record of the user's own instead.
	dlq := kafkalambda.NewOutput("dlq", serde.String(), serde.String())
	var reasons []string
	h = echoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
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
	if got := readTopic(t, c, "dlq"); len(got) != 1 {
		t.Errorf("dlq holds %d records, want 1", len(got))
	}
	// The first invocation wrote record 1 before it failed; the second
	// wrote 1 and 3.
	if got := readTopic(t, c, "out"); len(got) != 3 {
		t.Errorf("out holds %d records, want 3", len(got))
	}
}

// TestCheckRejectsBadProperties: the check Start makes at INIT creates the
// librdkafka producer, which rejects an unknown property: the operator's
// fault, so INIT fails.
func TestCheckRejectsBadProperties(t *testing.T) {
	t.Parallel()
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": kafkalambdatest.ClosedAddr(t), "no.such.property": "x"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	h := echoHandler(t, p, "out", nil)
	err = h.Check(context.Background())
	if kafkalambda.Classify(err) != kafkalambda.ClassConfiguration || !strings.Contains(err.Error(), "no.such.property") {
		t.Fatalf("Check = %v (class %q), want a configuration error naming the property", err, kafkalambda.Classify(err))
	}
}

// TestFatalAuthorizationIsConfiguration: brokers that refuse the
// idempotent producer its producer id (CLUSTER_AUTHORIZATION_FAILED: no
// IdempotentWrite permission) make librdkafka fail fatally; every new
// producer would fail the same way, so it is the operator's fault, not
// the environment's.
func TestFatalAuthorizationIsConfiguration(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.ClusterAuthorizationFailed, Count: -1})
	p := newProducer(t, c, nil)
	h := echoHandler(t, p, "out", nil, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := withDeadline(20 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, inputEvent(t, 1, "in-0"))
	if !errors.Is(err, kafkalambda.ErrUndelivered) || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("Invoke = %v (class %q), want ErrUndelivered, configuration", err, kafkalambda.Classify(err))
	}
	if !strings.Contains(err.Error(), "Cluster authorization failed") {
		t.Errorf("error %q does not say why", err)
	}
}
