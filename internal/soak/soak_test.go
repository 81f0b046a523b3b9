package soak

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// EnvLogs names a directory the soak writes each run's logs and errors to,
// for a developer looking into a run. They hold no secret values (the soak
// checks), but they hold everything else.
const EnvLogs = "KAFKALAMBDA_SOAK_LOGS"

// The soak's size and bounds.
const (
	soakRecords    = 2000
	soakPartitions = 8
	// soakBatchSize is AWS's default. A partition's share of the input is
	// more than two batches, so the mapping pauses fetching it, and a
	// broker outage that ends the group session meets paused partitions
	// (see TestESMResumesAfterLostSession).
	soakBatchSize = 100
	soakSeed      = 20261107
	// fnTimeout is the function timeout of a faulted run: Lambda's
	// default. Produce stalls outlast it.
	fnTimeout = 3 * time.Second
	// fnMargin is how long before its deadline the function's flush gives
	// up: kafkalambda's default deadline margin.
	fnMargin = 500 * time.Millisecond
	// cleanTimeout is the function timeout of a clean run: long enough
	// that a loaded CI machine never turns a slow invocation into a
	// retry, which the clean run would count as a duplicate.
	cleanTimeout = 10 * time.Second
	// runLimit bounds one run, from start to the last commit.
	runLimit = 120 * time.Second
)

// policyCase is a failure policy and the event source mapping it goes
// with.
type policyCase struct {
	name string
	env  string // app's FAILURE_POLICY
	esm  []esm.Option
	// dragsPartition: the configuration gives up, with a poison record,
	// the good records of its partition after it in its batch (see
	// policies). Only those may be given up; none for any other reason.
	dragsPartition bool
	// isolates: the function itself dead-letters poison, so the mapping
	// must give none up.
	isolates bool
	// onFailure: the mapping gives records up to an on-failure topic after
	// its retries; a faulted run sets them to the plan's (plan.retries).
	onFailure bool
	// exactlyOnce runs the function in exactly-once mode: no duplicates,
	// under faults too, and batches that succeeded are delivered again.
	exactlyOnce bool
}

// policies are the soak's configurations. With an on-failure topic, the
// mapping's retries are AWS's default with one (10, esm.RetriesWithOnFailure)
// in a clean run, and what the plan's faults can use up in a faulted run
// (plan.retries, see newPlan).
//
// Which can give a good record up, and why:
//
//   - FailBatch, with bisection: no. A poison record fails every batch it is
//     in, bisection halves the batch until the poison is alone, and only
//     that one record runs out of retries. An environmental failure fails
//     the invocation and is retried like any other, within the retry budget
//     (see newPlan).
//   - ReportItemFailures: yes, by design. The function reports a poison
//     record with the rest of its partition (the record and every record
//     after it in the event: what the issue 20 change makes it do, right
//     under both item failure models), the mapping retries them together,
//     and when the poison runs out of retries the good records after it in
//     its batch go to the on-failure topic with it (tradesettle's
//     REPORT_BATCH_ITEM_FAILURES says so). Those are counted as "behind
//     poison"; a good record given up for any other reason fails the run.
//   - DeadLetter: no, and nothing at all can be: no on-failure topic,
//     unlimited retries; poison is dead-lettered by the function, and only
//     poison may be. With an on-failure topic it could: a failure that is
//     not a record's fails the invocation and the whole batch is retried,
//     so a batch goes through every fault of its time, and its most failed
//     attempts (in the figures) can pass AWS's budget of 11. Hence
//     IsolatePoison, where a retry takes only the records not yet done.
//   - IsolatePoison (ISOLATE_POISON: DeadLetter, and environmental failures
//     reported as item failures rather than failing the invocation), with
//     the mapping retrying only the listed records (esm.RetryListed, the
//     default, the literal reading of AWS's Kafka page; ReportItemFailures
//     runs under the checkpoint reading, esm.ResumeFromLowest, so the soak
//     runs under both models): no. Poison is dead-lettered
//     by the function, so no retry is spent on it, and only environmental
//     failures, within the retry budget, are retried.
func policies() []policyCase {
	return []policyCase{
		{name: "FailBatch", env: app.PolicyFailBatch, onFailure: true, esm: []esm.Option{
			esm.WithOnFailureTopic(onFailureTopic),
			esm.WithBisectBatchOnFunctionError(true),
		}},
		{name: "ReportItemFailures", env: app.PolicyReportItems, dragsPartition: true, onFailure: true, esm: []esm.Option{
			esm.WithReportBatchItemFailures(true),
			esm.WithItemFailureModel(esm.ResumeFromLowest),
			esm.WithOnFailureTopic(onFailureTopic),
		}},
		{name: "DeadLetter", env: app.PolicyDeadLetter, isolates: true},
		{name: "IsolatePoison", env: app.PolicyIsolatePoison, isolates: true, onFailure: true, esm: []esm.Option{
			esm.WithReportBatchItemFailures(true),
			esm.WithItemFailureModel(esm.RetryListed),
			esm.WithOnFailureTopic(onFailureTopic),
		}},
	}
}

