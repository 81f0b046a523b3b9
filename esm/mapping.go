package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// Mapping is a local Kafka event source mapping: it consumes Config.Topics
// as a consumer group and invokes a Target with batches of records, with
// the semantics the package documentation describes. Make one with New and
// run it with Run; a Mapping runs once.
//
// It owns the Kafka client, the assignment and the counters, and little
// else: each assigned partition's state has a lock of its own (partState),
// batches are composed, invoked, retried and committed by runners (runner,
// batch.go), each with its own partitions, and the pool of runners, the
// assignment and the committer synchronise themselves. No lock is held
// while waiting: a release waits for a partition's batch to land on a
// channel of that partition.
type Mapping struct {
	cfg     Config
	set     settings
	target  Target
	log     *slog.Logger
	stats   counters
	shape   envelope
	schema  *schemaResolver
	commits committer

	ran       atomic.Bool
	ready     chan struct{}
	readyOnce sync.Once

	// Set by Run before the client starts.
	env     *runEnv
	runners *pool
	cl      *kgo.Client // set once made, before polling

	parts assignment
	final atomic.Pointer[[]PartitionProgress] // Progress once Run stopped
}

// New validates cfg and opts and returns a Mapping that invokes target. It
// does not connect to anything; Run does.
func New(cfg Config, target Target, opts ...Option) (*Mapping, error) {
	s := defaultSettings()
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if target == nil {
		s.errs = append(s.errs, errors.New("nil target"))
	}
	if err := validate(&cfg, &s); err != nil {
		return nil, err
	}
	m := &Mapping{
		cfg:    cfg,
		set:    s,
		target: target,
		log:    s.logger.With("group", cfg.Group),
		ready:  make(chan struct{}),
	}
	for _, w := range s.warnings {
		m.log.Warn("esm: not as on AWS: " + w)
	}
	m.shape = newEnvelope(&m.cfg, s.registry != nil)
	m.commits = committer{stats: &m.stats, log: m.log, progress: s.progress}
	if s.registry != nil {
		r, err := newSchemaResolver(*s.registry)
		if err != nil {
			return nil, err
		}
		m.schema = r
	}
	return m, nil
}

// Group is the consumer group the mapping commits under: Config.Group, or
// the unique one New made when it was empty.
func (m *Mapping) Group() string { return m.cfg.Group }

// Warnings lists what of the mapping's configuration would not deploy, or
// would need provisioned mode, on AWS: more than one topic, a batching
// window not in whole seconds, error handling controls, a Kafka
// on-failure topic or the schema registry without Config.Provisioned.
// New logs each at Warn too.
func (m *Mapping) Warnings() []string { return slices.Clone(m.set.warnings) }

// Ready is closed once the mapping has joined its group and been assigned
// partitions for the first time.
func (m *Mapping) Ready() <-chan struct{} { return m.ready }

// Stats returns the mapping's counters so far. It is safe to call at any
// time, from any goroutine.
func (m *Mapping) Stats() Stats { return m.stats.snapshot() }

