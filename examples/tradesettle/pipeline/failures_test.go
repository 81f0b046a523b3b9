package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
)

// The case: 1,000 orders, 4 partitions, a poison record at the head
// of each, with the failure policy that isolates poison (template.yaml's).
const (
	orders     = 1000
	partitions = 4
)

// failureRun runs the pipeline with cfg's failure settings on orders
// trades, and logs the failure report.
func failureRun(t *testing.T, cfg pipeline.Config) *pipeline.Result {
	t.Helper()
	cfg.Trades, cfg.Partitions, cfg.Timeout = orders, partitions, 60*time.Second
	res, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	if err := res.WriteFailures(&report, 3); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", report.String())
	return res
}

// checkPoisonIsolated checks what isolating poison promises: every trade
// settled, no good record dead-lettered or given up, none lost, and each
// poison record dead-lettered exactly once.
func checkPoisonIsolated(t *testing.T, res *pipeline.Result) {
	t.Helper()
	if res.DeadLettered != 0 {
		t.Errorf("%d GOOD records dead-lettered, want 0", res.DeadLettered)
	}
	if res.GivenUp != 0 || res.PoisonGivenUp != 0 {
		t.Errorf("%d good and %d poison records given up to the on-failure topic, want none", res.GivenUp, res.PoisonGivenUp)
	}
	if res.Poison != partitions || res.PoisonDeadLettered != partitions || res.PoisonDeadLetterCopies != 0 {
		t.Errorf("%d poison records, %d dead-lettered with %d extra copies; want %d, each once",
			res.Poison, res.PoisonDeadLettered, res.PoisonDeadLetterCopies, partitions)
	}
	checkResult(t, res, orders)
	if res.FunctionErrors != 0 {
		t.Errorf("%d function errors: %s", res.FunctionErrors, res.FirstFunctionError)
	}
	dead := 0
	for _, l := range res.FunctionLog.FirstWarnings {
		if strings.Contains(l, "class=record action=dead-lettered") {
			dead++
		}
	}
	if dead == 0 {
		t.Errorf("the function's WARN lines do not say a record was dead-lettered: %q", res.FunctionLog.FirstWarnings)
	}
}

// FAILURE_POLICY=ISOLATE_POISON, in both dead-letter formats: the poison
// records go to the dead-letter topic and their partitions go on.
func TestPoisonIsolated(t *testing.T) {
	t.Parallel()
	for _, format := range []string{app.DeadLetterRaw, app.DeadLetterRejections} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			res := failureRun(t, pipeline.Config{Policy: app.PolicyIsolatePoison, DeadLetterFormat: format, Poison: true})
			checkPoisonIsolated(t, res)
			if res.PartialFailures != 0 || res.FunctionLog.Errors != 0 {
				t.Errorf("%d partial failures, %d ERROR lines, with nothing but poison failing: %q",
					res.PartialFailures, res.FunctionLog.Errors, res.FunctionLog.FirstErrors)
			}
		})
	}
}

// The registry URL answers plain HTTP 404 (a wrong host or path prefix) for
// the function's first invocations: the good records fail through the
// registry's fault, not theirs, so they are reported back and retried —
// never dead-lettered — and all settle once the URL is right. The poison is
// dead-lettered once, the one that needs the registry to be found bad too.
func TestRegistry404Isolated(t *testing.T) {
	t.Parallel()
	res := failureRun(t, pipeline.Config{Policy: app.PolicyIsolatePoison, Poison: true, Registry404: partitions})
	checkPoisonIsolated(t, res)
	if res.Registry404Answers == 0 || res.PartialFailures == 0 {
		t.Errorf("the registry answered 404 %d times, %d invocations reported item failures; want both",
			res.Registry404Answers, res.PartialFailures)
	}
	found := false
	for _, l := range res.FunctionLog.FirstErrors {
		if strings.Contains(l, "class=environment") && strings.Contains(l, "schema registry unavailable") {
			found = true
		}
	}
	if !found {
		t.Errorf("no ERROR line says the registry failed (class environment): %q", res.FunctionLog.FirstErrors)
	}
	for _, l := range append(res.FunctionLog.FirstErrors, res.FunctionLog.FirstWarnings...) {
		if strings.Contains(l, "unknown schema") {
			t.Errorf("the function's log calls a registry that answers 404 an unknown schema: %s", l)
		}
	}
}

// The cost of plain REPORT_BATCH_ITEM_FAILURES: the poison record is
// reported with the rest of its partition, retried, and given up after the
// mapping's retries with the good records of its batches; nothing is
// dead-lettered and nothing is lost, but good trades end up unsettled in the
// on-failure topic.
func TestPoisonUnderReportItemFailures(t *testing.T) {
	t.Parallel()
	res := failureRun(t, pipeline.Config{Policy: app.PolicyReportItems, Poison: true, MaxRetries: 2})
	if res.PoisonGivenUp != partitions || res.PoisonDeadLettered != 0 {
		t.Errorf("%d poison records given up, %d dead-lettered; want all %d given up", res.PoisonGivenUp, res.PoisonDeadLettered, partitions)
	}
	if res.GivenUp == 0 {
		t.Error("no good record given up with the poison")
	}
	if res.DeadLettered != 0 || len(res.Lost) != 0 || res.Settled != orders-res.GivenUp {
		t.Errorf("%d dead-lettered, %d lost, %d settled, %d given up of %d", res.DeadLettered, len(res.Lost), res.Settled, res.GivenUp, orders)
	}
}
