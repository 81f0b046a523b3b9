package soak

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// ref is an input record: its user_trades partition and offset.
type ref struct {
	partition int32
	offset    int64
}

func (r ref) String() string {
	return app.Source{Topic: app.InputTopic, Partition: r.partition, Offset: r.offset}.String()
}

// givenUp is one copy of an input record in the dead-letter or on-failure
// topic, with why.
type givenUp struct {
	topic, reason, stage string
}

// ledger accounts for every input record: its settlements, its copies in
// the dead-letter and on-failure topics, and whatever came out that does
// not match an input.
type ledger struct {
	ins       map[ref]*input
	settled   map[ref]int
	settledAt map[ref][]string // where each settlement is: partition@offset, producer id
	gaveUp    map[ref][]givenUp
	problems  []string // outputs that match no input, or carry the wrong content
	outputs   int      // settlement records read
	deadCount int      // dead-letter records read
	failCount int      // on-failure records read
}

func newLedger(ins []*input) *ledger {
	l := &ledger{ins: map[ref]*input{}, settled: map[ref]int{}, settledAt: map[ref][]string{}, gaveUp: map[ref][]givenUp{}}
	for _, in := range ins {
		l.ins[ref{in.partition, in.offset}] = in
	}
	return l
}

func (l *ledger) problem(format string, args ...any) {
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

// whereLost reads the settlements topic as a read_uncommitted consumer and
// says, for the first few refs, where a settlement of theirs is in the log
// (partition, offset, producer id and epoch) and that read_committed does
// not see it — or that there is none: what tells an aborted or undecided
// write from one never made.
func (l *ledger) whereLost(ctx context.Context, c *kafkalambdatest.Cluster, lost []ref) ([]string, error) {
	recs, err := c.ReadTopic(ctx, app.OutputTopic)
	if err != nil {
		return nil, err
	}
	at := map[ref][]string{}
	for _, kr := range recs {
		src, err := app.SourceHeader(kr.Headers)
		if err != nil {
			continue
		}
		r := ref{src.Partition, src.Offset}
		at[r] = append(at[r], fmt.Sprintf("%d@%d (producer %d epoch %d)", kr.Partition, kr.Offset, kr.ProducerID, kr.ProducerEpoch))
	}
	var out []string
	var first *kgo.Record // the last copy of the first lost record
	for _, kr := range recs {
		src, err := app.SourceHeader(kr.Headers)
		if err == nil && len(lost) > 0 && (ref{src.Partition, src.Offset}) == lost[0] {
			first = kr
		}
	}
	for _, r := range lost {
		if len(out) == 5 {
			break
		}
		if w := at[r]; len(w) > 0 {
			out = append(out, fmt.Sprintf("%s: in the log at %v, not committed", r, w))
		} else {
			out = append(out, fmt.Sprintf("%s: nowhere in the log", r))
		}
	}
	if first != nil {
		around, err := aroundInLog(ctx, c, first.Partition, first.Offset)
		if err != nil {
			return out, err
		}
		out = append(out, fmt.Sprintf("the log of %s-%d around offset %d (data and transaction markers): %s",
			app.OutputTopic, first.Partition, first.Offset, around))
	}
	return out, nil
}

// aroundInLog lists the settlements topic's partition from 15 offsets
// before at to 60 after, control records (transaction markers) included:
// offset, producer id and epoch, and what each is.
func aroundInLog(ctx context.Context, c *kafkalambdatest.Cluster, partition int32, at int64) (string, error) {
	from := max(at-15, 0)
	cl, err := kgo.NewClient(append(c.ClientOptions(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{app.OutputTopic: {partition: kgo.NewOffset().At(from)}}),
		kgo.KeepControlRecords(), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))...)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // the log may end before at+60
	defer cancel()
	var b strings.Builder
	for last := from - 1; last < at+60; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return b.String(), nil
		}
		for _, kr := range fs.Records() {
			last = kr.Offset
			if kr.Offset > at+60 {
				break
			}
			what := "data"
			if kr.Attrs.IsControl() {
				what = "ABORT"
				if len(kr.Key) >= 4 && kr.Key[3] == 1 {
					what = "COMMIT"
				}
			}
			fmt.Fprintf(&b, "%d:%s/p%d/e%d ", kr.Offset, what, kr.ProducerID%100000, kr.ProducerEpoch)
		}
		if fs.Empty() {
			break
		}
	}
	return b.String(), nil
}