// Run consumes and invokes until ctx is done, then stops: it starts no new
// invocation, waits for the ones in flight (bounded by WithShutdownTimeout),
// commits what they completed, and leaves the group. It returns nil after
// such a stop, and an error wrapping ErrKafka if the mapping could not run:
// the client could not be created, no broker answered within the connect
// timeout (WithConnectTimeout), or the cluster refused the client
// (authentication, authorization). Once it has reached the cluster, it
// logs one summary of its Stats when it stops ("esm: stopped"), after a
// failure too; it never logs the error it returns. Run can be called once
// per Mapping. With WithStopWhenCaughtUp it also stops, the same way, once
// every partition is committed up to the end offsets seen when it started.
func (m *Mapping) Run(ctx context.Context) error {
	if !m.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	invokeCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer kill()
	m.env = &runEnv{
		cfg: &m.cfg, set: &m.set, target: m.target, log: m.log, stats: &m.stats, shape: &m.shape,
		schema: m.schema, commits: &m.commits, lim: limits{records: 2 * m.set.batchSize, bytes: 2 * m.set.maxPayload},
		stopCtx: stopCtx, invokeCtx: invokeCtx,
	}
	// The runners exist before the client: the group may assign partitions
	// (the pool places them) as soon as the client runs. They start once
	// the cluster answered, the client in their environment.
	m.runners = newPool(m.env, m.set.concurrency)
	cl, err := kgo.NewClient(m.kafkaOptions()...)
	if err != nil {
		return fmt.Errorf("%w: client: %w", ErrKafka, err)
	}
	m.cl, m.env.cl = cl, cl
	if err := m.connect(stopCtx); err != nil {
		cl.Close()
		return err
	}
	if m.set.stopCaughtUp {
		w, err := newCaughtUp(stopCtx, cl, &m.cfg, stop)
		if err != nil {
			cl.Close()
			return err
		}
		m.commits.caughtUp = w
	}
	m.runners.start(stopCtx)
	m.log.Info("esm: starting", "brokers", strings.Join(m.cfg.Brokers, ","), "topics", m.cfg.Topics,
		"starting_position", m.cfg.StartingPosition, "batch_size", m.set.batchSize, "window", m.set.window)

	runErr := m.poll(stopCtx)

	stop()
	if m.set.shutdown > 0 {
		t := time.AfterFunc(m.set.shutdown, kill)
		defer t.Stop()
	}
	m.runners.stop()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	m.commits.commit(cctx, cl, m.parts.all(), false)
	cancel()
	final := m.Progress()
	m.final.Store(&final)
	cl.CloseAllowingRebalance()
	st := m.Stats()
	m.log.Info("esm: stopped", "records_polled", st.RecordsPolled, "invocations", st.Invocations,
		"invoke_errors", st.InvokeErrors, "records_succeeded", st.RecordsSucceeded, "records_retried", st.RecordsRetried,
		"bisections", st.Bisections, "records_on_failure", st.RecordsOnFailure, "records_discarded", st.RecordsDiscarded,
		"records_committed", st.RecordsCommitted)
	return runErr
}

func (m *Mapping) kafkaOptions() []kgo.Opt {
	reset := kgo.NewOffset().AtStart()
	switch m.cfg.StartingPosition {
	case Latest:
		reset = kgo.NewOffset().AtEnd()
	case AtTimestamp:
		reset = kgo.NewOffset().AfterMilli(m.cfg.StartingTimestamp.UnixMilli())
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(m.cfg.Brokers...),
		kgo.ConsumerGroup(m.cfg.Group),
		kgo.ConsumeTopics(m.cfg.Topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(m.assigned),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.WithLogger(newKgoLogger(m.log)),
	}
	return append(opts, m.cfg.KafkaOptions...)
}

// poll fetches until ctx is done or the cluster refuses the client.
func (m *Mapping) poll(ctx context.Context) error {
	for {
		fetches := m.cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			m.cl.AllowRebalance()
			return nil
		}
		var fatal error
		fetches.EachError(func(topic string, partition int32, err error) {
			if fatal == nil && refused(err) {
				fatal = fmt.Errorf("%w: %s: %w", ErrKafka, where(topic, partition), err)
				return
			}
			m.log.Warn("esm: fetch error", "where", where(topic, partition), "err", err)
		})
		if fatal != nil {
			m.cl.AllowRebalance()
			return fatal // Run's caller reports it
		}
		m.distribute(fetches)
		m.cl.AllowRebalance()
	}
}

func where(topic string, partition int32) string {
	if topic == "" {
		return "client"
	}
	return topic + "-" + strconv.FormatInt(int64(partition), 10)
}

