package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/progress"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// run is one Run's state.
type run struct {
	cfg Config
	c   *cluster
	res *Result

	reg404 *notFoundRegistry // nil without Config.Registry404
	fnLog  *logCollector

	mu          sync.Mutex
	produced    map[ref]bool      // the trades produced
	poison      map[ref]string    // the poison records produced, and their kind
	seen        map[ref]int       // settlements per trade
	dead        map[ref]int       // dead-letter records per source record
	gaveUp      map[ref]int       // on-failure records per source record
	rows        []row             // every settlement read
	names       map[string]string // interned symbols and dispositions
	settled     int               // produced trades with a settlement
	landed      int               // produced records (trades and poison) with any destination
	total       int               // records to produce: trades and poison
	lastSettled time.Time
	allLanded   chan struct{}
	firstErr    string // the first function error's text

	nProduced   atomic.Int64
	invocations atomic.Int64 // invocations that reached the function
}

// ref is a trade: its user_trades partition and offset.
type ref struct {
	partition int32
	offset    int64
}

func (f ref) String() string {
	return app.Source{Topic: app.InputTopic, Partition: f.partition, Offset: f.offset}.String()
}

// row is one settlement read back.
type row struct {
	trade               ref
	symbol, disposition string
	at                  time.Time
}

// intern returns one copy of each symbol and disposition; r.mu is held.
func (r *run) intern(s string) string {
	if v, ok := r.names[s]; ok {
		return v
	}
	r.names[s] = s
	return s
}

