package franz_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

const progressGroup = "echo-progress"

// owner0 owns the transactions of the tests that begin them by hand: in-0.
var owner0 = kafkalambda.TxnOwner{Group: kafkalambda.ProgressGroup(progressGroup, "in", 0), Topic: "in", Partition: 0}

// newCluster starts an in-process broker, closed when the test ends.
func newCluster(t testing.TB, opts ...kfake.Opt) *kafkalambdatest.Cluster {
	t.Helper()
	return producertest.NewCluster(t, opts...)
}

// newProducer returns a Producer for the cluster with extra properties,
// closed when the test ends.
func newProducer(t testing.TB, c *kafkalambdatest.Cluster, extra map[string]any, opts ...franz.Option) *franz.Producer {
	t.Helper()
	addrs := c.BootstrapServers()
	p, err := franz.NewProducer(func(context.Context) (map[string]any, error) {
		cm := map[string]any{"bootstrap.servers": addrs}
		for k, v := range extra {
			cm[k] = v
		}
		return cm, nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// admin returns an admin client of the cluster and a ctx of 10 s, both
// ended with the test.
func admin(t testing.TB, c *kafkalambdatest.Cluster) (*kadm.Client, context.Context) {
	t.Helper()
	cl, err := kgo.NewClient(c.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return kadm.NewClient(cl), ctx
}

// createProgressGroup makes in-part's progress group exist, at offset at.
// kfake needs it for a progress read to wait on pending offsets: it
// answers GROUP_ID_NOT_FOUND, not UNSTABLE_OFFSET_COMMIT, for a group whose
// only offsets are pending.
func createProgressGroup(t testing.TB, c *kafkalambdatest.Cluster, part int32, at int64) {
	t.Helper()
	adm, ctx := admin(t, c)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "in", Partition: part, At: at, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, kafkalambda.ProgressGroup(progressGroup, "in", part), offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// eosHandler sends every record's value to out in exactly-once mode, and
// fails a record whose value ends in "/poison".
func eosHandler(t testing.TB, p *franz.Producer, out string, opts ...kafkalambda.Option) *kafkalambda.Handler[string, string] {
	t.Helper()
	o := kafkalambda.NewOutput(out, serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			if err := o.Send(ctx, r.Key, r.Value); err != nil {
				return err
			}
			if strings.HasSuffix(r.Value, "/poison") {
				return errors.New("poison")
			}
			return nil
		}, append([]kafkalambda.Option{kafkalambda.WithProducer(p), kafkalambda.WithExactlyOnce(progressGroup)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func readTopic(t testing.TB, c *kafkalambdatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	return producertest.ReadTopic(t, c, topic)
}

func readCommitted(t testing.TB, c *kafkalambdatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard
	defer cancel()
	recs, err := c.ReadCommitted(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// awaitCommitted waits until a read_committed consumer of topic has seen
// n records, then returns what a read_committed read of the whole topic
// sees: a transaction given up on at the deadline is settled in the
// background, and holds back what read_committed consumers see until
// then. The consumer blocks on the broker's fetch; the minute is a guard.
func awaitCommitted(t testing.TB, c *kafkalambdatest.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append(c.ClientOptions(), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for seen := 0; seen < n; {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("a read_committed consumer saw %d records of %s in a minute, want %d", seen, topic, n)
		}
		seen += fetches.NumRecords()
	}
	return readCommitted(t, c, topic)
}

// progressOf reads the committed offset of in-part's progress group, -1
// for none.
func progressOf(t testing.TB, c *kafkalambdatest.Cluster, part int32) int64 {
	t.Helper()
	adm, ctx := admin(t, c)
	offs, err := adm.FetchOffsets(ctx, kafkalambda.ProgressGroup(progressGroup, "in", part))
	if errors.Is(err, kerr.GroupIDNotFound) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup("in", part)
	if !ok {
		return -1
	}
	return o.At
}

// sendIn sends v to "out" in txn and waits for its delivery report, which
// must be a success.
func sendIn(ctx context.Context, t testing.TB, txn kafkalambda.Txn, v string) {
	t.Helper()
	d := make(doneChan, 1)
	if err := txn.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte(v)}, d); err != nil {
		t.Fatal(err)
	}
	if err := <-d; err != nil {
		t.Fatal(err)
	}
}

// doneChan is a kafkalambda.Delivery that reports on a channel.
type doneChan chan error

func (d doneChan) Done(err error) { d <- err }

// values returns the records' values.
func values(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	return out
}

// TestTransactionsAgainstTheBroker: against kfake, the transactional
// clients commit an invocation's outputs with its progress; the batch
// again sends nothing; a failed invocation's writes reach the log but a
// read_committed consumer never sees them; an invocation whose partition
// sends nothing still commits its progress (a transaction that holds only
// offsets, which kgo alone would not end).
func TestTransactionsAgainstTheBroker(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(20 * time.Second)
	defer cancel()
	batch := producertest.InputEvent(t, 5, "in-0")
	for range 2 {
		if _, err := h.Invoke(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(readCommitted(t, c, "out")); got != 5 {
		t.Errorf("%d committed outputs after the batch twice, want 5", got)
	}
	if got := len(readTopic(t, c, "out")); got != 5 {
		t.Errorf("%d outputs in the log, want 5: the batch again wrote", got)
	}
	if got := progressOf(t, c, 0); got != 105 {
		t.Errorf("progress %d, want 105", got)
	}

	// A batch that fails after three sends: written, aborted, invisible.
	poisoned := kafkalambdatest.NewEvent(serde.String(), serde.String()).AddAt("in", 1, 0,
		kafkalambdatest.Record[string, string]{Key: "a", Value: "x/0"},
		kafkalambdatest.Record[string, string]{Key: "b", Value: "x/1"},
		kafkalambdatest.Record[string, string]{Key: "c", Value: "x/poison"},
		kafkalambdatest.Record[string, string]{Key: "d", Value: "x/3"})
	payload, err := poisoned.Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(ctx, payload); !errors.Is(err, kafkalambda.ErrBatchFailed) {
		t.Fatalf("poisoned batch: %v, want it to fail", err)
	}
	if got := len(readTopic(t, c, "out")); got != 7 {
		t.Errorf("%d outputs in the log, want 7 (two of them aborted)", got)
	}
	if got := len(readCommitted(t, c, "out")); got != 5 {
		t.Errorf("a read_committed consumer sees %d outputs, want 5", got)
	}
	if got := progressOf(t, c, 1); got != -1 {
		t.Errorf("progress of the failed partition %d, want none", got)
	}
	// The next invocation gets a producer with no transaction left open.
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 2, "in-2")); err != nil {
		t.Fatal(err)
	}
	if got := len(readCommitted(t, c, "out")); got != 7 {
		t.Errorf("a read_committed consumer sees %d outputs, want 7", got)
	}

	// A transaction that sends nothing holds only the progress (which kgo
	// alone would not end), and commits it.
	txn, err := p.BeginTxn(ctx, kafkalambda.TxnOwner{Group: kafkalambda.ProgressGroup(progressGroup, "in", 3), Topic: "in", Partition: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(ctx, kafkalambda.ProgressGroup(progressGroup, "in", 3), []kafkalambda.PartitionOffset{{Topic: "in", Partition: 3, Offset: 41}}); err != nil {
		t.Fatal(err)
	}
	if got := progressOf(t, c, 3); got != 41 {
		t.Errorf("progress of a transaction that sent nothing: %d, want 41", got)
	}
}

// TestTransactionsItemFailures: under ReportItemFailures the records before
// the failed one commit, with the progress up to it.
func TestTransactionsItemFailures(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out", kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	ctx, cancel := producertest.WithDeadline(20 * time.Second)
	defer cancel()
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.String()).AddAt("in", 0, 10,
		kafkalambdatest.Record[string, string]{Key: "a", Value: "x/0"},
		kafkalambdatest.Record[string, string]{Key: "b", Value: "x/poison"},
		kafkalambdatest.Record[string, string]{Key: "c", Value: "x/2"}).Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil || string(out) != `{"batchItemFailures":[{"itemIdentifier":{"partition":"in-0","offset":11}},{"itemIdentifier":{"partition":"in-0","offset":12}}]}` {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	if got := readCommitted(t, c, "out"); len(got) != 1 || string(got[0].Value) != "x/0" {
		t.Errorf("committed %q, want only x/0", values(got))
	}
	if got := progressOf(t, c, 0); got != 11 {
		t.Errorf("progress %d, want 11", got)
	}
}

// TestTransactionsConcurrentInvocations: invocations at once each get a
// transactional client of the pool, under ids with the prefix.
func TestTransactionsConcurrentInvocations(t *testing.T) {
	t.Parallel()
	var ids sync.Map
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	c.Kafka().ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if id := req.(*kmsg.InitProducerIDRequest).TransactionalID; id != nil {
			ids.Store(*id, true)
		}
		return nil, nil, false
	})
	p := newProducer(t, c, nil, franz.WithTransactionalIDPrefix("settle"))
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if _, err := h.Invoke(ctx, producertest.InputEvent(t, 3, fmt.Sprint("in-", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(readCommitted(t, c, "out")); got != 12 {
		t.Errorf("%d committed outputs, want 12", got)
	}
	n := 0
	ids.Range(func(k, _ any) bool {
		n++
		if !strings.HasPrefix(k.(string), "settle-") {
			t.Errorf("transactional id %q without the prefix", k)
		}
		return true
	})
	if n < 1 || n > 4 {
		t.Errorf("%d transactional ids for 4 invocations", n)
	}
}

// TestTransactionsTwoPartitionsAtOnce: one invocation's two partitions are
// two transactions on two clients at once, both committed.
func TestTransactionsTwoPartitionsAtOnce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 3, "in-0", "in-1")); err != nil {
		t.Fatal(err)
	}
	if got := len(readCommitted(t, c, "out")); got != 6 {
		t.Errorf("%d committed outputs, want 6", got)
	}
	if p0, p1 := progressOf(t, c, 0), progressOf(t, c, 1); p0 != 103 || p1 != 103 {
		t.Errorf("progress %d and %d, want 103 each", p0, p1)
	}
}

// TestTransactionsFatalReplacesProducer: a commit that fails fatally
// (PRODUCER_FENCED) fails the invocation with ErrTransaction; the next
// gets a new client under the same transactional id and commits.
func TestTransactionsFatalReplacesProducer(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	var fenced atomic.Bool
	c.Kafka().ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || !fenced.CompareAndSwap(false, true) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.ProducerFenced.Code
		return resp, nil, true
	})
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, producertest.InputEvent(t, 3, "in-0"))
	if !errors.Is(err, kafkalambda.ErrTransaction) || !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("fenced commit: %v, want ErrTransaction with PRODUCER_FENCED", err)
	}
	if got := kafkalambda.Classify(err); got != kafkalambda.ClassEnvironment {
		t.Errorf("class %s, want environment", got)
	}
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 3, "in-0")); err != nil {
		t.Fatalf("after a fatal error: %v", err)
	}
	if got := len(awaitCommitted(t, c, "out", 3)); got != 3 {
		t.Errorf("%d committed outputs, want 3", got)
	}
	if got := progressOf(t, c, 0); got != 103 {
		t.Errorf("progress %d, want 103", got)
	}
}

// TestTransactionsAbortableProduceError: a produce request the broker
// rejects fails the invocation, the transaction aborts, and the next one
// commits.
func TestTransactionsAbortableProduceError(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.InvalidRecord, Count: 1})
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out", kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 3, "in-0")); !errors.Is(err, kafkalambda.ErrBatchFailed) {
		t.Fatalf("rejected produce: %v, want the invocation to fail", err)
	}
	if _, err := h.Invoke(ctx, producertest.InputEvent(t, 3, "in-0")); err != nil {
		t.Fatalf("after an abortable error: %v", err)
	}
	if got := len(readCommitted(t, c, "out")); got != 3 {
		t.Errorf("%d committed outputs, want 3", got)
	}
}

