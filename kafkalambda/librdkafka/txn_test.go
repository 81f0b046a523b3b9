package librdkafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

const progressGroup = "echo-progress"

// owner0 owns the transactions of the tests that begin them by hand: in-0.
var owner0 = kafkalambda.TxnOwner{Group: kafkalambda.ProgressGroup(progressGroup, "in", 0), Topic: "in", Partition: 0}

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
// only offsets are pending (Kafka creates the group at the
// TxnOffsetCommit).
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
func eosHandler(t testing.TB, p *librdkafka.Producer, out string, opts ...kafkalambda.Option) *kafkalambda.Handler[string, string] {
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

func readCommitted(t testing.TB, c *kafkalambdatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := c.ReadCommitted(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// awaitCommitted waits until a read_committed consumer of topic has seen
// n records, then returns what a read_committed read of the whole topic
// sees. A transaction that an invocation gave up on stays open until the
// producer that replaces its own fences it, in the background when the
// invocation's deadline had passed: until then it holds back what
// read_committed consumers see, later outputs included. The consumer
// blocks on the broker's fetch until they become visible; the minute is
// a guard, not a wait.
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

// TestTransactionsAgainstTheBroker: against kfake, librdkafka's
// transactional producer commits an invocation's outputs with its progress;
// the batch again sends nothing; a failed invocation's writes reach the
// log but a read_committed consumer never sees them.
func TestTransactionsAgainstTheBroker(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(20 * time.Second)
	defer cancel()
	batch := inputEvent(t, 5, "in-0")
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
	if _, err := h.Invoke(ctx, inputEvent(t, 2, "in-2")); err != nil {
		t.Fatal(err)
	}
	if got := len(readCommitted(t, c, "out")); got != 7 {
		t.Errorf("a read_committed consumer sees %d outputs, want 7", got)
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
		t.Errorf("committed %d outputs, want only x/0's", len(got))
	}
	if got := progressOf(t, c, 0); got != 11 {
		t.Errorf("progress %d, want 11", got)
	}
}

// TestTransactionsConcurrentInvocations: invocations at once each get a
// transactional producer of the pool, under ids that do not collide.
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
	p := newProducer(t, c, nil, librdkafka.WithTransactionalIDPrefix("settle"))
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 4 {
		wg.Go(func() {
			if _, err := h.Invoke(ctx, inputEvent(t, 3, fmt.Sprint("in-", i))); err != nil {
				t.Error(err)
				failed.Add(1)
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

// TestTransactionsFatalReplacesProducer: a commit that fails fatally
// (PRODUCER_FENCED) fails the invocation; the next gets a new producer
// under the same transactional id and commits.
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
	_, err := h.Invoke(ctx, inputEvent(t, 3, "in-0"))
	if !errors.Is(err, kafkalambda.ErrTransaction) {
		t.Fatalf("fenced commit: %v, want ErrTransaction", err)
	}
	if got := len(readCommitted(t, c, "out")); got != 0 {
		t.Errorf("%d outputs visible after a failed commit", got)
	}
	if _, err := h.Invoke(ctx, inputEvent(t, 3, "in-0")); err != nil {
		t.Fatalf("after a fatal error: %v", err)
	}
	if got := len(readCommitted(t, c, "out")); got != 3 {
		t.Errorf("%d committed outputs, want 3", got)
	}
}

// TestTransactionsAbortableProduceError: a produce request the broker
// rejects makes the transaction abortable; the invocation fails, the
// transaction aborts, and the next one commits on the same producer.
func TestTransactionsAbortableProduceError(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	var rejected atomic.Bool
	c.Kafka().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if !rejected.CompareAndSwap(false, true) {
			return nil, nil, false
		}
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out", kafkalambda.WithFailurePolicy(kafkalambda.ReportItemFailures()))
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 3, "in-0")); !errors.Is(err, kafkalambda.ErrBatchFailed) {
		t.Fatalf("rejected produce: %v, want the invocation to fail", err)
	}
	if _, err := h.Invoke(ctx, inputEvent(t, 3, "in-0")); err != nil {
		t.Fatalf("after an abortable error: %v", err)
	}
	if got := len(readCommitted(t, c, "out")); got != 3 {
		t.Errorf("%d committed outputs, want 3", got)
	}
}

// TestTransactionsProgressWaitsForPendingOffsets: while another transaction
// holds offsets for the progress group (a commit in flight, or an
// environment that died mid-commit), the progress read (OffsetFetch with
// require_stable) waits for it to end, and then sees what it committed.
func TestTransactionsProgressWaitsForPendingOffsets(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	fetches := make(chan struct{}, 100)
	c.Kafka().ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		select {
		case fetches <- struct{}{}:
		default:
		}
		return nil, nil, false
	})
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	createProgressGroup(t, c, 0, 0)
	// Another environment's transaction: offsets for in-0 sent, not yet
	// committed.
	other, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": c.BootstrapServers(),
		"transactional.id": "other-environment", "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for range other.Events() {
		}
	}()
	md, err := kafka.NewTestConsumerGroupMetadata(owner0.Group)
	if err != nil {
		t.Fatal(err)
	}
	topic := "in"
	if err := other.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := other.SendOffsetsToTransaction(ctx, []kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: 103}}, md); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := h.Invoke(ctx, inputEvent(t, 5, "in-0"))
		done <- err
	}()
	for range 2 { // the first answered UNSTABLE_OFFSET_COMMIT, so a second
		select {
		case <-fetches:
		case err := <-done:
			t.Fatalf("the invocation did not wait for the pending offsets: %v", err)
		case <-ctx.Done():
			t.Fatal("no progress read")
		}
	}
	if err := other.CommitTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := readCommitted(t, c, "out")
	if len(got) != 2 || string(got[0].Value) != "in-0/3" {
		t.Errorf("committed %d outputs, want those of offsets 103 and 104 only", len(got))
	}
	if p := progressOf(t, c, 0); p != 105 {
		t.Errorf("progress %d, want 105", p)
	}
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

