package failclass_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// seen is what a user meets when a row's failure happens.
type seen struct {
	// err is the failure as the user gets it: the *RecordError the
	// DeadLetterFunc received, or else Invoke's error.
	err error
	// deadLettered: the DeadLetterFunc received the failure.
	deadLettered bool
	// invokeErr is Invoke's error.
	invokeErr error
	// checkErr is the error of Handler.Check, the check Start makes at
	// INIT, run before Invoke on a handler of its own.
	checkErr error
}

// run says how a row's handler is invoked.
type run struct {
	// deadline is the invocation's time (the Lambda deadline from now);
	// default longDeadline, for rows whose outcome comes before it.
	deadline time.Duration
	// producer is the handler's producer, if it sends.
	producer kafkalambda.Producer
	// exactlyOnce is the handler's WithExactlyOnce group, if set.
	exactlyOnce string
}

// longDeadline is the deadline of rows that do not wait for it: long, so
// that a busy machine does not turn their failure into a deadline's.
const longDeadline = 30 * time.Second

// invoke runs the INIT check (Handler.Check) of a Handler of keys, values
// and process whose policy is a DeadLetterFunc that records what it
// receives, then a one-record event (topic "orders", partition 0, offset
// 42, key "k", value), and returns what the user sees. The check and the
// invocation each have the run's deadline.
func invoke[K, V any](t *testing.T, keys serde.Deserializer[K], values serde.Deserializer[V],
	process func(context.Context, *kafkalambda.Record[K, V]) error, value []byte, rn run) seen {
	t.Helper()
	var (
		mu       sync.Mutex
		received []*kafkalambda.Failure
	)
	opts := []kafkalambda.Option{
		kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
		kafkalambda.WithDeadlineMargin(200 * time.Millisecond),
		kafkalambda.WithFailurePolicy(kafkalambda.DeadLetterFunc(func(_ context.Context, f *kafkalambda.Failure) error {
			mu.Lock()
			received = append(received, f)
			mu.Unlock()
			return nil
		})),
	}
	if rn.producer != nil {
		opts = append(opts, kafkalambda.WithProducer(rn.producer))
	}
	if rn.exactlyOnce != "" {
		opts = append(opts, kafkalambda.WithExactlyOnce(rn.exactlyOnce))
	}
	h, err := kafkalambda.NewHandler(keys, values, process, opts...)
	if err != nil {
		t.Fatal(err)
	}
	d := rn.deadline
	if d == 0 {
		d = longDeadline
	}
	var s seen
	ctx, cancel := context.WithTimeout(context.Background(), d)
	s.checkErr = h.Check(ctx)
	cancel()
	ctx, cancel = context.WithTimeout(context.Background(), d)
	defer cancel()
	_, s.invokeErr = h.Invoke(ctx, event(t, value))
	mu.Lock()
	defer mu.Unlock()
	switch len(received) {
	case 0:
		s.err = s.invokeErr
	case 1:
		s.err, s.deadLettered = received[0].Err, true
		if received[0].Class != kafkalambda.ClassRecord {
			t.Errorf("the DeadLetterFunc received a failure of class %q", received[0].Class)
		}
	default:
		t.Fatalf("the DeadLetterFunc received %d failures for one record", len(received))
	}
	return s
}

// event is a one-record event: topic "orders", partition 0, offset 42, key
// "k" and value (nil: a tombstone).
func event(t *testing.T, value []byte) []byte {
	t.Helper()
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.Bytes()).AddAt("orders", 0, 42,
		kafkalambdatest.Record[string, []byte]{Key: "k", Value: value, Tombstone: value == nil}).
		Payload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// sendTo is a Process that sends each record's key and value to out.
func sendTo(out *kafkalambda.Output[string, string]) func(context.Context, *kafkalambda.Record[string, string]) error {
	return func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
		return out.Send(ctx, r.Key, r.Value)
	}
}

// sendValue runs a handler that sends the record (value "v") to topic
// "out" through p, and returns what the user sees.
func sendValue(t *testing.T, p kafkalambda.Producer, value string, rn run) seen {
	t.Helper()
	rn.producer = p
	out := kafkalambda.NewOutput("out", serde.String(), serde.String())
	return invoke(t, serde.String(), serde.String(), sendTo(out), []byte(value), rn)
}

// newProducer returns a librdkafka producer whose config func returns
// config, closed when the test ends.
func newProducer(t *testing.T, config map[string]any) *librdkafka.Producer {
	t.Helper()
	return producerFrom(t, func(context.Context) (map[string]any, error) { return config, nil })
}

// producerFrom returns a librdkafka producer with the config func config,
// closed when the test ends.
func producerFrom(t *testing.T, config func(context.Context) (map[string]any, error)) *librdkafka.Producer {
	t.Helper()
	p, err := librdkafka.NewProducer(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
