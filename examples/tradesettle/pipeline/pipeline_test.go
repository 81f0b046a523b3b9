package pipeline_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// checkResult checks what every run must give: every trade settled once,
// and dispositions that follow the rules for the generated trades.
func checkResult(t *testing.T, res *pipeline.Result, trades int) {
	t.Helper()
	if res.Settled != trades || len(res.Lost) != 0 {
		t.Fatalf("settled %d of %d; lost %v", res.Settled, trades, res.Lost)
	}
	if res.Duplicates != 0 || res.Settlements != trades {
		t.Errorf("%d settlements, %d duplicates, without faults: want %d and 0", res.Settlements, res.Duplicates, trades)
	}
	var sum [4]int
	for _, w := range res.Windows {
		for i, c := range w.Counts {
			sum[i] += c
		}
		if w.Minute.Second() != 0 || w.Minute.Nanosecond() != 0 || w.Symbol == "" {
			t.Errorf("window %+v", w)
		}
	}
	noKey, largeWithKey := pipeline.GeneratedShares(1, trades)
	completed, pending, flagged, rejected := sum[0], sum[1], sum[2], sum[3]
	if rejected != noKey || pending != largeWithKey {
		t.Errorf("rejected %d, pending %d; the generator made %d without key and %d large with a key", rejected, pending, noKey, largeWithKey)
	}
	rest := trades - noKey - largeWithKey
	if rate := float64(flagged) / float64(rest); math.Abs(rate-settle.FlagRate) > 0.05 || completed+flagged != rest {
		t.Errorf("%d flagged and %d completed of %d: flag rate %.3f, want %.2f ± 0.05", flagged, completed, rest, rate, settle.FlagRate)
	}
	if res.Invocations == 0 || res.Elapsed <= 0 || res.Throughput() <= 0 {
		t.Errorf("invocations %d, elapsed %v", res.Invocations, res.Elapsed)
	}
}

// The whole pipeline, as `go run ./examples/tradesettle/local` runs it, on
// fewer trades and smaller batches (so that there are many invocations).
func TestRunInProcess(t *testing.T) {
	t.Parallel()
	const trades = 3000
	var progress strings.Builder
	res, err := pipeline.Run(context.Background(), pipeline.Config{
		Trades: trades, Partitions: 3, BatchSize: 100, Timeout: 50 * time.Second,
		Progress: &progress, ProgressEvery: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, trades)
	if res.Failed() || res.FunctionLog.Errors+res.FunctionLog.Warnings != 0 {
		t.Errorf("a run without faults failed: %+v", res.FunctionLog)
	}
	if res.Invocations < trades/100 {
		t.Errorf("%d invocations of at most 100 records for %d trades", res.Invocations, trades)
	}
	var table, summary strings.Builder
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := res.WriteSummary(&summary); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Completed", "Pending", "SEC Flagged", "Rejected", "ZVV", "all"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table without %q:\n%s", want, table.String())
		}
	}
	if !strings.Contains(summary.String(), "trades/s") {
		t.Errorf("summary %q", summary.String())
	}
	t.Logf("\n%s%s", table.String(), summary.String())
}

// The same pipeline with the function built as a bootstrap and run under
// the Runtime Interface Emulator. Opt in with TRADESETTLE_RIE=1 (it builds
// the function, and the emulator from the module proxy unless
// KAFKALAMBDA_RIE names one). TRADESETTLE_BOOTSTRAP names a bootstrap to
// run instead of building one: CI passes build.sh's static musl binary, the
// one that is deployed.
func TestRunUnderRIE(t *testing.T) {
	if os.Getenv("TRADESETTLE_RIE") == "" {
		t.Skip("set TRADESETTLE_RIE=1 to run the function under the Runtime Interface Emulator")
	}
	t.Parallel()
	bootstrap := os.Getenv("TRADESETTLE_BOOTSTRAP")
	if bootstrap == "" {
		bootstrap = filepath.Join(t.TempDir(), "bootstrap")
		build := exec.Command("go", "build", "-o", bootstrap, "..")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build the function: %v\n%s", err, out)
		}
	} else if abs, err := filepath.Abs(bootstrap); err == nil {
		bootstrap = abs
	}
	const trades = 2000
	var out strings.Builder
	res, err := pipeline.Run(context.Background(), pipeline.Config{
		Trades: trades, Partitions: 2, BatchSize: 100, Timeout: 50 * time.Second,
		RIE: &pipeline.RIE{Bootstrap: bootstrap, Output: &out},
	})
	if err != nil {
		t.Fatalf("%v\nemulator output:\n%s", err, out.String())
	}
	checkResult(t, res, trades)
	if res.Mode != "under the Runtime Interface Emulator" {
		t.Errorf("mode %q", res.Mode)
	}
}

// A cluster given by a secret, as with -secret: the pipeline creates the
// topics, starts the mapping at the run's start time and reads back only the
// run's settlements, so a second run on the same cluster counts its own
// trades alone.
func TestRunOnAGivenCluster(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithSASLPlain("ops", "ops-pass"), kafkalambdatest.WithRegistryAuth("sr", "sr-pass"))
	secret, err := json.Marshal(map[string]string{
		"bootstrap.servers":    c.BootstrapServers(),
		"security.protocol":    "SASL_PLAINTEXT",
		"sasl.mechanism":       "PLAIN",
		"sasl.username":        "ops",
		"sasl.password":        "ops-pass",
		"schema.registry.url":  c.RegistryURL(),
		"basic.auth.user.info": "sr:sr-pass",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, trades := range []int{800, 500} {
		res, err := pipeline.Run(context.Background(), pipeline.Config{
			Trades: trades, Partitions: 2, BatchSize: 100, Timeout: 40 * time.Second, Secret: string(secret),
		})
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		checkResult(t, res, trades)
	}
}