// read reads the three output topics of the run from the start to their
// end and accounts for each record. Each error text found in them goes to
// logs, for the secret scan.
func (l *ledger) read(ctx context.Context, c *kafkalambdatest.Cluster, logs *logSink) error {
	settlements, err := serde.Protobuf[*tradepb.TradeSettlement](c.RegistryClient())
	if err != nil {
		return err
	}
	recs, err := c.ReadCommitted(ctx, app.OutputTopic)
	if err != nil {
		return err
	}
	l.outputs = len(recs)
	for _, kr := range recs {
		src, err := app.SourceHeader(kr.Headers)
		r := ref{src.Partition, src.Offset}
		in := l.ins[r]
		if err != nil || src.Topic != app.InputTopic || in == nil {
			l.problem("a settlement at %s-%d@%d names source %q (%v), not an input", kr.Topic, kr.Partition, kr.Offset, header(kr.Headers, app.HeaderSource), err)
			continue
		}
		got, err := settlements.Deserialize(ctx, serde.Message{Topic: kr.Topic, Data: kr.Value})
		if err != nil {
			l.problem("the settlement of %s at offset %d does not decode: %v", r, kr.Offset, err)
			continue
		}
		want := in.want()
		if !proto.Equal(got, want) {
			l.problem("the settlement of %s (%s) is %v, want %v", r, in.kind, got, want)
		}
		if string(kr.Key) != want.GetSymbol() {
			l.problem("the settlement of %s is keyed %q, want its symbol", r, kr.Key)
		}
		l.settled[r]++
		l.settledAt[r] = append(l.settledAt[r], fmt.Sprintf("%d@%d (producer %d)", kr.Partition, kr.Offset, kr.ProducerID))
	}

	dead, err := c.ReadCommitted(ctx, deadLetterTopic)
	if err != nil {
		return err
	}
	l.deadCount = len(dead)
	for _, kr := range dead {
		reason := header(kr.Headers, kafkalambda.HeaderError)
		logs.keepError(reason)
		p, perr := strconv.ParseInt(header(kr.Headers, kafkalambda.HeaderSourcePartition), 10, 32)
		o, oerr := strconv.ParseInt(header(kr.Headers, kafkalambda.HeaderSourceOffset), 10, 64)
		r := ref{int32(p), o}
		in := l.ins[r]
		switch {
		case perr != nil || oerr != nil || header(kr.Headers, kafkalambda.HeaderSourceTopic) != app.InputTopic || in == nil:
			l.problem("a dead letter at offset %d names no input record", kr.Offset)
			continue
		case reason == "":
			l.problem("the dead letter of %s has no reason", r)
		case !bytes.Equal(kr.Value, in.value) || !bytes.Equal(kr.Key, in.key):
			l.problem("the dead letter of %s is not the record as it came", r)
		}
		l.gaveUp[r] = append(l.gaveUp[r], givenUp{topic: deadLetterTopic, reason: reason,
			stage: header(kr.Headers, kafkalambda.HeaderErrorStage)})
	}

	failed, err := c.ReadCommitted(ctx, onFailureTopic)
	if err != nil {
		return err
	}
	l.failCount = len(failed)
	for _, kr := range failed {
		fr, err := esm.ParseFailureRecord(kr.Value)
		if err != nil {
			l.problem("on-failure record at offset %d: %v", kr.Offset, err)
			continue
		}
		ev, err := fr.Event()
		if err != nil || ev.Len() != 1 {
			l.problem("on-failure record at offset %d: payload of %d records (%v)", kr.Offset, evLen(ev), err)
			continue
		}
		raw := ev.Partitions[0].Records[0]
		r := ref{raw.Partition, raw.Offset}
		in := l.ins[r]
		if raw.Topic != app.InputTopic || in == nil {
			l.problem("on-failure record at offset %d names %s-%d@%d, not an input", kr.Offset, raw.Topic, raw.Partition, raw.Offset)
			continue
		}
		if !bytes.Equal(raw.Value, in.value) {
			l.problem("the on-failure record of %s does not carry the record as it came", r)
		}
		reason := fr.RequestContext.Condition
		if fr.ResponseContext != nil && fr.ResponseContext.FunctionError != "" {
			reason += "/" + fr.ResponseContext.FunctionError
		}
		if fr.RequestContext.Condition == "" {
			l.problem("the on-failure record of %s has no condition", r)
		}
		l.gaveUp[r] = append(l.gaveUp[r], givenUp{topic: onFailureTopic, reason: reason})
	}
	return nil
}

