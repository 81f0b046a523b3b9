package esm_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// recorder is an in-process function: it parses each event, keeps it, and
// answers with respond (nil: success).
type recorder struct {
	mu       sync.Mutex
	events   []*kafkalambda.Event
	payloads []int
	respond  func(ctx context.Context, ev *kafkalambda.Event, n int) ([]byte, error) // n counts invocations from 1
}

func (r *recorder) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := kafkalambda.ParseEvent(payload)
	if err != nil {
		return nil, fmt.Errorf("test function: %w", err)
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.payloads = append(r.payloads, len(payload))
	n := len(r.events)
	respond := r.respond
	r.mu.Unlock()
	if respond != nil {
		return respond(ctx, ev, n)
	}
	return nil, nil
}

// seen returns the offsets invoked per "topic-partition", in invocation
// order, duplicates kept.
func (r *recorder) seen() map[string][]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]int64{}
	for _, ev := range r.events {
		for _, p := range ev.Partitions {
			for _, rec := range p.Records {
				out[p.Key] = append(out[p.Key], rec.Offset)
			}
		}
	}
	return out
}

func (r *recorder) count() int {
	n := 0
	for _, offs := range r.seen() {
		n += len(offs)
	}
	return n
}

func (r *recorder) invocations() []*kafkalambda.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// running is a Mapping running in the background.
type running struct {
	m      *esm.Mapping
	cancel context.CancelFunc
	done   chan error
	wake   chan struct{} // signalled by esm.WithProgress
}

// start makes and runs a mapping on c's brokers; it is stopped at the end of
// the test if the test does not stop it.
func start(t *testing.T, c *kafkalambdatest.Cluster, cfg esm.Config, target esm.Target, opts ...esm.Option) *running {
	t.Helper()
	return startOn(t, make(chan struct{}, 1), c, cfg, target, opts...)
}

// startOn is start with the wake channel given: mappings that share one
// can be awaited together (awaitOn).
func startOn(t *testing.T, wake chan struct{}, c *kafkalambdatest.Cluster, cfg esm.Config, target esm.Target, opts ...esm.Option) *running {
	t.Helper()
	cfg.Brokers = c.Brokers()
	if cfg.Group == "" {
		cfg.Group = t.Name()
	}
	opts = append([]esm.Option{esm.WithRetryBackoff(time.Millisecond, 20*time.Millisecond)}, opts...)
	opts = append(opts, progressTo(wake))
	m, err := esm.New(cfg, target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, cancel: cancel, done: make(chan error, 1), wake: wake}
	go func() { r.done <- m.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// stop cancels the mapping and waits for Run to return. Once it has
// returned, the mapping invokes nothing more.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context was canceled")
		return nil
	}
}

// await returns once cond holds, checking it at first and again after each
// invocation the mapping reports and each commit it tries (esm.WithProgress):
// a wait on the mapping's own events, not a poll. It fails the test after
// timeout, which only bounds a test that fails.
func (r *running) await(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	awaitOn(t, r.wake, timeout, what, cond)
}

// progressTo is esm.WithProgress signalling wake (awaitOn) without
// blocking the mapping.
func progressTo(wake chan<- struct{}) esm.Option {
	return esm.WithProgress(func() {
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending: the waiter checks again anyway
		}
	})
}

// awaitOn is await for the mappings started on wake.
func awaitOn(t testing.TB, wake <-chan struct{}, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produceN produces n records to topic-partition with values "<prefix><i>"
// and keys "k<i>".
func produceN(t *testing.T, c *kafkalambdatest.Cluster, topic string, partition int32, n int, prefix string) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Key: []byte("k" + strconv.Itoa(i)), Value: []byte(prefix + strconv.Itoa(i))}
	}
	if err := c.ProduceRecords(testCtx(t), recs...); err != nil {
		t.Fatal(err)
	}
}

// committed returns the group's committed offsets for topic.
func committed(t *testing.T, c *kafkalambdatest.Cluster, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(c.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

// contiguous reports whether offs is from..to-1 in order, each once.
func contiguous(offs []int64, from, to int64) bool {
	if int64(len(offs)) != to-from {
		return false
	}
	for i, o := range offs {
		if o != from+int64(i) {
			return false
		}
	}
	return true
}

// batches collects the mapping's BatchResults.
type batches struct {
	mu  sync.Mutex
	all []esm.BatchResult
}

func (b *batches) add(r esm.BatchResult) {
	b.mu.Lock()
	b.all = append(b.all, r)
	b.mu.Unlock()
}

func (b *batches) get() []esm.BatchResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.all)
}

// readFailures reads the on-failure topic and decodes every record.
func readFailures(t *testing.T, c *kafkalambdatest.Cluster, topic string) ([]*kgo.Record, []*esm.FailureRecord) {
	t.Helper()
	recs, err := c.ReadTopic(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*esm.FailureRecord, len(recs))
	for i, r := range recs {
		if out[i], err = esm.ParseFailureRecord(r.Value); err != nil {
			t.Fatal(err)
		}
	}
	return recs, out
}