// poisonMix is the poison of a faulted run, per thousand records.
func poisonMix() mix {
	return mix{kindPanic: 4, kindBadMagic: 2, kindUnknownSchema: 2, kindTruncated: 2}
}

// TestSoak runs, for each failure policy, the pipeline under faults and
// then without, and checks what the package documentation says. The
// policies run at the same time: a run mostly waits (on deadlines, outages,
// backoffs), so they are not held to -parallel, which is the number of
// CPUs.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	t.Parallel()
	rep := newReport(t)
	// The default mode, then exactly-once mode ("<policy>/EOS", with the
	// same faults): one after the other, so that the machine carries four
	// runs at a time, not eight.
	modes := []bool{false, true}
	for _, exactlyOnce := range modes {
		var wg sync.WaitGroup
		for i, pc := range policies() {
			faultSeed := uint64(soakSeed + 1 + i)
			if exactlyOnce {
				pc.name += "/EOS"
				pc.exactlyOnce = true
			}
			wg.Go(func() {
				t.Run(pc.name, func(t *testing.T) {
					t.Run("faults", func(t *testing.T) { rep.add(soak(t, pc, faultSeed, true).String()) })
					t.Run("clean", func(t *testing.T) { rep.add(soak(t, pc, faultSeed, false).String()) })
				})
			})
		}
		wg.Wait()
	}
}

