// Package pipeline runs the trade settlement pipeline end to end on one
// machine: it produces user trades (as ksqlDB's user_trades stream would
// hold them), runs them through a local Kafka event source mapping (package
// esm) into the real function (app.Wire, as main runs it, in process or as
// the built bootstrap under the Lambda Runtime Interface Emulator), reads
// trade-settlements back, and counts what ksqlDB's settlement_counts table
// would show: per symbol and minute, the trades of each disposition.
//
// By default everything runs in process: an embedded Kafka broker and
// Schema Registry (package kafkalambdatest), both requiring credentials,
// and a local Secrets Manager endpoint holding the function's secret. With
// Config.Secret it runs against a real cluster and registry instead.
//
// # Failures
//
// The function runs with template.yaml's failure policy (ISOLATE_POISON)
// unless Config.Policy says otherwise, and the mapping gives up records
// after Config.MaxRetries retries to OnFailureTopic, as a mapping with an
// on-failure destination does. Config.Poison puts a record that does not
// decode at the head of every partition, and Config.Registry404 points the
// function's registry URL at a server answering HTTP 404 for a while. The
// Result then says where every record went: settled, dead-lettered (to
// DeadLetterTopic), given up, or lost, telling good records from poison,
// and what the function logged.
//
// The command examples/tradesettle/local is Run with flags, and its test
// runs it too. The reliability suite (internal/soak) does not run the
// pipeline: it builds its own, to inject faults into it, and takes only
// KSQLUserTradeSchema from here.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// Defaults of Config.
const (
	DefaultTrades     = 500000
	DefaultPartitions = 4
	DefaultBatchSize  = 500
	DefaultTimeout    = 3 * time.Minute
	// DefaultPolicy is the FAILURE_POLICY template.yaml deploys.
	DefaultPolicy = app.PolicyIsolatePoison
	// DefaultMaxRetries is what an event source mapping with an on-failure
	// destination and unlimited retries applies (esm.WithMaxRetryAttempts).
	DefaultMaxRetries = 10
)

// Topics the pipeline creates besides app.InputTopic and app.OutputTopic:
// the function's dead-letter topic (DEAD_LETTER_TOPIC) and the mapping's
// on-failure destination.
const (
	DeadLetterTopic = "user_trades-dlq"
	OnFailureTopic  = "user_trades-failed"
)

// KSQLUserTradeSchema is the schema ksqlDB registers for user_trades-value
// with the statement in ksql/pipeline.sql (VALUE_SCHEMA_FULL_NAME, value
// columns upper-cased and numbered in SELECT order). The pipeline registers
// this text, not one derived from tradepb, so that the function reads what
// it would read behind ksqlDB.
const KSQLUserTradeSchema = `syntax = "proto3";

package kafkalambda.tradesettle;

message UserTrade {
  string USERID = 1;
  string REGIONID = 2;
  int32 QUANTITY = 3;
  string SYMBOL = 4;
  int32 PRICE = 5;
  string ACCOUNT = 6;
  string SIDE = 7;
}
`

