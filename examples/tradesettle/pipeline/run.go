package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// run is one Run's state.
type run struct {
	cfg Config
	c   *cluster
	res *Result

	mu          sync.Mutex
	produced    map[ref]bool      // the trades produced
	seen        map[ref]int       // settlements per trade
	rows        []row             // every settlement read
	names       map[string]string // interned symbols and dispositions
	settled     int               // produced trades with a settlement
	lastSettled time.Time
	allSettled  chan struct{}

	nProduced atomic.Int64
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
	r.allSettled = make(chan struct{})

	// The event source mapping, as template.yaml configures it.
	ecfg := esm.Config{
		Brokers:      r.c.brokers,
		Topics:       []string{app.InputTopic},
		Group:        "tradesettle-local-" + strconv.FormatInt(start.UnixNano(), 36),
		KafkaOptions: r.c.kopts,
	}
	if !r.c.embedded {
		ecfg.StartingPosition, ecfg.StartingTimestamp = esm.AtTimestamp, start.Add(-time.Second)
	}
	m, err := esm.New(ecfg, target,
		esm.WithBatchSize(cfg.BatchSize),
		esm.WithReportBatchItemFailures(true),
		esm.WithLogger(cfg.Logger),
		esm.WithShutdownTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
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
		progress := goRun(func(ctx context.Context) error { r.progress(ctx, m, start); return nil }, ctx)
		defer progress.stop()
	}

	first := time.Now()
	if err := r.produce(ctx); err != nil {
		return nil, err
	}
	select {
	case <-r.allSettled:
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
	for tr := range r.produced {
		switch n := r.seen[tr]; {
		case n == 0:
			res.Lost = append(res.Lost, tr.String())
		case n > 1:
			res.Duplicates += n - 1
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
// the Protobuf schema ksqlDB registers, and records where each one landed.
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
		}
		r.mu.Unlock()
		done += n
		r.nProduced.Store(int64(done))
	}
	r.mu.Lock()
	if r.cfg.Trades == 0 || r.settled == r.cfg.Trades {
		r.markAllSettled()
	}
	r.mu.Unlock()
	return nil
}

// read consumes trade-settlements until ctx is done.
func (r *run) read(ctx context.Context, start time.Time) error {
	settlements, err := serde.Protobuf[*tradepb.TradeSettlement](r.c.registry)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	from := kgo.NewOffset().AtStart()
	if !r.c.embedded {
		from = kgo.NewOffset().AfterMilli(start.Add(-time.Second).UnixMilli())
	}
	cl, err := kgo.NewClient(append(slices.Clip(r.c.kopts), kgo.ConsumeTopics(app.OutputTopic), kgo.ConsumeResetOffset(from),
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
		var decodeErr error
		fetches.EachRecord(func(kr *kgo.Record) {
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
			r.seen[rw.trade]++
			if r.seen[rw.trade] == 1 && r.produced[rw.trade] {
				r.settledOne()
			}
		}
		r.mu.Unlock()
	}
}

// settledOne counts one more settled trade; r.mu is held.
func (r *run) settledOne() {
	r.settled++
	r.lastSettled = time.Now()
	if r.settled == r.cfg.Trades {
		r.markAllSettled()
	}
}

func (r *run) markAllSettled() {
	select {
	case <-r.allSettled:
	default:
		close(r.allSettled)
	}
}

func (r *run) progress(ctx context.Context, m *esm.Mapping, start time.Time) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		settled := r.settled
		r.mu.Unlock()
		el := time.Since(start).Seconds()
		_, _ = fmt.Fprintf(r.cfg.Progress, "  %5.1fs  produced %6d/%d  invocations %5d  settled %6d/%d  (%.0f trades/s)\n",
			el, r.nProduced.Load(), r.cfg.Trades, m.Stats().Invocations, settled, r.cfg.Trades, float64(settled)/el)
	}
}

// dispositionIndex is a disposition's column in Window.Counts.
func dispositionIndex(d string) int {
	return slices.Index(settle.Dispositions(), d)
}