// soak runs one policy once, with faults or without, checks the outcome
// and returns its figures. Every run has the same input (from soakSeed);
// the faults come from faultSeed.
func soak(t *testing.T, pc policyCase, faultSeed uint64, faulted bool) figures {
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	rng := rand.New(rand.NewPCG(soakSeed, soakSeed^0x5eed))
	r := newRig(t, soakPartitions)
	if dir := os.Getenv(EnvLogs); dir != "" {
		path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log")
		// Streamed as the run goes (a process that dies leaves them),
		// then written whole with the errors seen.
		stream, err := os.Create(path + ".stream")
		if err != nil {
			t.Fatalf("%s: %v", EnvLogs, err)
		}
		r.logs.streamTo(stream)
		t.Cleanup(func() {
			r.logs.streamTo(nil)
			_ = stream.Close()
			if err := r.logs.dump(path); err != nil {
				t.Errorf("%s: %v", EnvLogs, err)
			}
		})
	}
	group := "soak-" + strings.ToLower(strings.ReplaceAll(pc.name, "/", "-"))
	if pc.exactlyOnce {
		r.eosGroup = group + "-progress"
	}

	poison, timeout := mix{}, cleanTimeout
	if faulted {
		poison, timeout = poisonMix(), fnTimeout
	}
	ins, err := makeInputs(ctx, rng, soakRecords, r.c.RegistryClient(), poison)
	if err != nil {
		t.Fatal(err)
	}
	if err := produceInputs(ctx, r.c, ins, soakPartitions); err != nil {
		t.Fatal(err)
	}
	if pc.exactlyOnce {
		createProgressGroup(ctx, t, r)
	}

	for _, kind := range []string{kindPanic, kindBadMagic, kindUnknownSchema, kindTruncated} {
		if faulted && !hasKind(ins, kind) {
			t.Fatalf("the input has no %s record: change the seed or the mix", kind)
		}
	}

	var inj *injector
	if faulted {
		inj = newInjector(r, faultSeed, v2SchemaPath(ins))
		inj.sends = startsGood(ins)
		inj.install(group, []string{app.OutputTopic, deadLetterTopic, onFailureTopic}, []string{app.OutputTopic, deadLetterTopic})
		r.c.FakeRegistry().Intercept(inj.interceptRegistry)
		inj.setRegistryFaults(true)
		inj.failSecrets(1, 1) // the cold start's read
		t.Cleanup(func() { _ = inj.quiesce(0) })
	}

	envs := r.environments(ctx, t, pc.env, panicRules())
	target := &watchedTarget{envs: envs, timeout: timeout, logs: r.logs}
	if pc.exactlyOnce {
		target.redeliverEvery = redeliverEvery
	}
	var away []window // filled in at the end
	if faulted {
		target.before = inj.beforeInvoke
	}
	attempts := newAttemptWatch(ins, pc.isolates)
	opts := append([]esm.Option{
		esm.WithBatchSize(soakBatchSize),
		// One invoker per partition, as before events held several
		// partitions by default: the fault schedule's coverage checks
		// (an invocation in flight through each fault) were tuned to it.
		esm.WithConcurrency(soakPartitions),
		esm.WithRetryBackoff(soakBackoffMin, soakBackoffMax),
		esm.WithShutdownTimeout(15 * time.Second),
		esm.WithLogger(r.logs.logger("esm")),
		esm.WithOnBatch(func(br esm.BatchResult) {
			r.logs.keepErr(br.Err)
			attempts.see(br)
		}),
	}, pc.esm...)
	if faulted && pc.onFailure {
		opts = append(opts, esm.WithMaxRetryAttempts(inj.plan.retries(fnTimeout, fnMargin)))
	}
	m, err := esm.New(esm.Config{Brokers: r.c.Brokers(), Topics: []string{app.InputTopic}, Group: group,
		KafkaOptions: r.clientOptions()}, target, opts...)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- m.Run(runCtx) }()
	select {
	case <-m.Ready():
	case err := <-ran:
		t.Fatalf("the event source mapping stopped before it was ready: %v", err)
	case <-ctx.Done():
		t.Fatal("the event source mapping did not join its group within the run's limit")
	}
	if faulted {
		inj.schedule(ctx, func() float64 {
			st := m.Stats()
			return float64(st.RecordsSucceeded+st.RecordsOnFailure+st.RecordsDiscarded) / soakRecords
		})
	}

	// Done when the group has committed the whole input.
	adm := r.adminClient(t)
	for {
		behind, err := lag(ctx, adm, group, app.InputTopic)
		if err == nil && behind == "" {
			break
		}
		select {
		case err := <-ran:
			t.Fatalf("the event source mapping stopped mid-run: %v", err)
		case <-ctx.Done():
			var injected string
			if inj != nil {
				injected = describe(inj.snapshot())
			}
			t.Fatalf("not done after %v: %s (%v); mapping %+v; injected %s", runLimit, behind, err, m.Stats(), injected)
		case <-time.After(100 * time.Millisecond):
		}
	}
	f := figures{policy: pc.name, faults: faulted, wall: time.Since(start), exactlyOnce: pc.exactlyOnce}
	if faulted {
		if err := inj.quiesce(2 * fnTimeout); err != nil {
			t.Error(err)
		}
		f.injected = inj.snapshot()
		away = inj.unreachable()
	}
	stop()
	if err := <-ran; err != nil {
		t.Errorf("the event source mapping ended with %v", err)
	}
	envs.Close()
	f.environments = envs.count()
	st := m.Stats()
	f.invocations, f.fnErrors, f.partial = st.Invocations, st.FunctionErrors+st.BadResponses, st.PartialFailures
	f.secretReads = r.sm.Calls(secretstest.OpGetSecretValue)
	f.longest = target.longest
	f.redelivered, f.redeliveredOK = target.redelivered, target.redeliveredOK

	readCtx, readCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer readCancel()
	if pc.exactlyOnce {
		// A transaction left open by an environment (fenced in the
		// background, or aborted at transaction.timeout.ms) holds back
		// what read_committed consumers see of its partitions: wait for
		// it to end before reading.
		if err := awaitNoOpenTransactions(readCtx, adm, app.OutputTopic, deadLetterTopic); err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{app.OutputTopic, deadLetterTopic} {
			reused, err := epochReuse(readCtx, r.c, topic)
			if err != nil {
				t.Errorf("read %s for its transaction markers: %v", topic, err)
			}
			for _, w := range reused[:min(len(reused), 10)] {
				t.Errorf("an aborted transaction's producer epoch was used again (its next transaction can be taken for the aborted writes, and lost): %s", w)
			}
		}
	}
	led := newLedger(ins)
	if err := led.read(readCtx, r.c, r.logs); err != nil {
		t.Fatalf("read the outputs back: %v", err)
	}
	f.tally = led.tally()
	if len(f.tally.lostRefs) > 0 {
		where, err := led.whereLost(readCtx, r.c, f.tally.lostRefs)
		if err != nil {
			t.Errorf("read the settlements back, read_uncommitted: %v", err)
		}
		for _, w := range where {
			t.Logf("lost: %s", w)
		}
	}
	f.logLines, f.errTexts = r.logs.counts()
	// The flush of an invocation ends 500 ms (kafkalambda's default
	// deadline margin) before its deadline: one that lasted 2 s of its 3
	// ran into it.
	inAway := func(at time.Time) bool {
		for _, w := range away { // an invocation that started in w ends by w.to + its timeout
			if !at.Before(w.from) && !at.After(w.to.Add(timeout)) {
				return true
			}
		}
		return false
	}
	f.undelivered, f.refused = r.logs.undeliveredInvocations(timeout-time.Second, inAway)
	f.txnFailed, f.txnAway = r.logs.txnFailedInvocations(inAway)
	f.mostFailures = attempts.most()
	f.leaks = len(r.logs.leaks(r.secretValues()))
	t.Log(f)
	for _, ex := range f.tally.collateralEx {
		t.Logf("good record given up: %s", ex)
	}
	for _, ex := range f.tally.draggedEx {
		t.Logf("good record given up behind poison: %s", ex)
	}
	check(t, pc, f, led, target, faulted)
	checkNoLeaks(t, r.logs, r.secretValues())
	return f
}

