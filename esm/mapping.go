package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
type Mapping struct {
	cfg      Config
	set      settings
	target   Target
	log      *slog.Logger
	stats    counters
	schema   *schemaResolver
	envelope int // bytes of an event with no partitions

	ran       atomic.Bool
	ready     chan struct{}
	readyOnce sync.Once

	// Set by Run before anything else starts.
	cl        *kgo.Client
	stopCtx   context.Context // done when Run is told to stop
	invokeCtx context.Context // done only when the shutdown timeout passes
	wg        sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond // signaled when a partition stops being busy
	parts    map[tp]*partState
	workers  []*worker // the fixed pool when concurrency > 0
	stopping bool
}

type tp struct {
	topic     string
	partition int32
}

// partState is one assigned partition. All fields are guarded by Mapping.mu.
type partState struct {
	tp        tp
	key       string // "<topic>-<partition>", the event's records key
	buf       []*rec // fetched, not yet in a batch
	bufBytes  int
	paused    bool
	busy      bool  // records of it are in an invoker's batch
	gone      bool  // revoked or lost
	next      int64 // offset expected next from a fetch; -1 before the first
	done      int64 // commit position: every record before it is handled; -1 none
	committed int64 // last commit the broker acknowledged; -1 none
	pending   int   // handled records not yet covered by an acknowledged commit
	owner     *worker
}

// rec is one fetched record, converted to the event's model.
type rec struct {
	ps      *partState
	raw     kafkalambda.RawRecord
	origKey []byte // the key as in Kafka, for the on-failure record
	size    int    // upper bound of its bytes in an event, comma included
	arrived time.Time
	invokes int  // invocations it was part of
	schema  bool // schema metadata applied
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
		parts:  map[tp]*partState{},
	}
	m.cond = sync.NewCond(&m.mu)
	empty := m.event(nil)
	m.envelope = len(empty.AppendJSON(nil))
	if s.registry != nil {
		r, err := newSchemaResolver(*s.registry)
		if err != nil {
			return nil, err
		}
		m.schema = r
	}
	return m, nil
}

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
// per Mapping.
func (m *Mapping) Run(ctx context.Context) error {
	if !m.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	invokeCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer kill()
	m.stopCtx, m.invokeCtx = stopCtx, invokeCtx

	// The fixed pool exists before the client: the group may assign
	// partitions (ownerFor picks from the pool) as soon as the client runs.
	// Its invokers start once the cluster answered.
	m.mu.Lock()
	for range m.set.concurrency {
		m.workers = append(m.workers, newWorker(m))
	}
	m.mu.Unlock()
	cl, err := kgo.NewClient(m.kafkaOptions()...)
	if err != nil {
		return fmt.Errorf("%w: client: %w", ErrKafka, err)
	}
	m.cl = cl
	if err := m.connect(stopCtx); err != nil {
		cl.Close()
		return err
	}
	m.mu.Lock()
	for _, w := range m.workers {
		m.startWorker(w)
	}
	m.mu.Unlock()
	m.log.Info("esm: starting", "brokers", strings.Join(m.cfg.Brokers, ","), "topics", m.cfg.Topics,
		"starting_position", m.cfg.StartingPosition, "batch_size", m.set.batchSize, "window", m.set.window)

	runErr := m.poll(stopCtx)

	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	stop()
	if m.set.shutdown > 0 {
		t := time.AfterFunc(m.set.shutdown, kill)
		defer t.Stop()
	}
	m.wg.Wait()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	m.commit(cctx, m.allParts(), false)
	cancel()
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

// distribute appends fetched records to their partitions' buffers, pausing
// partitions whose buffers are full.
func (m *Mapping) distribute(fetches kgo.Fetches) {
	now := time.Now()
	type batch struct {
		tp   tp
		recs []*rec
	}
	var batches []batch
	var scratch []byte
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		b := batch{tp: tp{p.Topic, p.Partition}, recs: make([]*rec, 0, len(p.Records))}
		for _, r := range p.Records {
			rc := m.newRec(r, now)
			scratch = m.sizeRec(scratch, rc)
			b.recs = append(b.recs, rc)
		}
		batches = append(batches, b)
	})
	pause := map[string][]int32{}
	m.mu.Lock()
	for _, b := range batches {
		ps := m.parts[b.tp]
		if ps == nil || ps.gone {
			continue
		}
		added := 0
		for _, rc := range b.recs {
			if ps.next >= 0 && rc.raw.Offset < ps.next {
				continue // already buffered (a refetch after a pause)
			}
			ps.next = rc.raw.Offset + 1
			rc.ps = ps
			ps.buf = append(ps.buf, rc)
			ps.bufBytes += rc.size
			added++
		}
		m.stats.polled.Add(int64(added))
		if !ps.paused && m.full(ps) {
			ps.paused = true
			pause[b.tp.topic] = append(pause[b.tp.topic], b.tp.partition)
		}
		ps.owner.notify()
	}
	m.mu.Unlock()
	if len(pause) > 0 {
		m.cl.PauseFetchPartitions(pause)
	}
}

