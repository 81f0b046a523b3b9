package esm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// A full batch does not wait for the window; a partial one waits for it.
func TestBatchingWindow(t *testing.T) {
	t.Parallel()
	t.Run("batch size reached before a long window", func(t *testing.T) {
		t.Parallel()
		c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
		produceN(t, c, "in", 0, 10, "")
		fn := &recorder{}
		r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
			esm.WithBatchSize(5), esm.WithBatchingWindow(time.Minute))
		r.await(t, time.Minute, "two full batches", func() bool { return fn.count() >= 10 })
		for _, ev := range fn.invocations() {
			if ev.Len() != 5 {
				t.Fatalf("event of %d records, want 5", ev.Len())
			}
		}
	})
	t.Run("records arriving within the window share an event", func(t *testing.T) {
		t.Parallel()
		// No clock is read: the window outlasts the test and the batch is
		// due at its fifth record. Each record is produced once the
		// mapping has read the one before, so the five arrive in five
		// fetches, and a partial batch invoked early shows as a second
		// event.
		c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
		fn := &recorder{}
		read := make(batchRead, 8)
		r := start(t, c, esm.Config{Topics: []string{"in"}, KafkaOptions: []kgo.Opt{kgo.WithHooks(read)}},
			&esm.HandlerTarget{Handler: fn}, esm.WithBatchSize(5), esm.WithBatchingWindow(esm.MaxBatchingWindow))
		<-r.m.Ready()
		for i := range 5 {
			produceN(t, c, "in", 0, 1, fmt.Sprint("r", i))
			select {
			case <-read:
			case <-time.After(time.Minute): // a guard: the read is the event
				t.Fatalf("record %d was not read", i)
			}
		}
		r.await(t, time.Minute, "5 records", func() bool { return fn.count() >= 5 })
		if evs := fn.invocations(); len(evs) != 1 {
			t.Fatalf("%d events, want the 5 records in one", len(evs))
		}
	})
	t.Run("a partial batch waits for the window", func(t *testing.T) {
		t.Parallel()
		c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
		fn := &recorder{}
		r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn}, esm.WithBatchingWindow(time.Second))
		<-r.m.Ready()
		began := time.Now() // before the records exist, so before the window opens
		produceN(t, c, "in", 0, 2, "r")
		r.await(t, time.Minute, "2 records", func() bool { return fn.count() >= 2 })
		// A lower bound: a loaded machine only makes the invocation later.
		if took := time.Since(began); took < time.Second {
			t.Fatalf("invoked after %v, before the 1s window", took)
		}
	})
}

// batchRead signals each record batch the mapping's client reads.
type batchRead chan struct{}

func (b batchRead) OnFetchBatchRead(kgo.BrokerMetadata, string, int32, kgo.FetchBatchMetrics) {
	select {
	case b <- struct{}{}:
	default:
	}
}