// TestTransactionsAuthorizationIsConfiguration: brokers that refuse the
// transactional id fail the invocation as the operator's fault.
func TestTransactionsAuthorizationIsConfiguration(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	c.Kafka().ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		r := req.(*kmsg.InitProducerIDRequest)
		if r.TransactionalID == nil {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil, true
	})
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, producertest.InputEvent(t, 1, "in-0"))
	if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("refused transactional id: %v (class %s), want TRANSACTIONAL_ID_AUTHORIZATION_FAILED of class configuration",
			err, kafkalambda.Classify(err))
	}
}

// A config that sets transactional.id is refused as the operator's fault,
// and the id's value is not in the error: the producer owns transactional
// ids.
func TestConfigMayNotSetTransactionalID(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out", "in"))
	p := newProducer(t, c, map[string]any{"transactional.id": "settle-secret-id"})
	h := eosHandler(t, p, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := h.Invoke(ctx, producertest.InputEvent(t, 2, "in-0"))
	if err == nil {
		t.Fatal("the invocation succeeded")
	}
	if got := kafkalambda.Classify(err); got != kafkalambda.ClassConfiguration {
		t.Errorf("class %q, want configuration: %v", got, err)
	}
	if !strings.Contains(err.Error(), "transactional.id") || strings.Contains(err.Error(), "settle-secret-id") {
		t.Errorf("want the key named and its value left out: %v", err)
	}
}