// full reports whether ps has buffered enough that fetching it should pause:
// two batches' worth of records or of bytes.
func (m *Mapping) full(ps *partState) bool {
	return len(ps.buf) >= 2*m.set.batchSize || ps.bufBytes >= 2*m.set.maxPayload
}

func (m *Mapping) newRec(r *kgo.Record, now time.Time) *rec {
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
	return &rec{raw: raw, origKey: r.Key, arrived: now}
}

// assigned adds newly assigned partitions and gives each an invoker.
//
// A new partition starts unpaused, so its fetching is resumed in the
// client too: franz-go keeps a partition paused across group sessions, and
// one that the mapping had paused (its buffer full) when the session was
// lost would otherwise never be fetched again.
func (m *Mapping) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	m.mu.Lock()
	var names []string
	fresh := make(map[string][]int32, len(assigned))
	for topic, partitions := range assigned {
		for _, p := range partitions {
			key := tp{topic, p}
			if ps := m.parts[key]; ps != nil && !ps.gone {
				continue
			}
			fresh[topic] = append(fresh[topic], p)
			ps := &partState{tp: key, key: where(topic, p), next: -1, done: -1, committed: -1}
			m.parts[key] = ps
			ps.owner = m.ownerFor()
			ps.owner.parts = append(ps.owner.parts, ps)
			ps.owner.notify()
			names = append(names, ps.key)
		}
	}
	m.mu.Unlock()
	cl.ResumeFetchPartitions(fresh)
	m.log.Info("esm: partitions assigned", "partitions", names)
	m.readyOnce.Do(func() { close(m.ready) })
}

// ownerFor returns the invoker for a new partition: a new one of its own,
// or the least loaded of the fixed pool. m.mu is held.
func (m *Mapping) ownerFor() *worker {
	if m.set.concurrency == 0 {
		w := newWorker(m)
		if !m.stopping {
			m.startWorker(w)
		}
		return w
	}
	best := m.workers[0]
	for _, w := range m.workers[1:] {
		if len(w.parts) < len(best.parts) {
			best = w
		}
	}
	return best
}

// startWorker runs w. m.mu is held.
func (m *Mapping) startWorker(w *worker) {
	m.wg.Add(1)
	go w.run(m.stopCtx)
}

func (m *Mapping) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	m.release(ctx, revoked, true)
}

func (m *Mapping) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	m.release(ctx, lost, false)
}

// release gives up partitions: it waits for their batch in flight to end
// (so no two consumers invoke with one partition at once), commits what was
// handled when commit is set, and drops what was buffered.
func (m *Mapping) release(ctx context.Context, tps map[string][]int32, commit bool) {
	m.mu.Lock()
	var pss []*partState
	for topic, partitions := range tps {
		for _, p := range partitions {
			ps := m.parts[tp{topic, p}]
			if ps == nil {
				continue
			}
			ps.gone = true
			ps.owner.interrupt()
			pss = append(pss, ps)
		}
	}
	for busy(pss) {
		m.cond.Wait()
	}
	names := make([]string, 0, len(pss))
	for _, ps := range pss {
		delete(m.parts, ps.tp)
		ps.owner.drop(ps)
		ps.buf, ps.bufBytes = nil, 0
		names = append(names, ps.key)
	}
	m.mu.Unlock()
	if commit {
		m.commit(ctx, pss, true)
	}
	if len(names) > 0 {
		m.log.Info("esm: partitions released", "partitions", names, "committed", commit)
	}
}

func busy(pss []*partState) bool {
	for _, ps := range pss {
		if ps.busy {
			return true
		}
	}
	return false
}

// event returns an event carrying parts, with the mapping's envelope: an
// Amazon MSK event when Config.EventSourceARN is set, a self-managed Kafka
// event otherwise.
func (m *Mapping) event(parts []kafkalambda.Partition) *kafkalambda.Event {
	source := kafkalambda.SourceSelfManaged
	if m.cfg.EventSourceARN != "" {
		source = kafkalambda.SourceMSK
	}
	return &kafkalambda.Event{
		Source:           source,
		SourceARN:        m.cfg.EventSourceARN,
		BootstrapServers: m.cfg.Brokers,
		Partitions:       parts,
	}
}

// sizeRec sets rc.size to an upper bound of the bytes rc takes in an event.
// With schema metadata to add, room for it is included.
//
// It encodes a one-record event into scratch only to learn the record's
// length: kafkalambda exports no way to compute it (RawRecord's encoder is
// unexported), and a bound worked out here from worst cases (escaped
// topics, headers as arrays of signed bytes) would be well above it,
// making batches smaller than the payload limit allows. An exported length
// function in kafkalambda would take this encoding off the fetch path.
func (m *Mapping) sizeRec(scratch []byte, rc *rec) []byte {
	one := kafkalambda.Event{Partitions: []kafkalambda.Partition{{Key: "k", Records: []kafkalambda.RawRecord{rc.raw}}}}
	scratch = one.AppendJSON(scratch[:0])
	// The event around the record: {"eventSource":"","bootstrapServers":"","records":{"k":[]}}
	const around = len(`{"eventSource":"","bootstrapServers":"","records":{"k":[]}}`)
	rc.size = len(scratch) - around + 1
	if m.schema != nil {
		rc.size += 2 * maxMetaBytes
	}
	return scratch
}