// check fails t where the run broke a promise.
func check(t *testing.T, pc policyCase, f figures, led *ledger, target *watchedTarget, faulted bool) {
	t.Helper()
	tl := f.tally
	if len(tl.lost) > 0 {
		t.Errorf("%d input records lost (no settlement, not dead-lettered, not on the on-failure topic), first: %s",
			len(tl.lost), strings.Join(tl.lost[:min(10, len(tl.lost))], ", "))
	}
	for _, p := range led.problems {
		t.Error(p)
	}
	if tl.poisonSettled > 0 {
		t.Errorf("%d poison records reported settled", tl.poisonSettled)
	}
	for _, w := range tl.wrongStage {
		t.Error(w)
	}
	for _, o := range target.overrun {
		t.Error(o)
	}
	if pc.exactlyOnce {
		// Exactly once, under faults too, with batches that had
		// succeeded delivered again.
		if tl.outputDuplicates != 0 {
			t.Errorf("exactly-once: %d duplicate outputs (settlements, dead letters), first: %s", tl.outputDuplicates, strings.Join(tl.duplicateEx, "; "))
		}
		if f.redelivered == 0 || (!faulted && f.redeliveredOK != f.redelivered) {
			t.Errorf("exactly-once: %d batches that had succeeded delivered again, %d of them succeeding: want some, all without faults",
				f.redelivered, f.redeliveredOK)
		}
	}
	if !faulted {
		if tl.settled != tl.in || tl.duplicates != 0 || tl.deadLettered != 0 || tl.onFailure != 0 || led.outputs != tl.in {
			t.Errorf("without faults: %d of %d settled, %d settlements, %d duplicates, %d dead-lettered, %d on the on-failure topic; want each trade settled exactly once",
				tl.settled, tl.in, led.outputs, tl.duplicates, tl.deadLettered, tl.onFailure)
		}
		if f.fnErrors != 0 || f.partial != 0 {
			t.Errorf("without faults: %d failed invocations, %d with item failures", f.fnErrors, f.partial)
		}
		return
	}
	// Faults that the plan always injects: a run that did not meet them
	// proves nothing about them.
	for _, kind := range []string{fkProduceStall, fkOutage, fkUnreachable, fkAuthReject, fkRotation,
		fkRegistry5xx, fkRegistryTimeout, fkRegistry404, fkSecrets} {
		if f.injected[kind] == 0 {
			t.Errorf("no %s fault was injected", kind)
		}
	}
	// A good record is never given up for a failure that is not a
	// record's (nor for another record's, but under ReportItemFailures,
	// behind poison in its partition: see policies).
	if tl.collateral > 0 {
		t.Errorf("%d good records given up (%d dead-lettered): %s",
			tl.collateral, tl.goodDeadLettered, strings.Join(tl.collateralEx, "; "))
	}
	if !pc.dragsPartition && tl.dragged > 0 {
		t.Errorf("%d good records given up behind poison by %s, which isolates poison: %s",
			tl.dragged, pc.name, strings.Join(tl.draggedEx, "; "))
	}
	switch {
	case pc.exactlyOnce:
		// The brokers' unreachability meets an invocation wherever it
		// is: mostly at the transaction's begin (InitTransactions after a
		// producer was replaced), its progress read or its commit, before
		// or after its sends; each fails the invocation with
		// ErrTransaction, or with its sends unacknowledged.
		if f.txnFailed == 0 {
			t.Error("exactly-once: no invocation failed in its transaction: the transaction's failures were not exercised")
		}
		if f.txnAway+f.refused == 0 {
			t.Error("exactly-once: no invocation failed in its transaction, or with sends unacknowledged behind a refused connection, while the brokers were unreachable")
		}
	case f.undelivered == 0:
		t.Error("no invocation ended with unacknowledged sends: the flush at the deadline was not exercised")
	case f.refused == 0:
		t.Error("no invocation ended with sends unacknowledged behind a refused connection: the brokers' unreachability did not reach a flush deadline")
	}
	if tl.poison == 0 || tl.poison != countGivenUpPoison(led) {
		t.Errorf("%d poison records, %d of them in the dead-letter or on-failure topic: want all", tl.poison, countGivenUpPoison(led))
	}
	if pc.isolates && tl.poisonOnFailure > 0 {
		t.Errorf("%d poison records given up by the mapping under %s: the function dead-letters poison", tl.poisonOnFailure, pc.name)
	}
}