// Config configures Run. The zero value runs DefaultTrades trades on an
// embedded cluster with the function in process.
type Config struct {
	// Trades is how many trades to produce (default DefaultTrades).
	Trades int
	// Partitions is the partition count of user_trades and
	// trade-settlements when Run creates them (default DefaultPartitions).
	Partitions int32
	// BatchSize is the event source mapping's batch size (default
	// DefaultBatchSize, the template's).
	BatchSize int
	// Seed seeds the trade generator (default 1).
	Seed uint64
	// Secret, when set, is the JSON of a secret shaped like the deployed
	// function's (see the README) naming a real cluster and registry to run
	// on; the topics are created if missing. Empty: an embedded cluster.
	Secret string
	// RIE, when set, runs the built bootstrap under the Runtime Interface
	// Emulator instead of the function in process.
	RIE *RIE
	// Timeout bounds the wait for every settlement (default DefaultTimeout).
	Timeout time.Duration
	// Progress, when set, receives the run's progress: trades produced and
	// settled, and the mapping's records handled per second, lag per
	// partition and failures. With ProgressWidth positive it is a terminal
	// that many columns wide, and gets a frame of a few lines redrawn in
	// place every 250 ms, left as the summary at the end; otherwise a
	// plain line every ProgressEvery (default 1s) and a last one at the
	// end.
	Progress      io.Writer
	ProgressEvery time.Duration
	ProgressWidth int
	// Logger receives the function's, the mapping's and the secret
	// loader's logs (default: discard). The function's WARN and ERROR
	// lines are also kept in Result.FunctionLog, whatever Logger is.
	Logger *slog.Logger

	// Stages traces the function (kafkalambda.WithTracing, with the
	// OpenTelemetry SDK in process) and keeps where its time went, per
	// stage, in Result.Stages. It needs the function in process (no RIE).
	Stages bool

	// Policy is the function's FAILURE_POLICY (default DefaultPolicy), and
	// DeadLetterFormat its DEAD_LETTER_FORMAT (default app.DeadLetterRaw);
	// its dead-letter topic is DeadLetterTopic.
	Policy, DeadLetterFormat string
	// MaxRetries is the mapping's MaximumRetryAttempts: how often a failed
	// batch, or the records a response reports, are retried before they
	// are given up to OnFailureTopic (default DefaultMaxRetries).
	MaxRetries int
	// Poison puts one record that does not decode (see the Poison kinds)
	// at the head of each partition of user_trades, before the trades, and
	// produces every record before the mapping starts, as a backlog, so
	// that each poison record's first batch holds good records too.
	Poison bool
	// Registry404, when positive, points the function's registry URL at a
	// server on 127.0.0.1 that answers every request with a plain-text HTTP
	// 404, as a wrong host or path prefix does, during the function's first
	// Registry404 invocations (and those already in flight then); from then
	// on it forwards to the real registry, as once the URL was corrected.
	Registry404 int
}

// RIE says how to run the function under the Runtime Interface Emulator.
type RIE struct {
	// Bootstrap is the built function (build.sh's dist/bootstrap).
	Bootstrap string
	// Emulator is the aws-lambda-rie binary; default rie.Binary's
	// ($KAFKALAMBDA_RIE, or rie.Module built and cached on first use).
	// A bootstrap for another architecture needs the emulator built for it
	// (rie.BinaryFor) and an Interpreter.
	Emulator string
	// Interpreter, when set, runs the emulator and the bootstrap
	// (rie.WithInterpreter): a user-mode emulator such as
	// qemu-aarch64-static, for a bootstrap built for another architecture.
	Interpreter []string
	// Output, when set, receives what the emulator and the function write.
	Output io.Writer
}