// LATEST skips what is in the topic when the group first gets a partition;
// AT_TIMESTAMP starts at a time; committed offsets win over both.
func TestStartingPositions(t *testing.T) {
	t.Parallel()
	t.Run("LATEST", func(t *testing.T) {
		t.Parallel()
		c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
		produceN(t, c, "in", 0, 5, "old")
		fn := &recorder{}
		fetching := make(fetchSent, 1)
		r := start(t, c, esm.Config{Topics: []string{"in"}, StartingPosition: esm.Latest, KafkaOptions: []kgo.Opt{kgo.WithHooks(fetching)}},
			&esm.HandlerTarget{Handler: fn}, esm.WithBatchingWindow(0))
		// The end offset is read at some point after the assignment; the
		// client fetches only partitions whose offset it knows, so what is
		// produced after its first fetch is new.
		select {
		case <-fetching:
		case <-testCtx(t).Done():
			t.Fatal("the mapping never fetched")
		}
		produceN(t, c, "in", 0, 1, "new")
		r.await(t, time.Minute, "the new record", func() bool { return fn.count() > 0 })
		for _, ev := range fn.invocations() {
			for _, rec := range ev.Partitions[0].Records {
				if strings.HasPrefix(string(rec.Value), "old") {
					t.Fatalf("LATEST delivered an old record: %s@%d", rec.Value, rec.Offset)
				}
			}
		}
	})
	t.Run("AT_TIMESTAMP", func(t *testing.T) {
		t.Parallel()
		c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		var recs []*kgo.Record
		for i := range 6 {
			recs = append(recs, &kgo.Record{Topic: "in", Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		if err := c.ProduceRecords(testCtx(t), recs...); err != nil {
			t.Fatal(err)
		}
		fn := &recorder{}
		r := start(t, c, esm.Config{Topics: []string{"in"}, StartingPosition: esm.AtTimestamp, StartingTimestamp: base.Add(3 * time.Second)},
			&esm.HandlerTarget{Handler: fn})
		r.await(t, time.Minute, "3 records", func() bool { return fn.count() >= 3 })
		if got := fmt.Sprint(fn.seen()["in-0"]); got != "[3 4 5]" {
			t.Fatalf("invoked %s", got)
		}
	})
	t.Run("TRIM_HORIZON then committed offsets", func(t *testing.T) {
		t.Parallel()
		c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
		produceN(t, c, "in", 0, 4, "")
		fn := &recorder{}
		cfg := esm.Config{Topics: []string{"in"}, Group: "g", StartingPosition: esm.TrimHorizon}
		r := start(t, c, cfg, &esm.HandlerTarget{Handler: fn})
		r.await(t, time.Minute, "4 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 4 })
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		produceN(t, c, "in", 0, 2, "later")
		fn2 := &recorder{}
		r2 := start(t, c, cfg, &esm.HandlerTarget{Handler: fn2})
		r2.await(t, time.Minute, "2 more records", func() bool { return fn2.count() >= 2 })
		if got := fmt.Sprint(fn2.seen()["in-0"]); got != "[4 5]" {
			t.Fatalf("restarted group invoked %s", got)
		}
	})
}

// fetchSent is a kgo hook that signals each Fetch request the client sends.
type fetchSent chan struct{}

func (f fetchSent) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == int16(kmsg.Fetch) && err == nil {
		select {
		case f <- struct{}{}:
		default:
		}
	}
}

type tick struct {
	Symbol string `avro:"symbol"`
	Price  int32  `avro:"price"`
}

const tickSchema = `{"type":"record","name":"Tick","fields":[{"name":"symbol","type":"string"},{"name":"price","type":"int"}]}`

// The registry integration in SOURCE mode: the Confluent prefix is stripped,
// the schema's format and id go into valueSchemaMetadata, and serde reads it.
// As on AWS, a value not in the wire format is never delivered but goes to
// the on-failure topic as DESERIALIZATION_ERROR, one of an unknown schema id
// as SCHEMA_NOT_FOUND, each counted by its reason.
func TestSchemaRegistrySource(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("ticks", 1), kafkalambdatest.WithTopic("dlq", 1),
		kafkalambdatest.WithRegistryAuth("reg", "pw"))
	codec, err := serde.Avro[tick](c.RegistryClient(), serde.WithSchema(tickSchema))
	if err != nil {
		t.Fatal(err)
	}
	if err := kafkalambdatest.ProduceTo(ctx, c, "ticks", 0, serde.String(), codec,
		kafkalambdatest.Record[string, tick]{Key: "ACME", Value: tick{"ACME", 10}}); err != nil {
		t.Fatal(err)
	}
	unknown := []byte{0, 0, 0, 0x27, 0x0f, 1, 2}
	if err := c.ProduceRecords(ctx, &kgo.Record{Topic: "ticks", Value: []byte("plain")}, &kgo.Record{Topic: "ticks", Value: unknown}); err != nil {
		t.Fatal(err)
	}
	fn := &recorder{}
	r := start(t, c, esm.Config{Topics: []string{"ticks"}}, &esm.HandlerTarget{Handler: fn}, esm.WithOnFailureTopic("dlq"),
		esm.WithSchemaRegistry(esm.SchemaRegistry{URL: c.RegistryURL(), Username: "reg", Password: "pw"}))
	r.await(t, time.Minute, "3 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 3 })
	var recs []kafkalambda.RawRecord
	for _, ev := range fn.invocations() {
		recs = append(recs, ev.Partitions[0].Records...)
	}
	first := recs[0]
	if first.KeySchema != nil || first.ValueSchema == nil || first.ValueSchema.DataFormat != "AVRO" || first.ValueSchema.SchemaID == "" ||
		len(first.Value) == 0 || first.Value[0] == 0 || string(first.Key) != "ACME" {
		t.Fatalf("SOURCE record: %+v", first)
	}
	got, err := codec.Deserialize(ctx, serde.Message{Topic: "ticks", Data: first.Value, Schema: first.ValueSchema})
	if err != nil || got != (tick{"ACME", 10}) {
		t.Fatalf("serde reading SOURCE mode: %+v, %v", got, err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records delivered, want only the one the registry knows", len(recs))
	}
	msgs, frs := readFailures(t, c, "dlq")
	conditions := map[string]string{} // offset: condition
	for _, fr := range frs {
		if fr.RequestContext.ApproximateInvokeCount != 0 {
			t.Errorf("a rejected record was invoked: %+v", fr.RequestContext)
		}
		conditions[fr.KafkaBatchInfo.RecordInfo.Offset] = fr.RequestContext.Condition
	}
	if len(msgs) != 2 || conditions["1"] != esm.ConditionDeserializationError || conditions["2"] != esm.ConditionSchemaNotFound {
		t.Fatalf("on-failure conditions by offset %v", conditions)
	}
	if st := r.m.Stats(); st.SchemaMisses != 1 || st.SchemaDecodeErrors != 1 || st.RecordsOnFailure != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// Two mappings in one group share the partitions. A partition moving from
// one to the other during a rebalance finishes its batch in flight and
// commits first: no partition is ever invoked by both at once, nothing is
// lost and nothing is delivered twice.
func TestRebalance(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 4))
	var mu sync.Mutex
	inflight := map[string]bool{}
	total := 0 // records delivered, the end markers aside
	ends := map[string]bool{}
	overlap := ""
	a, b := &recorder{}, &recorder{}
	guard := func(fn *recorder) *recorder {
		fn.respond = func(ctx context.Context, ev *kafkalambda.Event, n int) ([]byte, error) {
			mu.Lock()
			for _, p := range ev.Partitions {
				if inflight[p.Key] {
					overlap = p.Key
				}
				inflight[p.Key] = true
			}
			mu.Unlock()
			if b.count() == 0 {
				time.Sleep(50 * time.Millisecond) // slow until the second mapping takes over some partitions
			}
			mu.Lock()
			for _, p := range ev.Partitions {
				inflight[p.Key] = false
				for _, r := range p.Records {
					if string(r.Value) == "end" {
						ends[p.Key] = true
					} else {
						total++
					}
				}
			}
			mu.Unlock()
			return nil, nil
		}
		return fn
	}
	guard(a)
	guard(b)
	cfg := esm.Config{Topics: []string{"in"}, Group: "shared", KafkaOptions: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}}
	for p := range int32(4) {
		produceN(t, c, "in", p, 100, "")
	}
	wake := make(chan struct{}, 1) // both mappings signal it
	ra := startOn(t, wake, c, cfg, &esm.HandlerTarget{Handler: a}, esm.WithBatchSize(2), esm.WithBatchingWindow(0))
	awaitOn(t, wake, time.Minute, "a to start", func() bool { return a.count() > 0 })
	rb := startOn(t, wake, c, cfg, &esm.HandlerTarget{Handler: b}, esm.WithBatchSize(2), esm.WithBatchingWindow(0))
	awaitOn(t, wake, 30*time.Second, "b to take over partitions", func() bool { return b.count() > 0 })
	// b invoking means the rebalance is over. An end marker after the 100
	// records of each partition is invoked by the partition's owner after
	// whatever it still delivers of the partition, duplicates included:
	// once every marker is in, nothing more comes.
	for p := range int32(4) {
		if err := c.ProduceRecords(testCtx(t), &kgo.Record{Topic: "in", Partition: p, Value: []byte("end")}); err != nil {
			t.Fatal(err)
		}
	}
	awaitOn(t, wake, 30*time.Second, "the end markers", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ends) == 4
	})
	mu.Lock()
	defer mu.Unlock()
	if overlap != "" {
		t.Fatalf("%s was invoked by both mappings at once", overlap)
	}
	if total != 400 {
		t.Fatalf("%d records delivered, want 400 exactly once", total)
	}
	if b.count() == 0 {
		t.Fatal("the second mapping got no partition")
	}
	merged := map[string][]int64{}
	for _, fn := range []*recorder{a, b} {
		for k, offs := range fn.seen() {
			merged[k] = append(merged[k], offs...)
		}
	}
	for k, offs := range merged {
		seen := map[int64]bool{}
		for _, o := range offs {
			if o < 100 { // 100 is the end marker
				seen[o] = true
			}
		}
		if len(seen) != 100 {
			t.Fatalf("%s: %d distinct offsets", k, len(seen))
		}
	}
	_, _ = ra, rb
}