// redeliverEvery: in exactly-once mode, every redeliverEvery-th
// invocation that succeeds is delivered again (see watchedTarget).
const redeliverEvery = 5

// The soak's retry backoff: short, so that a run stays short, which makes
// the retry budget short too (see newPlan).
const (
	soakBackoffMin = 20 * time.Millisecond
	soakBackoffMax = 200 * time.Millisecond
)

// attemptWatch finds, from the mapping's batch results, the most failed
// invocations of a batch that starts with a good record: how much of the
// retry budget (with an on-failure topic, 1 + plan.retries in a faulted run)
// environmental faults spent on good records. A batch that starts with poison runs out of
// retries by design under FailBatch (the poison alone, after bisection) and
// ReportItemFailures (the poison and the rest of its batch); under
// ReportItemFailures a poison record later in a batch fails nothing before
// it (the answer is partial, and the rest starts with the poison), and under
// FailBatch a batch holding one is split without counting an attempt.
type attemptWatch struct {
	poison map[ref]bool // poison records, where poison fails invocations
	mu     sync.Mutex
	max    int
}

// newAttemptWatch returns the watch of a run of ins. Under a policy that
// isolates poison, poison fails no invocation, and every batch counts.
func newAttemptWatch(ins []*input, isolates bool) *attemptWatch {
	w := &attemptWatch{poison: map[ref]bool{}}
	for _, in := range ins {
		if in.kind != kindGood && !isolates {
			w.poison[ref{in.partition, in.offset}] = true
		}
	}
	return w
}