// TestTransactionsAbortCutShort: an abort that does not finish within its
// ctx (the coordinator slow to answer) is finished before the producer's
// next transaction begins: no transaction is left open across
// invocations, and the next one commits alone.
func TestTransactionsAbortCutShort(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	release := make(chan struct{})
	reached := make(chan struct{})
	var hold atomic.Bool
	hold.Store(true)
	c.Kafka().ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if !req.(*kmsg.EndTxnRequest).Commit && hold.CompareAndSwap(true, false) {
			close(reached)
			c.Kafka().SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	p := newProducer(t, c, nil)
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	txn, err := p.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	sendIn(ctx, t, txn, "aborted")
	// The coordinator holds the abort until release: it cannot finish
	// within any ctx.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if err := txn.Abort(short); err == nil {
		t.Fatal("an abort held at the coordinator returned nil")
	}
	<-reached
	close(release)
	next, err := p.BeginTxn(ctx, owner0) // the same producer: it finishes the abort first
	if err != nil {
		t.Fatal(err)
	}
	sendIn(ctx, t, next, "committed")
	if err := next.Commit(ctx, owner0.Group, []kafkalambda.PartitionOffset{{Topic: "in", Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	got := readCommitted(t, c, "out")
	if len(got) != 1 || string(got[0].Value) != "committed" {
		t.Errorf("read_committed sees %d records, want only the committed one", len(got))
	}
	if all := readTopic(t, c, "out"); len(all) != 2 {
		t.Errorf("%d records in the log, want 2 (one aborted)", len(all))
	}
}

// TestTransactionsStuckCoordinatorKeepsTheDeadline: a group coordinator
// that does not answer the progress's TxnOffsetCommit fails the invocation
// by its deadline (librdkafka's send_offsets_to_transaction may not return
// by its own: confluentinc/librdkafka#5456), and once it answers again the
// next invocation commits.
func TestTransactionsStuckCoordinatorKeepsTheDeadline(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	release := make(chan struct{})
	var hold atomic.Bool
	hold.Store(true)
	c.Kafka().ControlKey(int16(kmsg.TxnOffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if hold.CompareAndSwap(true, false) {
			c.Kafka().SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	p := newProducer(t, c, nil)
	h := eosHandler(t, p, "out")
	ctx, cancel := producertest.WithDeadline(3 * time.Second)
	_, err := h.Invoke(ctx, inputEvent(t, 2, "in-0"))
	cancel()
	if !errors.Is(err, kafkalambda.ErrTransaction) {
		t.Fatalf("commit with the coordinator stuck: %v, want ErrTransaction", err)
	}
	close(release)
	ctx, cancel = producertest.WithDeadline(30 * time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, inputEvent(t, 2, "in-0")); err != nil {
		t.Fatalf("once the coordinator answers: %v", err)
	}
	// The first transaction is settled in the background (its deadline had
	// passed): the outputs show once its producer is fenced.
	if got := len(awaitCommitted(t, c, "out", 2)); got != 2 {
		t.Errorf("%d committed outputs, want 2", got)
	}
}

// A config that sets transactional.id is refused as the operator's fault,
// in both modes, and the id's value is not in the error: the producer owns
// transactional ids. Without the guard the shared producer turns
// transactional and its sends fail with a state error, and exactly-once
// mode silently overrides the key.
func TestConfigMayNotSetTransactionalID(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out", "in"))
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly-once=%v", eos), func(t *testing.T) {
			p := newProducer(t, c, map[string]any{"transactional.id": "settle-secret-id"})
			var h *kafkalambda.Handler[string, string]
			if eos {
				h = eosHandler(t, p, "out")
			} else {
				h = echoHandler(t, p, "out", nil)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := h.Invoke(ctx, inputEvent(t, 2, "in-0"))
			if err == nil {
				t.Fatal("the invocation succeeded")
			}
			if got := kafkalambda.Classify(err); got != kafkalambda.ClassConfiguration {
				t.Errorf("class %q, want configuration: %v", got, err)
			}
			if !strings.Contains(err.Error(), "transactional.id") || strings.Contains(err.Error(), "settle-secret-id") {
				t.Errorf("want the key named and its value left out: %v", err)
			}
		})
	}
}
