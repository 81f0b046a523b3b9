package esm_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// rieModule is the Runtime Interface Emulator the test builds from the Go
// module proxy (not a dependency of this module).
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// rieBinary returns the path of aws-lambda-rie: $KAFKALAMBDA_RIE if set, else
// a build cached under the user cache directory, built on first use with
// `go install`. It skips the test when the emulator cannot be built (no
// network and no cached copy).
func rieBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KAFKALAMBDA_RIE"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	version := rieModule[strings.LastIndexByte(rieModule, '@')+1:]
	dir := filepath.Join(cache, "kafkalambda", "aws-lambda-rie-"+version)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	// Build into a fresh directory and rename it into place, so concurrent
	// test processes never see a half-written binary.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Skipf("Runtime Interface Emulator: cache directory: %v", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "rie-build-")
	if err != nil {
		t.Skipf("Runtime Interface Emulator: %v", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", rieModule)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	cmd.Dir = tmp // outside this module
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the Runtime Interface Emulator (%s); set KAFKALAMBDA_RIE to a binary to run this test: %v\n%s", rieModule, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Skipf("Runtime Interface Emulator: %v", err)
		}
	}
	return bin
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects the emulator's output for the test log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRIE builds testdata/rie-function as a bootstrap and runs it under the
// emulator; it returns the Invoke API endpoint and the file the function
// logs processed records to.
func startRIE(t *testing.T) (endpoint, recordLog string) {
	t.Helper()
	rie := rieBinary(t)
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", bootstrap, "./testdata/rie-function")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the function: %v\n%s", err, out)
	}
	recordLog = filepath.Join(dir, "records.log")
	addr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RECORD_LOG="+recordLog, "AWS_LAMBDA_FUNCTION_TIMEOUT=20", "LOG_LEVEL=warn")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr, recordLog
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
	waitFor(t, 40*time.Second, "30 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 30 })

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
	target, err := esm.NewEndpointTarget("http://" + freeAddr(t))
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