// distribute appends fetched records to their partitions' buffers (which
// pause their fetching when full) and wakes the partitions' runners.
func (m *Mapping) distribute(fetches kgo.Fetches) {
	now := time.Now()
	var scratch []byte
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		ps := m.parts.get(tp{p.Topic, p.Partition})
		if ps == nil {
			return
		}
		// One allocation for the partition's records rather than one each.
		slab := make([]rec, len(p.Records))
		recs := make([]*rec, len(p.Records))
		for i, r := range p.Records {
			rc := &slab[i]
			setRec(rc, r, now)
			scratch = m.shape.sizeRec(scratch, rc)
			recs[i] = rc
		}
		ps.sawHighWatermark(p.HighWatermark)
		m.stats.polled.Add(int64(ps.add(recs, m.env.lim, m.cl)))
		ps.owner.notify()
	})
}

// setRec makes rc the fetched record r, arrived at now.
func setRec(rc *rec, r *kgo.Record, now time.Time) {
	raw := kafkalambda.RawRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp,
		Key:       r.Key,
		Value:     r.Value,
	}
	switch r.Attrs.TimestampType() {
	case 0:
		raw.TimestampType = kafkalambda.TimestampCreateTime
	case 1:
		raw.TimestampType = kafkalambda.TimestampLogAppendTime
	default:
		raw.TimestampType = kafkalambda.TimestampNone
	}
	if len(r.Headers) > 0 {
		raw.Headers = make([]kafkalambda.Header, len(r.Headers))
		for i, h := range r.Headers {
			raw.Headers[i] = kafkalambda.Header{Key: h.Key, Value: h.Value}
		}
	}
	*rc = rec{raw: raw, origKey: r.Key, arrived: now}
}

// assigned adds newly assigned partitions, each placed with a runner.
//
// A new partition starts unpaused, so its fetching is resumed in the
// client too: franz-go keeps a partition paused across group sessions, and
// one that the mapping had paused (its buffer full) when the session was
// lost would otherwise never be fetched again.
func (m *Mapping) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	var names []string
	fresh := make(map[string][]int32, len(assigned))
	for topic, partitions := range assigned {
		for _, p := range partitions {
			key := tp{topic, p}
			if old := m.parts.get(key); old != nil && !old.isGone() {
				continue
			}
			fresh[topic] = append(fresh[topic], p)
			ps := m.runners.place(key)
			m.parts.put(ps)
			names = append(names, ps.key)
		}
	}
	cl.ResumeFetchPartitions(fresh)
	m.log.Info("esm: partitions assigned", "partitions", names)
	m.readyOnce.Do(func() { close(m.ready) })
}

func (m *Mapping) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	m.release(ctx, cl, revoked, true)
}

func (m *Mapping) lost(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	m.release(ctx, cl, lost, false)
}

// release gives up partitions: it waits for their batch in flight to end
// (so no two consumers invoke with one partition at once) and for the
// commit that followed it, commits what was handled when commit is set,
// and drops what was buffered.
func (m *Mapping) release(ctx context.Context, cl *kgo.Client, tps map[string][]int32, commit bool) {
	var pss []*partState
	var landed []<-chan struct{}
	for topic, partitions := range tps {
		for _, p := range partitions {
			ps := m.parts.get(tp{topic, p})
			if ps == nil {
				continue
			}
			landed = append(landed, ps.release())
			ps.owner.interrupt()
			pss = append(pss, ps)
		}
	}
	for _, idle := range landed {
		<-idle
	}
	for _, ps := range pss {
		<-ps.commitSettled() // the runner's commit after the last batch
	}
	names := make([]string, 0, len(pss))
	for _, ps := range pss {
		m.parts.remove(ps)
		ps.owner.drop(ps)
		names = append(names, ps.key)
	}
	if commit {
		m.commits.commit(ctx, cl, pss, true)
	}
	if len(names) > 0 {
		m.log.Info("esm: partitions released", "partitions", names, "committed", commit)
	}
}