// A wrong SASL password stops Run with ErrKafka instead of retrying forever.
func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithSASLPlain("app", "right"))
	m, err := esm.New(esm.Config{Brokers: c.Brokers(), Topics: []string{"in"},
		KafkaOptions: []kgo.Opt{kgo.SASL(plain.Auth{User: "app", Pass: "wrong"}.AsMechanism())}},
		&esm.HandlerTarget{Handler: &recorder{}}, esm.WithConnectTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = m.Run(ctx)
	if !errors.Is(err, esm.ErrKafka) || ctx.Err() != nil {
		t.Fatalf("Run: %v (ctx %v)", err, ctx.Err())
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the password leaked into the error: %v", err)
	}
	if err := m.Run(ctx); !errors.Is(err, esm.ErrAlreadyRun) {
		t.Fatalf("second Run: %v", err)
	}
}

// Brokers that cannot be reached fail Run with ErrKafka at the connect
// timeout, naming why the pings failed; a Run context that ends first is a
// stop, not a failure, even when it ends before a retry's backoff would.
func TestUnreachableBrokers(t *testing.T) {
	t.Parallel()
	cfg := esm.Config{Brokers: []string{kafkalambdatest.ClosedAddr(t)}, Topics: []string{"in"}}
	m, err := esm.New(cfg, &esm.HandlerTarget{Handler: &recorder{}}, esm.WithConnectTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Run(testCtx(t))
	if !errors.Is(err, esm.ErrKafka) || !strings.Contains(err.Error(), "answered within 1s") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Run: %v, want ErrKafka: no broker answered within 1s, with the refused connection as the cause", err)
	}
	m, err = esm.New(cfg, &esm.HandlerTarget{Handler: &recorder{}}, esm.WithConnectTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 600*time.Millisecond)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run stopped by its context before it connected: %v, want nil", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	target := &esm.HandlerTarget{Handler: &recorder{}}
	ok := esm.Config{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"in"}}
	for _, tc := range []struct {
		name   string
		cfg    esm.Config
		target esm.Target
		opt    esm.Option
	}{
		{"no brokers", esm.Config{Topics: []string{"in"}}, target, nil},
		{"no topics", esm.Config{Brokers: ok.Brokers}, target, nil},
		{"nil target", ok, nil, nil},
		{"bad position", esm.Config{Brokers: ok.Brokers, Topics: ok.Topics, StartingPosition: "EARLIEST"}, target, nil},
		{"timestamp missing", esm.Config{Brokers: ok.Brokers, Topics: ok.Topics, StartingPosition: esm.AtTimestamp}, target, nil},
		{"batch size 0", ok, target, esm.WithBatchSize(0)},
		{"batch size over 10000", ok, target, esm.WithBatchSize(10_001)},
		{"window over 300s", ok, target, esm.WithBatchingWindow(301 * time.Second)},
		{"retries -2", ok, target, esm.WithMaxRetryAttempts(-2)},
		{"retries 10001", ok, target, esm.WithMaxRetryAttempts(10_001)},
		{"age 59s", ok, target, esm.WithMaxRecordAge(59 * time.Second)},
		{"age 0", ok, target, esm.WithMaxRecordAge(0)},
		{"age over 604800s", ok, target, esm.WithMaxRecordAge(esm.MaxRecordAge + time.Second)},
		{"on-failure is a source", ok, target, esm.WithOnFailureTopic("in")},
		{"payload over 6 MB", ok, target, esm.WithMaxPayloadBytes(esm.MaxPayloadBytes + 1)},
		{"concurrency -1", ok, target, esm.WithConcurrency(-1)},
		{"registry without URL", ok, target, esm.WithSchemaRegistry(esm.SchemaRegistry{})},
		{"registry format unknown", ok, target, esm.WithSchemaRegistry(esm.SchemaRegistry{URL: "http://x", Format: "XML"})},
		{"nil logger", ok, target, esm.WithLogger(nil)},
		{"unknown item failure model", ok, target, esm.WithItemFailureModel("retry-all")},
		{"empty item failure model", ok, target, esm.WithItemFailureModel("")},
	} {
		if _, err := esm.New(tc.cfg, tc.target, tc.opt); !errors.Is(err, esm.ErrInvalidOption) {
			t.Errorf("%s: want ErrInvalidOption, got %v", tc.name, err)
		}
	}
	if _, err := esm.New(ok, target, esm.WithMaxRecordAge(-1), esm.WithMaxRetryAttempts(-1), esm.WithBatchingWindow(0)); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, model := range []esm.ItemFailureModel{esm.ResumeFromLowest, esm.RetryListed} {
		if _, err := esm.New(ok, target, esm.WithReportBatchItemFailures(true), esm.WithItemFailureModel(model)); err != nil {
			t.Errorf("item failure model %s: %v", model, err)
		}
	}
	// Any negative age is infinite (the command passes -1 s); the bounds
	// are valid.
	for _, d := range []time.Duration{-time.Second, -time.Hour, esm.MinRecordAge, esm.MaxRecordAge} {
		if _, err := esm.New(ok, target, esm.WithMaxRecordAge(d)); err != nil {
			t.Errorf("max record age %v: %v", d, err)
		}
	}
}