func evLen(ev *kafkalambda.Event) int {
	if ev == nil {
		return 0
	}
	return ev.Len()
}

func header(hs []kgo.RecordHeader, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// tally is what the ledger comes to.
type tally struct {
	in, settled, deadLettered, onFailure int
	poison, poisonSettled                int
	poisonOnFailure                      int // poison given up by the mapping, not dead-lettered
	poisonKinds                          map[string]int
	// Good records given up (some may also be settled): dragged are
	// those given up by the mapping behind a poison record of their
	// partition, with it (see behindPoison); collateral all others.
	collateral, dragged     int
	goodDeadLettered        int // good records in the dead-letter topic (all collateral)
	collateralEx, draggedEx []string
	duplicates              int      // extra settlements and extra given-up copies
	duplicateEx             []string // the first few, with where they are
	// outputDuplicates counts the function's extra outputs: settlements
	// and dead letters beyond one per record. Copies on the on-failure
	// topic are the mapping's (it gives a record up again after it
	// redelivers it, a rebalance resuming from its last commit) and are
	// not outputs of the function.
	outputDuplicates int
	lost             []string
	lostRefs         []ref
	wrongStage       []string // poison dead-lettered at an unexpected stage
	collateralWhy    map[string]int
}

func (l *ledger) tally() tally {
	t := tally{in: len(l.ins), collateralWhy: map[string]int{}, poisonKinds: map[string]int{}}
	for r, in := range l.ins {
		n, gone := l.settled[r], l.gaveUp[r]
		if n > 0 {
			t.settled++
			t.duplicates += n - 1
		}
		if len(gone) > 0 {
			t.duplicates += len(gone) - 1
		}
		dead, failed := false, false
		for _, g := range gone {
			dead = dead || g.topic == deadLetterTopic
			failed = failed || g.topic == onFailureTopic
		}
		if dead {
			t.deadLettered++
		}
		if failed {
			t.onFailure++
		}
		if n > 0 && len(gone) > 0 {
			t.duplicates++ // settled and given up: one of the two is extra
		}
		deadCopies := 0
		for _, g := range gone {
			if g.topic == deadLetterTopic {
				deadCopies++
			}
		}
		outDup := max(n+deadCopies-1, 0)
		t.outputDuplicates += outDup
		if (n > 1 || len(gone) > 1 || n > 0 && len(gone) > 0) && (outDup > 0 || t.outputDuplicates == 0) && len(t.duplicateEx) < 5 {
			var why []string
			for _, g := range gone {
				why = append(why, g.topic+": "+g.reason)
			}
			t.duplicateEx = append(t.duplicateEx, fmt.Sprintf("%s settled at %v, given up %q", r, l.settledAt[r], why))
		}
		if in.kind != kindGood {
			t.poison++
			t.poisonKinds[in.kind]++
			if n > 0 {
				t.poisonSettled++
			}
			if failed {
				t.poisonOnFailure++
			}
			want := string(kafkalambda.StageValue)
			if in.kind == kindPanic {
				want = string(kafkalambda.StageProcess)
			}
			for _, g := range gone {
				if g.topic == deadLetterTopic && g.stage != want {
					t.wrongStage = append(t.wrongStage, fmt.Sprintf("%s (%s) dead-lettered at stage %q: %.200s", r, in.kind, g.stage, g.reason))
				}
			}
		} else if len(gone) > 0 && !dead && l.behindPoison(r) {
			// Given up with a poison record before it in its batch, by
			// a mapping to which the function reported the poison with
			// the rest of its partition.
			t.dragged++
			if len(t.draggedEx) < 3 {
				t.draggedEx = append(t.draggedEx, fmt.Sprintf("%s settled %d times, given up to %s: %.300s", r, n, gone[0].topic, gone[0].reason))
			}
		} else if len(gone) > 0 {
			// A good record given up for anything else: a transient
			// failure that ran out of retries, or a dead letter.
			t.collateral++
			if dead {
				t.goodDeadLettered++
			}
			t.collateralWhy[reasonClass(gone[0].reason)]++
			if len(t.collateralEx) < 5 {
				t.collateralEx = append(t.collateralEx, fmt.Sprintf("%s settled %d times, given up to %s: %.300s", r, n, gone[0].topic, gone[0].reason))
			}
		}
		if n == 0 && len(gone) == 0 {
			t.lost = append(t.lost, fmt.Sprintf("%s (%s)", r, in.kind))
			t.lostRefs = append(t.lostRefs, r)
		}
	}
	return t
}

// behindPoison reports whether the good record r was given up to the
// on-failure topic, out of retries, behind a poison record of its
// partition that was given up too, at most a batch before it: the rest of
// the poison's batch, reported with it and retried with it until its
// retries ran out.
func (l *ledger) behindPoison(r ref) bool {
	for _, g := range l.gaveUp[r] {
		if g.topic != onFailureTopic || !strings.HasPrefix(g.reason, string(esm.ConditionRetriesExhausted)) {
			return false
		}
	}
	for off := max(0, r.offset-soakBatchSize+1); off < r.offset; off++ {
		q := ref{r.partition, off}
		if in := l.ins[q]; in == nil || in.kind == kindGood {
			continue
		}
		for _, g := range l.gaveUp[q] {
			if g.topic == onFailureTopic {
				return true
			}
		}
	}
	return false
}

// reasonClass shortens a reason to its kind, for the figures.
func reasonClass(reason string) string {
	for _, k := range []string{"RetriesExhausted", "not acknowledged", "Purged", "registry", "secret", "authentication", "deadline", "producer"} {
		if strings.Contains(reason, k) {
			return k
		}
	}
	if len(reason) > 40 {
		return reason[:40]
	}
	return reason
}

// epochReuse reads topic as a read_uncommitted consumer, transaction
// markers included, and returns where a transactional producer wrote to a
// partition under the producer id and epoch of a transaction it had
// aborted there: data after that ABORT marker, or a COMMIT marker with no
// data of its own after it. The brokers deduplicate by producer id, epoch
// and sequence number, so a transaction that sends under an aborted one's
// epoch can be acknowledged with the aborted write's offsets and commit
// nothing (the COMMIT with no data): the record is lost though every step
// reported success. Both producers replace a transactional producer whose
// transaction sent and aborted (its successor's InitProducerId bumps the
// epoch); this finds one that did not even in a run that lost nothing.
func epochReuse(ctx context.Context, c *kafkalambdatest.Cluster, topic string) ([]string, error) {
	recs, err := c.ReadWithMarkers(ctx, topic)
	if err != nil {
		return nil, err
	}
	type epochAt struct {
		partition int32
		pid       int64
		epoch     int16
	}
	// abortedAt is each producer epoch's last ABORT on a partition;
	// dataSince, whether it wrote data there after it.
	abortedAt := map[epochAt]int64{}
	dataSince := map[epochAt]bool{}
	var found []string
	for _, r := range recs {
		if r.ProducerID < 0 {
			continue
		}
		k := epochAt{r.Partition, r.ProducerID, r.ProducerEpoch}
		control := r.Attrs.IsControl()
		commit := control && len(r.Key) >= 4 && r.Key[3] == 1
		at, aborted := abortedAt[k]
		switch {
		case control && !commit:
			abortedAt[k], dataSince[k] = r.Offset, false
		case !aborted || dataSince[k]:
		case !control:
			dataSince[k] = true
			found = append(found, fmt.Sprintf("%s-%d@%d: data of producer %d epoch %d after its ABORT at %d",
				topic, r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch, at))
		default: // a COMMIT
			found = append(found, fmt.Sprintf("%s-%d@%d: COMMIT of producer %d epoch %d with no data since its ABORT at %d",
				topic, r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch, at))
		}
	}
	return found, nil
}