func (r *run) run(ctx context.Context, target esm.Target, start time.Time) (*Result, error) {
	cfg := r.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r.allLanded = make(chan struct{})

	// The event source mapping, as template.yaml configures it.
	ecfg := esm.Config{
		Brokers:      r.c.brokers,
		Topics:       []string{app.InputTopic},
		Group:        "tradesettle-local-" + strconv.FormatInt(start.UnixNano(), 36),
		KafkaOptions: r.c.kopts,
		Provisioned:  true, // template.yaml's mappings have a ProvisionedPollerConfig
	}
	if !r.c.embedded {
		ecfg.StartingPosition, ecfg.StartingTimestamp = esm.AtTimestamp, start.Add(-time.Second)
	}
	m, err := esm.New(ecfg, target,
		esm.WithBatchSize(cfg.BatchSize),
		esm.WithReportBatchItemFailures(true),
		esm.WithMaxRetryAttempts(cfg.MaxRetries),
		esm.WithOnFailureTopic(OnFailureTopic),
		esm.WithOnBatch(r.onBatch),
		esm.WithLogger(cfg.Logger),
		esm.WithShutdownTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	// With poison, every record waits before the mapping starts, as a
	// backlog does: a poison record's first batch is full of good records
	// (whatever the machine's speed), which is the case that shows what a
	// failure policy does to them.
	backlog := cfg.Poison
	first := time.Now()
	if backlog {
		if err := r.produce(ctx); err != nil {
			return nil, err
		}
	}
	mapping := goRun(func(ctx context.Context) error { return m.Run(ctx) }, context.WithoutCancel(ctx))
	defer mapping.stop()
	select {
	case <-m.Ready():
	case <-mapping.done:
		return nil, fmt.Errorf("pipeline: event source mapping: %w", mapping.stop())
	case <-ctx.Done():
		return nil, fmt.Errorf("pipeline: the event source mapping did not start: %w", ctx.Err())
	}

	// Read trade-settlements back while trades are produced.
	reader := goRun(func(ctx context.Context) error { return r.read(ctx, start) }, ctx)
	defer reader.stop()
	if cfg.Progress != nil {
		// Stopped (showing the final figures) once the mapping is.
		shown := goRun(func(ctx context.Context) error { r.progress(ctx, m, start); return nil }, context.WithoutCancel(ctx))
		defer shown.stop()
	}

	if !backlog {
		first = time.Now()
		if err := r.produce(ctx); err != nil {
			return nil, err
		}
	}
	select {
	case <-r.allLanded:
	case <-ctx.Done(): // timed out: what is missing is reported as lost
	case <-mapping.done:
		return nil, fmt.Errorf("pipeline: event source mapping stopped: %w", mapping.stop())
	case <-reader.done:
		if err := reader.stop(); err != nil {
			return nil, err
		}
	}
	if err := mapping.stop(); err != nil {
		return nil, fmt.Errorf("pipeline: event source mapping: %w", err)
	}
	if err := reader.stop(); err != nil {
		return nil, err
	}
	st := m.Stats()

	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.res
	res.Settled = r.settled
	if r.settled > 0 {
		res.Elapsed = r.lastSettled.Sub(first)
	}
	res.Invocations = st.Invocations
	res.RecordsInvoked = st.RecordsInvoked
	res.FunctionErrors = st.FunctionErrors
	res.PartialFailures = st.PartialFailures
	res.RecordsRetried = st.RecordsRetried
	res.FirstFunctionError = r.firstErr
	res.FunctionLog = r.fnLog.result()
	if r.reg404 != nil {
		res.Registry404 = r.cfg.Registry404
		res.Registry404Answers = r.reg404.notFound.Load()
	}
	for tr := range r.produced {
		switch n := r.seen[tr]; {
		case n == 0 && r.dead[tr] == 0 && r.gaveUp[tr] == 0:
			res.Lost = append(res.Lost, tr.String())
		case n > 1:
			res.Duplicates += n - 1
		}
		if r.dead[tr] > 0 {
			res.DeadLettered++
		}
		if r.gaveUp[tr] > 0 {
			res.GivenUp++
		}
	}
	res.Poison = len(r.poison)
	res.PoisonKinds = map[string]int{}
	for tr, kind := range r.poison {
		res.PoisonKinds[kind]++
		if n := r.dead[tr]; n > 0 {
			res.PoisonDeadLettered++
			res.PoisonDeadLetterCopies += n - 1
		}
		if r.gaveUp[tr] > 0 {
			res.PoisonGivenUp++
		}
	}
	slices.Sort(res.Lost)
	res.Windows = tally(r.rows, r.produced)
	for _, w := range res.Windows {
		res.Settlements += w.Total()
	}
	return res, nil
}

// task is a goroutine with a way to stop it and get its error.
type task struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// goRun runs fn in a goroutine with a context derived from ctx.
func goRun(fn func(context.Context) error, ctx context.Context) *task {
	ctx, cancel := context.WithCancel(ctx)
	t := &task{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.err = fn(ctx)
	}()
	return t
}

// stop cancels the task, waits for it and returns its error; it may be
// called more than once.
func (t *task) stop() error {
	t.cancel()
	<-t.done
	return t.err
}

// produce writes cfg.Trades trades to user_trades, keyed by user id, with
// the Protobuf schema ksqlDB registers, and records where each one landed;
// with cfg.Poison, a poison record to each partition first.
func (r *run) produce(ctx context.Context) error {
	values, err := serde.Protobuf[*tradepb.UserTrade](r.c.registry, serde.WithSchema(KSQLUserTradeSchema))
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	cl, err := kgo.NewClient(append(slices.Clip(r.c.kopts), kgo.ProducerLinger(5*time.Millisecond), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return fmt.Errorf("pipeline: producer: %w", err)
	}
	defer cl.Close()
	poison := 0
	if r.cfg.Poison {
		if poison, err = r.producePoison(ctx, values); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.total = r.cfg.Trades + poison
	r.mu.Unlock()
	gen := newTradeGen(r.cfg.Seed)
	const chunk = 500
	for done := 0; done < r.cfg.Trades; {
		n := min(chunk, r.cfg.Trades-done)
		recs := make([]*kgo.Record, 0, n)
		for range n {
			tr := gen.next()
			v, err := values.Serialize(ctx, serde.Target{Topic: app.InputTopic}, tr.Value)
			if err != nil {
				return fmt.Errorf("pipeline: serialize a trade: %w", err)
			}
			kr := &kgo.Record{Topic: app.InputTopic, Value: v}
			if tr.Key != "" {
				kr.Key = []byte(tr.Key)
			}
			recs = append(recs, kr)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("pipeline: produce trades: %w", err)
		}
		r.mu.Lock()
		for _, kr := range recs {
			tr := ref{kr.Partition, kr.Offset}
			r.produced[tr] = true
			if r.seen[tr] > 0 {
				r.settledOne()
			}
			if r.hasLanded(tr) {
				r.landedOne()
			}
		}
		r.mu.Unlock()
		done += n
		r.nProduced.Store(int64(done))
	}
	r.mu.Lock()
	if r.landed == r.total {
		r.markAllLanded()
	}
	r.mu.Unlock()
	return nil
}

// producePoison writes a poison record (poisonValue) to the head of each
// partition of user_trades, before any trade, and returns how many.
func (r *run) producePoison(ctx context.Context, values serde.Codec[*tradepb.UserTrade]) (int, error) {
	good, err := values.Serialize(ctx, serde.Target{Topic: app.InputTopic}, newTradeGen(r.cfg.Seed).next().Value)
	if err != nil {
		return 0, fmt.Errorf("pipeline: serialize a trade: %w", err)
	}
	cl, err := kgo.NewClient(append(slices.Clip(r.c.kopts), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return 0, fmt.Errorf("pipeline: producer: %w", err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, app.InputTopic)
	if err == nil {
		err = topics.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("pipeline: partitions of %s: %w", app.InputTopic, err)
	}
	n := len(topics[app.InputTopic].Partitions)
	recs := make([]*kgo.Record, 0, n)
	kinds := make([]string, 0, n)
	for p := range int32(n) {
		kind, v := poisonValue(p, good)
		recs = append(recs, &kgo.Record{Topic: app.InputTopic, Partition: p, Value: v})
		kinds = append(kinds, kind)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("pipeline: produce poison records: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, kr := range recs {
		tr := ref{kr.Partition, kr.Offset}
		r.poison[tr] = kinds[i]
		if r.hasLanded(tr) {
			r.landedOne()
		}
	}
	return n, nil
}

// read consumes trade-settlements, the dead-letter topic and the
// on-failure topic until ctx is done.
func (r *run) read(ctx context.Context, start time.Time) error {
	settlements, err := serde.Protobuf[*tradepb.TradeSettlement](r.c.registry)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	from := kgo.NewOffset().AtStart()
	if !r.c.embedded {
		from = kgo.NewOffset().AfterMilli(start.Add(-time.Second).UnixMilli())
	}
	cl, err := kgo.NewClient(append(slices.Clip(r.c.kopts), kgo.ConsumeTopics(app.OutputTopic, DeadLetterTopic, OnFailureTopic), kgo.ConsumeResetOffset(from),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("pipeline: consumer: %w", err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		for _, fe := range fetches.Errors() {
			return fmt.Errorf("pipeline: read %s: %w", app.OutputTopic, fe.Err)
		}
		var rows []row
		var dead, gaveUp []ref
		var decodeErr error
		fetches.EachRecord(func(kr *kgo.Record) {
			switch kr.Topic {
			case DeadLetterTopic:
				if tr, ok := deadLetterSource(kr.Headers); ok {
					dead = append(dead, tr)
				}
				return
			case OnFailureTopic:
				if tr, ok := onFailureSource(kr.Value); ok {
					gaveUp = append(gaveUp, tr)
				}
				return
			}
			src, err := app.SourceHeader(kr.Headers)
			if err != nil || src.Topic != app.InputTopic {
				return // not a settlement of a user_trades record
			}
			tr := ref{src.Partition, src.Offset}
			s, err := settlements.Deserialize(ctx, serde.Message{Topic: kr.Topic, Data: kr.Value})
			if err != nil {
				decodeErr = fmt.Errorf("pipeline: settlement at %s-%d@%d: %w", kr.Topic, kr.Partition, kr.Offset, err)
				return
			}
			rows = append(rows, row{trade: tr, symbol: s.GetSymbol(), disposition: s.GetDisposition(), at: time.UnixMilli(s.GetTimestamp())})
		})
		if decodeErr != nil {
			return decodeErr
		}
		r.mu.Lock()
		for _, rw := range rows {
			rw.symbol, rw.disposition = r.intern(rw.symbol), r.intern(rw.disposition)
			r.rows = append(r.rows, rw)
			first := !r.hasLanded(rw.trade)
			r.seen[rw.trade]++
			if r.seen[rw.trade] == 1 && r.produced[rw.trade] {
				r.settledOne()
			}
			if first && r.known(rw.trade) {
				r.landedOne()
			}
		}
		for _, tr := range dead {
			first := !r.hasLanded(tr)
			r.dead[tr]++
			if first && r.known(tr) {
				r.landedOne()
			}
		}
		for _, tr := range gaveUp {
			first := !r.hasLanded(tr)
			r.gaveUp[tr]++
			if first && r.known(tr) {
				r.landedOne()
			}
		}
		r.mu.Unlock()
	}
}

// deadLetterSource returns the user_trades record a dead-letter record
// stands for: named by the SDK's source headers (DEAD_LETTER_FORMAT=RAW),
// or by HeaderSource (a SettlementRejected).
func deadLetterSource(headers []kgo.RecordHeader) (ref, bool) {
	if src, err := app.SourceHeader(headers); err == nil {
		return ref{src.Partition, src.Offset}, src.Topic == app.InputTopic
	}
	var topic, partition, offset string
	for _, h := range headers {
		switch h.Key {
		case kafkalambda.HeaderSourceTopic:
			topic = string(h.Value)
		case kafkalambda.HeaderSourcePartition:
			partition = string(h.Value)
		case kafkalambda.HeaderSourceOffset:
			offset = string(h.Value)
		}
	}
	src, err := app.ParseSource(topic + "/" + partition + "/" + offset)
	return ref{src.Partition, src.Offset}, err == nil && src.Topic == app.InputTopic
}

// onFailureSource returns the user_trades record an on-failure record (the
// mapping's FailureRecord, whose payload is the one-record event) stands
// for.
func onFailureSource(value []byte) (ref, bool) {
	fr, err := esm.ParseFailureRecord(value)
	if err != nil {
		return ref{}, false
	}
	ev, err := fr.Event()
	if err != nil {
		return ref{}, false
	}
	for _, p := range ev.Partitions {
		for _, rec := range p.Records {
			return ref{rec.Partition, rec.Offset}, rec.Topic == app.InputTopic
		}
	}
	return ref{}, false
}

// known reports whether tr was produced by this run, as a trade or as
// poison; r.mu is held.
func (r *run) known(tr ref) bool {
	if r.produced[tr] {
		return true
	}
	_, ok := r.poison[tr]
	return ok
}

// hasLanded reports whether tr reached a destination: a settlement, the
// dead-letter topic or the on-failure topic; r.mu is held.
func (r *run) hasLanded(tr ref) bool {
	return r.seen[tr] > 0 || r.dead[tr] > 0 || r.gaveUp[tr] > 0
}

// settledOne counts one more settled trade; r.mu is held.
func (r *run) settledOne() {
	r.settled++
	r.lastSettled = time.Now()
}

// landedOne counts one more produced record with a destination; r.mu is
// held.
func (r *run) landedOne() {
	r.landed++
	if r.landed == r.total {
		r.markAllLanded()
	}
}

func (r *run) markAllLanded() {
	select {
	case <-r.allLanded:
	default:
		close(r.allLanded)
	}
}

// onBatch follows the mapping's invocations: it keeps the first function
// error's text and, with cfg.Registry404, corrects the registry URL after
// that many invocations reached the function.
func (r *run) onBatch(b esm.BatchResult) {
	if b.Outcome == esm.OutcomeInvokeError {
		return
	}
	n := r.invocations.Add(1)
	if r.reg404 != nil && n == int64(r.cfg.Registry404) {
		r.reg404.heal()
	}
	if b.Outcome == esm.OutcomeFunctionError && b.Err != nil {
		r.mu.Lock()
		if r.firstErr == "" {
			r.firstErr = b.Err.Error()
		}
		r.mu.Unlock()
	}
}

// progress shows the run's progress on cfg.Progress until ctx is done (see
// Config.Progress).
func (r *run) progress(ctx context.Context, m *esm.Mapping, start time.Time) {
	snap := func() progress.Snapshot {
		r.mu.Lock()
		settled := r.settled
		r.mu.Unlock()
		el := time.Since(start)
		return progress.Snapshot{Title: "tradesettle", Elapsed: el, Stats: m.Stats(), Partitions: m.Progress(),
			Notes: []string{fmt.Sprintf("produced %s/%s  settled %s/%s (%s trades/s)", progress.Count(r.nProduced.Load()),
				progress.Count(int64(r.cfg.Trades)), progress.Count(int64(settled)), progress.Count(int64(r.cfg.Trades)),
				progress.Count(int64(float64(settled)/el.Seconds())))}}
	}
	if r.cfg.ProgressWidth > 0 {
		d := progress.NewDisplay(r.cfg.Progress, r.cfg.ProgressWidth)
		progress.Run(ctx, progress.TerminalEvery, snap, d.Show, d.Finish)
		return
	}
	line := func(s progress.Snapshot) { _, _ = fmt.Fprintln(r.cfg.Progress, progress.Line(s)) }
	progress.Run(ctx, r.cfg.ProgressEvery, snap, line, line)
}

// dispositionIndex is a disposition's column in Window.Counts.
func dispositionIndex(d string) int {
	return slices.Index(settle.Dispositions(), d)
}