func (w *attemptWatch) see(br esm.BatchResult) {
	switch br.Outcome {
	case esm.OutcomePartial, esm.OutcomeFunctionError, esm.OutcomeBadResponse:
	default:
		return
	}
	for _, pr := range br.Partitions {
		if w.poison[ref{pr.Partition, pr.First}] {
			return
		}
	}
	w.mu.Lock()
	w.max = max(w.max, br.Attempt)
	w.mu.Unlock()
}

func (w *attemptWatch) most() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

// awaitNoOpenTransactions waits until no transaction is open on topics:
// each partition's last stable offset is its end offset.
func awaitNoOpenTransactions(ctx context.Context, adm *kadm.Client, topics ...string) error {
	for {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			err = ends.Error()
		}
		stable, serr := adm.ListCommittedOffsets(ctx, topics...)
		if serr == nil {
			serr = stable.Error()
		}
		open := ""
		if err == nil && serr == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if s, ok := stable.Lookup(o.Topic, o.Partition); !ok || s.Offset < o.Offset {
					open += fmt.Sprintf(" %s-%d", o.Topic, o.Partition)
				}
			})
			if open == "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("transactions still open on%s (%v, %v): %w", open, err, serr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// createProgressGroup makes the exactly-once progress groups exist (one
// per input partition, kafkalambda.ProgressGroup), with offset 0 (nothing
// done), as an operator may before the first deployment. kfake needs it: while a group's only offsets
// are pending in a transaction, it answers an OffsetFetch that requires
// stable offsets with GROUP_ID_NOT_FOUND rather than
// UNSTABLE_OFFSET_COMMIT (Kafka creates the group at the TxnOffsetCommit),
// so a retry could not wait for the first transaction of the group to end.
func createProgressGroup(ctx context.Context, t *testing.T, r *rig) {
	t.Helper()
	for p := range int32(soakPartitions) {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: app.InputTopic, Partition: p, At: 0, LeaderEpoch: -1})
		group := kafkalambda.ProgressGroup(r.eosGroup, app.InputTopic, p)
		resp, err := r.adminClient(t).CommitOffsets(ctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("create the progress group %s: %v", group, err)
		}
	}
}

func hasKind(ins []*input, kind string) bool {
	for _, in := range ins {
		if in.kind == kind {
			return true
		}
	}
	return false
}

// v2SchemaPath is the registry request that fetches the schema of the
// input's second half (the altered user_trades schema).
func v2SchemaPath(ins []*input) string {
	v := ins[len(ins)-1].value
	for i := len(ins) - 1; i >= 0 && ins[i].kind != kindGood; i-- {
		v = ins[i-1].value
	}
	return fmt.Sprintf("GET /schemas/ids/%d", binary.BigEndian.Uint32(v[1:5]))
}

func countGivenUpPoison(led *ledger) int {
	n := 0
	for r, in := range led.ins {
		if in.kind != kindGood && len(led.gaveUp[r]) > 0 {
			n++
		}
	}
	return n
}

// startsGood returns whether an event of the run's input ins has a
// partition whose first record is a good one: an invocation of it sends.
func startsGood(ins []*input) func(payload []byte) bool {
	good := map[ref]bool{}
	for _, in := range ins {
		if in.kind == kindGood {
			good[ref{in.partition, in.offset}] = true
		}
	}
	return func(payload []byte) bool {
		ev, err := kafkalambda.ParseEvent(payload)
		if err != nil {
			return false
		}
		for _, pt := range ev.Partitions {
			if len(pt.Records) > 0 && good[ref{pt.Partition, pt.Records[0].Offset}] {
				return true
			}
		}
		return false
	}
}
