package main

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// flags holds the command line.
type flags struct {
	brokers, topics, group         string
	multiTopics, provisioned       bool
	startingPosition, startingTime string
	eventSourceARN                 string
	batchSize, concurrency         int
	window                         time.Duration
	maxRetries, maxAgeSeconds      int
	bisect, itemFailures           bool
	itemFailureModel               string
	onFailureTopic                 string
	onFailureDir                   string
	onFailureKind                  string
	maxPayload                     int

	functionURL, functionName string
	invokeConcurrency         int
	functionARN               string

	saslMechanism, saslUser, saslPassword string
	tls                                   bool
	tlsCAFile, tlsServerName              string
	tlsCertFile, tlsKeyFile               string
	tlsInsecure                           bool
	mskIAMAuth                            bool
	awsRegion                             string

	registryURL, registryUser, registryPassword string
	registryFormat                              string
	registryKey, registryValue                  bool
	registryGlue, glueEndpoint                  string

	stopCaughtUp bool
	filters      []string

	logLevel, logFormat string
	shutdown, connect   time.Duration
	progress            bool

	tmpl templateFlags
}

func defineFlags(fs *flag.FlagSet) *flags {
	f := &flags{}
	fs.StringVar(&f.brokers, "brokers", "", "bootstrap servers, host:port[,host:port...] (required)")
	fs.StringVar(&f.topics, "topics", "", "topics to consume, comma-separated (required)")
	fs.StringVar(&f.group, "group", "", "consumer group id (default: "+esm.DefaultGroup+"-<uuid>, unique to the run, as AWS gives each mapping its own; give one to resume where a run stopped)")
	fs.BoolVar(&f.multiTopics, "allow-multiple-topics", false, "let -topics name more than one topic (such a mapping does not deploy: AWS takes one topic per mapping)")
	fs.BoolVar(&f.provisioned, "provisioned", false, "the mapping is in provisioned mode on AWS, as error handling controls, a Kafka on-failure topic and the schema registry need (without it they work but are warned about)")
	fs.StringVar(&f.startingPosition, "starting-position", string(esm.TrimHorizon), "TRIM_HORIZON, LATEST or AT_TIMESTAMP, for partitions the group has no offset for")
	fs.StringVar(&f.startingTime, "starting-timestamp", "", "RFC 3339 time for AT_TIMESTAMP")
	fs.StringVar(&f.eventSourceARN, "event-source-arn", "", "MSK cluster ARN: events become aws:kafka events with this eventSourceArn (default: SelfManagedKafka)")
	fs.IntVar(&f.batchSize, "batch-size", esm.DefaultBatchSize, "BatchSize: most records per event (1-10000)")
	fs.DurationVar(&f.window, "window", esm.DefaultBatchingWindow, "MaximumBatchingWindow: how long to gather records (0-300s)")
	fs.IntVar(&f.concurrency, "concurrency", 0, "invokers (invocations in flight at most) over which partitions are spread; 0: one per two partitions. Events hold records of all their invoker's partitions")
	fs.IntVar(&f.maxRetries, "max-retries", -1, "MaximumRetryAttempts (-1: no limit; 10 with an on-failure topic)")
	fs.IntVar(&f.maxAgeSeconds, "max-record-age", -1, "MaximumRecordAgeInSeconds (-1: no limit; or 60-604800)")
	fs.BoolVar(&f.bisect, "bisect", false, "BisectBatchOnFunctionError: split a failed batch in two")
	fs.BoolVar(&f.itemFailures, "item-failures", false, "ReportBatchItemFailures: read batchItemFailures from the response")
	fs.StringVar(&f.itemFailureModel, "item-failure-model", string(esm.RetryListed), "with -item-failures, which records a response's partitions retry: retry-listed (only the listed ones, as AWS's Kafka page says) or resume-from-lowest (from the lowest listed offset on, as for Kinesis)")
	fs.StringVar(&f.onFailureTopic, "on-failure-topic", "", "Kafka topic for records that exhaust retries or age (default: discard them)")
	fs.StringVar(&f.onFailureDir, "on-failure-dir", "", "local folder standing in for an SQS, SNS or S3 on-failure destination: one JSON invocation record per failed batch, numbered in order (excludes -on-failure-topic)")
	fs.StringVar(&f.onFailureKind, "on-failure-kind", "", "with -on-failure-dir, the destination it stands for: sqs (the default), sns (metadata only, as sqs) or s3 (metadata and the payload)")
	fs.Func("filter", "a FilterCriteria pattern on the record's value, e.g. '{\"value\": {\"device_ID\": [{\"prefix\": \"AB\"}]}}'; repeat for several (a record is delivered when any matches)", func(p string) error {
		f.filters = append(f.filters, p)
		return nil
	})
	fs.BoolVar(&f.stopCaughtUp, "stop-when-caught-up", false, "exit once every partition is processed to the end offsets seen at start: 0 when every record was processed, 3 when any went to the on-failure topic or was discarded")
	fs.IntVar(&f.maxPayload, "max-payload-bytes", esm.MaxPayloadBytes, "largest event in bytes (at most 6 MB)")

	fs.StringVar(&f.functionURL, "function-url", "", "Lambda Invoke API endpoint: the Runtime Interface Emulator (http://127.0.0.1:9000) or sam local start-lambda (http://127.0.0.1:3001); without it events are printed to stdout")
	fs.StringVar(&f.functionName, "function-name", "function", "function to invoke (the emulator serves \"function\"; for sam local, the logical id)")
	fs.IntVar(&f.invokeConcurrency, "invoke-concurrency", 1, "Invoke API calls in flight at most (the emulator serves one at a time); 0: no limit")
	fs.StringVar(&f.functionARN, "function-arn", esm.DefaultFunctionARN, "functionArn written into on-failure records")

	fs.StringVar(&f.saslMechanism, "sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: no SASL)")
	fs.StringVar(&f.saslUser, "sasl-username", "", "SASL username")
	fs.StringVar(&f.saslPassword, "sasl-password", "", "SASL password (or $KAFKA_SASL_PASSWORD)")
	fs.BoolVar(&f.tls, "tls", false, "connect to the brokers with TLS")
	fs.StringVar(&f.tlsCAFile, "tls-ca-file", "", "PEM file of CAs to trust instead of the system's (implies -tls)")
	fs.StringVar(&f.tlsServerName, "tls-server-name", "", "server name to verify (default: the broker's host)")
	fs.BoolVar(&f.tlsInsecure, "tls-insecure-skip-verify", false, "do not verify the brokers' certificates (testing only)")
	fs.StringVar(&f.tlsCertFile, "tls-cert-file", "", "PEM client certificate for brokers that authenticate clients by certificate (mTLS); with -tls-key-file, implies -tls")
	fs.StringVar(&f.tlsKeyFile, "tls-key-file", "", "PEM private key of -tls-cert-file")
	fs.BoolVar(&f.mskIAMAuth, "msk-iam", false, "Amazon MSK IAM authentication (SASL/OAUTHBEARER, tokens signed with the AWS SDK's default credentials); implies -tls")
	fs.StringVar(&f.awsRegion, "aws-region", "", "with -msk-iam, the cluster's region (default: the region of -event-source-arn, else $AWS_REGION or $AWS_DEFAULT_REGION)")

	fs.StringVar(&f.registryURL, "schema-registry-url", "", "Confluent Schema Registry URL: add keySchemaMetadata/valueSchemaMetadata as the ESM's registry integration does")
	fs.StringVar(&f.registryUser, "schema-registry-username", "", "Schema Registry basic auth user")
	fs.StringVar(&f.registryPassword, "schema-registry-password", "", "Schema Registry basic auth password (or $SCHEMA_REGISTRY_PASSWORD)")
	fs.StringVar(&f.registryFormat, "schema-format", string(serde.EventRecordFormatSource), "event record format: SOURCE (the body, prefix stripped) or JSON (the body decoded with its writer schema, as JSON); either way a body that does not decode is DESERIALIZATION_ERROR")
	fs.BoolVar(&f.registryKey, "schema-key", false, "apply the registry integration to keys")
	fs.BoolVar(&f.registryValue, "schema-value", true, "apply the registry integration to values")
	fs.StringVar(&f.registryGlue, "schema-registry-glue", "", "AWS Glue Schema Registry name, instead of -schema-registry-url (the AWS SDK's default credentials; region as for -msk-iam)")
	fs.StringVar(&f.glueEndpoint, "glue-endpoint", "", "with -schema-registry-glue, the Glue endpoint URL (default: AWS's; e.g. a local serde/gluetest server)")

	fs.StringVar(&f.logLevel, "log-level", "info", "debug (every batch), info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.progress, "progress", true, "show records/s, lag per partition and failures on stderr: redrawn in place on a terminal, else a log line every 10s when anything changed")
	fs.DurationVar(&f.shutdown, "shutdown-timeout", 0, "after a signal, how long to wait for batches in flight (0: until they finish)")
	fs.DurationVar(&f.connect, "connect-timeout", 15*time.Second, "how long to try to reach the brokers at start")
	f.tmpl.define(fs)
	return f
}

func (f *flags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", f.logFormat)
}

// mapping builds the mapping the flags describe.
func (f *flags) mapping(getenv func(string) string, stdout io.Writer, logger *slog.Logger) (*esm.Mapping, error) {
	cfg := esm.Config{
		Brokers:          splitList(f.brokers),
		Topics:           splitList(f.topics),
		Group:            f.group,
		StartingPosition: esm.StartingPosition(strings.ToUpper(f.startingPosition)),
		EventSourceARN:   f.eventSourceARN,

		AllowMultipleTopics: f.multiTopics,
		Provisioned:         f.provisioned,
	}
	if f.startingTime != "" {
		ts, err := time.Parse(time.RFC3339, f.startingTime)
		if err != nil {
			return nil, fmt.Errorf("-starting-timestamp: %w", err)
		}
		cfg.StartingTimestamp = ts
	}
	maxAge := time.Duration(f.maxAgeSeconds) * time.Second
	if f.maxAgeSeconds < -1 || maxAge/time.Second != time.Duration(f.maxAgeSeconds) {
		return nil, fmt.Errorf("-max-record-age %d: want -1 (no limit) or 60-604800", f.maxAgeSeconds)
	}
	kopts, err := f.kafkaOptions(getenv)
	if err != nil {
		return nil, err
	}
	cfg.KafkaOptions = kopts

	opts := []esm.Option{
		esm.WithBatchSize(f.batchSize),
		esm.WithBatchingWindow(f.window),
		esm.WithConcurrency(f.concurrency),
		esm.WithMaxRetryAttempts(f.maxRetries),
		esm.WithMaxRecordAge(maxAge),
		esm.WithBisectBatchOnFunctionError(f.bisect),
		esm.WithReportBatchItemFailures(f.itemFailures),
		esm.WithItemFailureModel(esm.ItemFailureModel(f.itemFailureModel)),
		esm.WithStopWhenCaughtUp(f.stopCaughtUp),
		esm.WithMaxPayloadBytes(f.maxPayload),
		esm.WithShutdownTimeout(f.shutdown),
		esm.WithConnectTimeout(f.connect),
		esm.WithFunctionARN(f.functionARN),
		esm.WithLogger(logger),
	}
	if len(f.filters) > 0 {
		opts = append(opts, esm.WithFilterCriteria(f.filters...))
	}
	if f.onFailureTopic != "" {
		opts = append(opts, esm.WithOnFailureTopic(f.onFailureTopic))
	}
	switch {
	case f.onFailureDir != "":
		kind := cmp.Or(esm.DestinationKind(strings.ToLower(f.onFailureKind)), esm.DestinationSQS)
		opts = append(opts, esm.WithOnFailureDir(f.onFailureDir, kind))
	case f.onFailureKind != "":
		return nil, errors.New("-on-failure-kind needs -on-failure-dir")
	}
	if f.glueEndpoint != "" && f.registryGlue == "" {
		return nil, errors.New("-glue-endpoint needs -schema-registry-glue")
	}
	if f.registryURL != "" || f.registryGlue != "" {
		reg := esm.SchemaRegistry{URL: f.registryURL, Username: f.registryUser, GlueRegistry: f.registryGlue,
			Format: serde.EventRecordFormat(strings.ToUpper(f.registryFormat)), Key: f.registryKey, Value: f.registryValue}
		if f.registryURL != "" {
			reg.Password = orEnv(f.registryPassword, getenv, "SCHEMA_REGISTRY_PASSWORD")
		}
		if f.registryGlue != "" {
			if reg.Glue, err = f.glueClient(getenv); err != nil {
				return nil, err
			}
		}
		opts = append(opts, esm.WithSchemaRegistry(reg))
	}

	var target esm.Target = &printTarget{w: stdout}
	if f.functionURL != "" {
		t, err := esm.NewEndpointTarget(f.functionURL, esm.WithFunctionName(f.functionName), esm.WithInvokeConcurrency(f.invokeConcurrency))
		if err != nil {
			return nil, err
		}
		target = t
	}
	return esm.New(cfg, target, opts...)
}

// kafkaOptions returns the SASL (PLAIN, SCRAM or MSK IAM) and TLS (with a
// client certificate for mTLS) client options.
func (f *flags) kafkaOptions(getenv func(string) string) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if f.mskIAMAuth {
		if f.saslMechanism != "" {
			return nil, errors.New("-msk-iam and -sasl-mechanism: one SASL mechanism")
		}
		mech, err := f.mskIAM(getenv)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mech))
	}
	if f.saslMechanism != "" {
		mech, err := f.sasl(orEnv(f.saslPassword, getenv, "KAFKA_SASL_PASSWORD"))
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mech))
	}
	if f.tls || f.tlsCAFile != "" || f.tlsServerName != "" || f.tlsInsecure || f.mskIAMAuth || f.tlsCertFile != "" || f.tlsKeyFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.tlsServerName, InsecureSkipVerify: f.tlsInsecure} //nolint:gosec // opt-in flag for tests
		if err := f.clientCert(cfg); err != nil {
			return nil, err
		}
		if f.tlsCAFile != "" {
			pem, err := os.ReadFile(f.tlsCAFile)
			if err != nil {
				return nil, fmt.Errorf("-tls-ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("-tls-ca-file %s: no PEM certificate in it", f.tlsCAFile)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(cfg)) // ServerName defaults to each broker's host
	}
	return opts, nil
}

func (f *flags) sasl(password string) (sasl.Mechanism, error) {
	if f.saslUser == "" {
		return nil, errors.New("-sasl-mechanism needs -sasl-username")
	}
	switch strings.ToUpper(f.saslMechanism) {
	case "PLAIN":
		return plain.Auth{User: f.saslUser, Pass: password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: f.saslUser, Pass: password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: f.saslUser, Pass: password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("-sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f.saslMechanism)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orEnv(v string, getenv func(string) string, name string) string {
	if v != "" {
		return v
	}
	return getenv(name)
}
