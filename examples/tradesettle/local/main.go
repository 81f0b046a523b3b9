// Command local runs the trade settlement pipeline on this machine: it
// produces user trades, runs them through a local Kafka event source
// mapping into the real function, reads trade-settlements back and prints
// what ksqlDB's settlement_counts table would show, per symbol and minute,
// with the throughput. Its last line is "settled N of M trades"; it exits
// with status 1 if any trade was not settled.
//
// With no flags everything runs in this process: an embedded Kafka broker
// and Schema Registry, a local Secrets Manager endpoint with the function's
// secret, and the function (wired by app.Wire, as main wires it):
//
//	go run ./examples/tradesettle/local
//
// While it runs it shows the trades produced and settled, and the event
// source mapping's records handled per second, lag per partition and
// failures: on a terminal, a few lines redrawn in place and left as a
// summary; otherwise (a pipe, a file, or with -v) a line a second and a
// last one at the end. -q turns this off.
//
// -stages traces the function with OpenTelemetry (in process) and prints
// where its time went: per stage — the invocation, each record's
// deserialization and Process, each output's send, the flush waiting for
// the brokers — the count, mean, p50, p99, max and share of the
// invocations' time.
//
// -rie runs the built function (build.sh's dist/bootstrap) under the AWS
// Lambda Runtime Interface Emulator instead. -secret FILE runs against a
// real cluster and registry, with a secret shaped like the deployed
// function's; -brokers and -registry are a shortcut for one without
// authentication.
//
// Failures: -poison puts a record that does not decode at the head of
// each partition; -registry-404 N points the function's registry URL at a
// server answering plain HTTP 404 for its first N invocations; -policy
// and -dead-letter choose the function's FAILURE_POLICY and
// DEAD_LETTER_FORMAT, -retries the mapping's retries before it gives
// records up to its on-failure topic. When anything failed, the output
// says where every record went (settled, dead-lettered, given up, lost;
// good records and poison apart) and what the function's user saw.
//
//	go run ./examples/tradesettle/local -n 1000 -poison -registry-404 4
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/progress"
	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       pipeline.Config
		underRIE  = fs.Bool("rie", false, "run the built bootstrap under the Lambda Runtime Interface Emulator instead of in process")
		bootstrap = fs.String("bootstrap", "", "with -rie: the built function (default dist/bootstrap next to this command's folder, or ./dist/bootstrap)")
		emulator  = fs.String("rie-bin", "", "with -rie: the aws-lambda-rie binary (default $"+rie.EnvBinary+", or built from the module proxy and cached)")
		secret    = fs.String("secret", "", "JSON file shaped like the function's secret: run on that cluster and registry instead of embedded ones")
		brokers   = fs.String("brokers", "", "bootstrap servers of a cluster without authentication (with -registry; instead of -secret)")
		registry  = fs.String("registry", "", "Schema Registry URL, with -brokers")
		verbose   = fs.Bool("v", false, "log what the function, the mapping and the emulator do")
		quiet     = fs.Bool("q", false, "no progress (a frame redrawn in place on a terminal, else a line a second: trades produced and settled, records/s, lag per partition, failures)")
	)
	fs.IntVar(&cfg.Trades, "n", pipeline.DefaultTrades, "trades to produce")
	fs.IntVar(&cfg.BatchSize, "batch", pipeline.DefaultBatchSize, "the event source mapping's batch size")
	partitions := fs.Int("partitions", pipeline.DefaultPartitions, "partitions of the topics, when created")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the trade generator")
	fs.DurationVar(&cfg.Timeout, "timeout", pipeline.DefaultTimeout, "how long to wait for every settlement")
	fs.StringVar(&cfg.Policy, "policy", pipeline.DefaultPolicy, "the function's FAILURE_POLICY: ISOLATE_POISON, DEAD_LETTER, REPORT_BATCH_ITEM_FAILURES or FAIL_BATCH")
	fs.StringVar(&cfg.DeadLetterFormat, "dead-letter", "RAW", "the function's DEAD_LETTER_FORMAT: RAW (the record as it came) or REJECTION (a SettlementRejected JSON record)")
	fs.IntVar(&cfg.MaxRetries, "retries", pipeline.DefaultMaxRetries, "the mapping's retries of a failed batch before it gives the records up to "+pipeline.OnFailureTopic)
	fs.BoolVar(&cfg.Stages, "stages", false, "trace the function (OpenTelemetry, in process) and print where its time went, per stage")
	fs.BoolVar(&cfg.Poison, "poison", false, "put a record that does not decode at the head of each partition")
	fs.IntVar(&cfg.Registry404, "registry-404", 0, "point the function's registry URL at a server answering plain HTTP 404 for its first `N` invocations")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.MaxRetries < 1 || cfg.Registry404 < 0 {
		fmt.Fprintln(stderr, "local: -retries must be at least 1 and -registry-404 not negative")
		return 2
	}
	cfg.Partitions = int32(*partitions)
	if !*quiet {
		cfg.Progress = stdout
		// On a terminal, a frame redrawn in place; not with -v, whose log
		// lines on stderr would go through it.
		if ok, width := progress.Terminal(stdout, os.Getenv); ok && !*verbose {
			cfg.ProgressWidth = width
		}
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	switch {
	case *secret != "" && *brokers != "":
		fmt.Fprintln(stderr, "local: -secret and -brokers exclude each other")
		return 2
	case *secret != "":
		b, err := os.ReadFile(*secret)
		if err != nil {
			fmt.Fprintln(stderr, "local:", err)
			return 2
		}
		cfg.Secret = string(b)
	case *brokers != "":
		if *registry == "" {
			fmt.Fprintln(stderr, "local: -brokers needs -registry")
			return 2
		}
		b, _ := json.Marshal(map[string]string{"bootstrap.servers": *brokers, "security.protocol": "PLAINTEXT", "schema.registry.url": *registry})
		cfg.Secret = string(b)
	}
	if *underRIE {
		cfg.RIE = &pipeline.RIE{Bootstrap: *bootstrap, Emulator: *emulator}
		if cfg.RIE.Bootstrap == "" {
			cfg.RIE.Bootstrap = findBootstrap()
		}
		if *verbose {
			cfg.RIE.Output = stderr
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	where := "an embedded Kafka broker and Schema Registry"
	if cfg.Secret != "" {
		where = "the cluster and registry of the secret"
	}
	mode := "the function in process"
	if cfg.RIE != nil {
		mode = cfg.RIE.Bootstrap + " under the Runtime Interface Emulator"
	}
	fmt.Fprintf(stdout, "tradesettle: %d trades through the local event source mapping into %s, on %s\n", cfg.Trades, mode, where)
	start := time.Now()
	res, err := pipeline.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "local:", err)
		if errors.Is(err, os.ErrNotExist) && cfg.RIE != nil {
			fmt.Fprintln(stderr, "local: build the function first: examples/tradesettle/build.sh")
		}
		return 1
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "settlement_counts (per symbol and minute of trade time, as the ksqlDB table would show them):")
	_ = res.WriteTable(stdout)
	fmt.Fprintln(stdout)
	_ = res.WriteSummary(stdout)
	if res.Failed() {
		fmt.Fprintln(stdout)
		_ = res.WriteFailures(stdout, 3)
	}
	if cfg.Stages {
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "where the function's time went (its OpenTelemetry spans):")
		_ = res.WriteStages(stdout)
	}
	fmt.Fprintf(stdout, "run took %.1fs in all\n", time.Since(start).Seconds())
	fmt.Fprintf(stdout, "settled %d of %d trades\n", res.Settled, res.Trades)
	if res.Settled < res.Trades {
		return 1
	}
	return 0
}

// findBootstrap returns build.sh's output: dist/bootstrap next to the
// example, whether run from the example's folder or from the repository
// root.
func findBootstrap() string {
	for _, p := range []string{"dist/bootstrap", "examples/tradesettle/dist/bootstrap", "../dist/bootstrap"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join("dist", "bootstrap")
}
