package esm_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// startRIE builds testdata/rie-function as a bootstrap and runs it under the
// emulator; it returns the Invoke API endpoint and the file the function
// logs processed records to.
func startRIE(t *testing.T) (endpoint, recordLog string) {
	t.Helper()
	// Building the emulator and the function takes minutes on a cold build
	// cache (cgo, librdkafka): bounded by the test binary's -timeout only.
	// No emulator is a failure, not a skip: it comes from the module proxy
	// like every other dependency (or from $KAFKALAMBDA_RIE).
	bin, err := rie.Binary(t.Context())
	if err != nil {
		t.Fatalf("no Runtime Interface Emulator (set %s to a binary to use one): %v", rie.EnvBinary, err)
	}
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bootstrap, "./testdata/rie-function")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the function: %v\n%s", err, out)
	}
	recordLog = filepath.Join(dir, "records.log")
	emu, err := rie.Start(testCtx(t), bootstrap, rie.WithBinary(bin), rie.WithEnv("RECORD_LOG="+recordLog, "LOG_LEVEL=warn"),
		rie.WithFunctionTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		emu.Close()
		if t.Failed() {
			t.Logf("emulator output:\n%s", emu.Output())
		}
	})
	return emu.Endpoint, recordLog
}

// The mapping drives a real bootstrap under the Runtime Interface Emulator
// through the Invoke API: function errors (which the emulator reports
// without X-Amz-Function-Error), bisecting, batch item failures, the
// on-failure topic and commits all behave as with an in-process handler.
func TestRuntimeInterfaceEmulator(t *testing.T) {
	t.Parallel()
	endpoint, recordLog := startRIE(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 2), kafkalambdatest.WithTopic("dlq", 1))
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := range 15 {
			v := "v" + strconv.Itoa(i)
			switch {
			case p == 0 && i == 7:
				v = "fail"
			case p == 1 && i == 4:
				v = "item-fail"
			}
			recs = append(recs, &kgo.Record{Topic: "in", Partition: p, Key: []byte(fmt.Sprint("k", i)), Value: []byte(v)})
		}
	}
	if err := c.ProduceRecords(testCtx(t), recs...); err != nil {
		t.Fatal(err)
	}
	target, err := esm.NewEndpointTarget(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var res batches
	r := start(t, c, esm.Config{Topics: []string{"in"}}, target,
		esm.WithConcurrency(1), esm.WithBatchSize(10), esm.WithBatchingWindow(200*time.Millisecond),
		esm.WithBisectBatchOnFunctionError(true), esm.WithReportBatchItemFailures(true),
		esm.WithMaxRetryAttempts(1), esm.WithOnFailureTopic("dlq"), esm.WithOnBatch(res.add))
	r.await(t, time.Minute, "30 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 30 })

	processed := map[string][]int64{}
	f, err := os.Open(recordLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var key string
		var off int64
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &key, &off); err != nil {
			t.Fatalf("record log line %q: %v", sc.Text(), err)
		}
		processed[key] = append(processed[key], off)
	}
	if got := fmt.Sprint(processed["in-0"]); got != "[0 1 2 3 4 5 6 8 9 10 11 12 13 14]" {
		t.Errorf("in-0 processed %s: every record but the failing one, once, in order", got)
	}
	if got := fmt.Sprint(processed["in-1"]); got != "[0 1 2 3 4 5 6 7 8 9 10 11 12 13 14]" {
		t.Errorf("in-1 processed %s: every record once, in order", got)
	}
	msgs, frs := readFailures(t, c, "dlq")
	if len(frs) != 1 || string(msgs[0].Key) != "k7" || frs[0].KafkaBatchInfo.RecordInfo.Offset != "7" ||
		frs[0].RequestContext.Condition != esm.ConditionRetriesExhausted || frs[0].ResponseContext == nil ||
		frs[0].ResponseContext.FunctionError != "Unhandled" {
		t.Fatalf("on-failure records %+v", frs)
	}
	var sawFunctionError, sawPartial bool
	for _, b := range res.get() {
		sawFunctionError = sawFunctionError || b.Outcome == esm.OutcomeFunctionError
		sawPartial = sawPartial || b.Outcome == esm.OutcomePartial
		if b.RequestID == "" {
			t.Errorf("invocation %d has no request id", b.Seq)
		}
	}
	if !sawFunctionError || !sawPartial {
		t.Fatalf("outcomes seen: function error %v, partial %v", sawFunctionError, sawPartial)
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 15 || got[1] != 15 {
		t.Fatalf("committed %v", got)
	}
}

// An endpoint nobody listens on is an invoke error, retried, never a function
// error.
func TestEndpointTargetUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	target, err := esm.NewEndpointTarget("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := target.Invoke(ctx, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "esm: invoke") {
		t.Fatalf("want an invoke error, got %v", err)
	}
	if _, err := esm.NewEndpointTarget(""); err == nil {
		t.Fatal("empty endpoint accepted")
	}
}