func (c *Config) defaults() error {
	if c.Trades == 0 {
		c.Trades = DefaultTrades
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Policy == "" {
		c.Policy = DefaultPolicy
	}
	if c.DeadLetterFormat == "" {
		c.DeadLetterFormat = app.DeadLetterRaw
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	switch {
	case !slices.Contains([]string{app.PolicyFailBatch, app.PolicyReportItems, app.PolicyDeadLetter, app.PolicyIsolatePoison}, c.Policy):
		return fmt.Errorf("pipeline: failure policy %q: want %s, %s, %s or %s", c.Policy,
			app.PolicyIsolatePoison, app.PolicyDeadLetter, app.PolicyReportItems, app.PolicyFailBatch)
	case c.DeadLetterFormat != app.DeadLetterRaw && c.DeadLetterFormat != app.DeadLetterRejections:
		return fmt.Errorf("pipeline: dead-letter format %q: want %s or %s", c.DeadLetterFormat, app.DeadLetterRaw, app.DeadLetterRejections)
	case c.MaxRetries < 0:
		return fmt.Errorf("pipeline: %d retries", c.MaxRetries)
	case c.Registry404 < 0:
		return fmt.Errorf("pipeline: registry 404 for %d invocations", c.Registry404)
	}
	switch {
	case c.Trades < 0:
		return fmt.Errorf("pipeline: %d trades", c.Trades)
	case c.Partitions < 1:
		return fmt.Errorf("pipeline: %d partitions", c.Partitions)
	case c.BatchSize < 1 || c.BatchSize > esm.MaxBatchSize:
		return fmt.Errorf("pipeline: batch size %d not in [1, %d]", c.BatchSize, esm.MaxBatchSize)
	case c.RIE != nil && c.RIE.Bootstrap == "":
		return errors.New("pipeline: RIE without a bootstrap")
	case c.RIE != nil && c.Stages:
		return errors.New("pipeline: stage timings need the function in process, not under the RIE")
	}
	return nil
}

// Run runs the pipeline once (see the package documentation) and returns
// what came out. It ends when every record produced has reached a
// destination (a settlement, the dead-letter topic, the on-failure topic),
// or after Config.Timeout. A run in which some trade got no settlement is
// not an error: Result says where each went, and Result.Lost lists those
// that reached none. Errors are failures to run at all (the cluster, the
// emulator, the mapping).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var (
		c   *cluster
		err error
	)
	if cfg.Secret == "" {
		c, err = embeddedCluster(ctx, cfg.Partitions)
	} else {
		c, err = connect(ctx, cfg.Secret, cfg.Partitions)
	}
	if err != nil {
		return nil, err
	}
	defer c.close()
	start := time.Now()

	// The function's secret, served over the Secrets Manager protocol; with
	// Registry404, its registry URL points at the 404 server.
	fnSecret := c.secret
	var reg404 *notFoundRegistry
	if cfg.Registry404 > 0 {
		if reg404, err = startNotFoundRegistry(c.registryURL); err != nil {
			return nil, err
		}
		defer reg404.close()
		if fnSecret, err = withRegistryURL(c.secret, reg404.srv.URL); err != nil {
			return nil, err
		}
	}
	const secretID = "tradesettle/local"
	sm := secretstest.Start(map[string]string{secretID: fnSecret})
	defer sm.Close()
	env := map[string]string{
		app.EnvSecretID: secretID,
		// template.yaml's settings, with the mapping below.
		app.EnvFailurePolicy:    cfg.Policy,
		app.EnvDeadLetterTopic:  DeadLetterTopic,
		app.EnvDeadLetterFormat: cfg.DeadLetterFormat,
	}
	// The function's log, as its user would see it: Lambda's text format.
	fnLog := &logCollector{}

	// The function: in process, or the bootstrap under the emulator.
	var target esm.Target
	var stages *stageRecorder // with cfg.Stages
	mode := "in process"
	if cfg.RIE == nil {
		sc := secretsmanager.New(secretsmanager.Options{
			BaseEndpoint: aws.String(sm.URL),
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("LOCAL", "local", ""),
		})
		logger := slog.New(slog.NewMultiHandler(
			kafkalambda.LambdaLogger(fnLog, func(string) string { return "" }).Handler(), cfg.Logger.Handler()))
		fn, err := app.Wire(ctx, app.WithSecretsClient(sc), app.WithLogger(logger),
			app.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
		if err != nil {
			return nil, err
		}
		var hopts []kafkalambda.Option
		if cfg.Stages {
			stages = newStageRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(stages))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			hopts = append(hopts, kafkalambda.WithTracing(tp))
		}
		h, err := fn.Handler(hopts...)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		target = &esm.HandlerTarget{Handler: h, Timeout: 60 * time.Second}
	} else {
		mode = "under the Runtime Interface Emulator"
		bin := cfg.RIE.Emulator
		if bin == "" {
			if bin, err = rie.Binary(ctx); err != nil { // built on first use: up to a minute
				return nil, fmt.Errorf("pipeline: %w", err)
			}
		}
		penv := []string{
			"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + sm.URL,
			"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=LOCAL", "AWS_SECRET_ACCESS_KEY=local", "AWS_SESSION_TOKEN=",
		}
		for _, k := range slices.Sorted(maps.Keys(env)) {
			penv = append(penv, k+"="+env[k])
		}
		var out io.Writer = fnLog
		if cfg.RIE.Output != nil {
			out = io.MultiWriter(fnLog, cfg.RIE.Output)
		}
		opts := []rie.Option{rie.WithBinary(bin), rie.WithEnv(penv...), rie.WithFunctionTimeout(60 * time.Second), rie.WithOutput(out)}
		if len(cfg.RIE.Interpreter) > 0 {
			opts = append(opts, rie.WithInterpreter(cfg.RIE.Interpreter...))
		}
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		emu, err := rie.Start(sctx, cfg.RIE.Bootstrap, opts...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		defer emu.Close()
		if target, err = esm.NewEndpointTarget(emu.Endpoint); err != nil {
			return nil, err
		}
	}

	r := &run{cfg: cfg, c: c, produced: map[ref]bool{}, seen: map[ref]int{}, names: map[string]string{},
		poison: map[ref]string{}, dead: map[ref]int{}, gaveUp: map[ref]int{}, reg404: reg404, fnLog: fnLog,
		res: &Result{Trades: cfg.Trades, Mode: mode, Policy: cfg.Policy, DeadLetterFormat: cfg.DeadLetterFormat}}
	res, err := r.run(ctx, target, start)
	if res != nil && stages != nil {
		res.Stages = stages.stages()
	}
	return res, err
}
