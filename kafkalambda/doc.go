// Package kafkalambda runs AWS Lambda functions triggered by Kafka (Amazon
// MSK, self-managed Apache Kafka, Confluent Cloud) from one typed func:
//
//	func process(ctx context.Context, r *kafkalambda.Record[string, *pb.UserTrade]) error
//
// A Handler parses the event (a Parser of its own: see Record for the
// lifetime that gives the raw bytes), deserializes each key and value
// with the given serde.Deserializers, calls process for each record, sends
// what process sends through one shared Producer, and reports success only
// when the brokers have acknowledged all of it.
//
//	producer, err := librdkafka.NewProducer(loader.KafkaConfig) // package kafkalambda/librdkafka
//	...
//	out := kafkalambda.NewOutput("trade-settlements", serde.String(), settlements)
//	h, err := kafkalambda.NewHandler(serde.String(), trades, process, kafkalambda.WithProducer(producer))
//	if err != nil {
//		kafkalambda.FailInit(err) // fails the function's INIT phase with err
//	}
//	kafkalambda.Start(h, lambdaOpts...) // does not return
//
// # Ordering
//
// Records of one partition are processed one at a time, in offset order.
// Partitions are processed in the order ParseEvent returns them — by topic,
// then partition number — one after the other, or up to n at a time with
// WithConcurrency(n); concurrency never reorders the records of a
// partition. Records sent with Output.Send from one Process call are
// queued in call order; records with the same key go to the same output
// partition (murmur2, as Java producers and ksqlDB do).
//
// # Errors and retries
//
// An error returned by Process, or by a deserializer, and a panic in
// either, is the failure of that record: a *RecordError that names the
// topic, partition, offset, the stage (deserialize key or value, process,
// send) and, for a deserializer, the input's schema id, and wraps the
// cause. Every failure has exactly one class (Classify, FailureClass): the
// record's fault (permanent), the environment's (transient: the registry,
// the brokers or the secret source down or slow, the deadline) or the
// operator's (configuration: credentials refused, a missing or malformed
// secret, an unknown output topic). The table in the README's "Failure
// handling" section maps every error source — each registry answer, each
// broker and secret source failure, the deserializers, Process,
// Output.Send — to its class and what the handler does with it; the tests
// in internal/failclass produce each row's failure with the real component
// and keep the table in step with the code.
//
// Only a record's own failure is handled by the handler's FailurePolicy:
//
//   - FailBatch (the default): Invoke stops and returns an error; the event
//     source mapping retries the whole batch.
//   - ReportItemFailures: the partition stops at the failed record, the
//     others go on, and Invoke answers with the batchItemFailures response
//     naming the failed record and every record of its partition after it.
//   - DeadLetter(topic), DeadLetterFunc(fn): the record goes to a
//     dead-letter destination, with the reason, and processing goes on.
//
// A failure that is not the record's fault is never dead-lettered and
// never passes silently: under every policy it fails the invocation — a
// Lambda function error that the Errors metric counts and the mapping
// retries — unless WithEnvironmentItemFailures reports it as item failures
// instead. Process marks its own such failures with Transient or
// Misconfigured; an unmarked error is taken to be the record's.
//
// Retries repeat records that were already processed, so what those
// records sent may be sent twice: delivery is at-least-once. Nothing is
// reported done that was not processed and acknowledged.
//
// # Exactly-once outputs
//
// WithExactlyOnce makes each invocation's sends Kafka transactions, one per
// input partition, each committed with the invocation's progress through
// its partition (the offset of a consumer group of its own, ProgressGroup)
// only when the invocation succeeds. A transaction claims its partition as
// it begins, so that a later attempt, in any execution environment, waits
// for an earlier one still under way (Transactor). An invocation skips the
// records that progress says were done, so a batch delivered again after
// it succeeded sends nothing twice. It needs a
// Producer that is a Transactor (librdkafka.Producer, MemProducer), and
// consumers that read with isolation.level=read_committed. See
// WithExactlyOnce for how failures and item failures commit or abort.
//
// # Flush at end
//
// Output.Send queues a record and returns; the invocation's end waits for
// the delivery report of every record sent during it — and only those,
// even when aws-lambda-go runs several invocations at once. The wait is
// bounded by the Lambda deadline minus a margin (WithDeadlineMargin). A
// record that failed, or is still unacknowledged at that point, fails the
// invocation (or, with ReportItemFailures, the record that sent it); what
// is still queued is purged first, so that it cannot be delivered after the
// invocation has been reported failed.
//
// # Tombstones
//
// A record whose value is null is a tombstone: its value is not handed to
// the value deserializer, Record.Value is the zero value and IsTombstone
// reports true. A null key likewise. An empty key or value is not null: it
// is deserialized like any other.
//
// # The producer
//
// The handler owns the delivery accounting of each invocation and talks to
// a Kafka client through the Producer interface, so this package is pure
// Go (it builds with CGO_ENABLED=0, for any GOARCH). A function that sends
// uses librdkafka.NewProducer (package kafkalambda/librdkafka, which needs
// cgo); tests can use kafkalambdatest.MemProducer.
//
// # Cold start
//
// NewHandler and librdkafka.NewProducer do no I/O. The librdkafka producer
// is created on the first Send (or at INIT by Start's check), from the
// config func, and reused by later invocations while the execution
// environment is warm; a failed creation is retried on the next Send. It is
// replaced after a fatal error, a broker authentication failure
// (librdkafka.WithAuthFailureHook lets a secret cache drop its copy first)
// or a long idle period (librdkafka.WithMaxIdle), and closed on SIGTERM
// (Start enables it).
//
// # Logging
//
// Failures are visible by default: without WithLogger the handler logs to
// stderr through log/slog (LambdaLogger), in the format and at the level
// Lambda's advanced logging controls set (AWS_LAMBDA_LOG_FORMAT,
// AWS_LAMBDA_LOG_LEVEL): one line per failed record, up to ten per
// invocation, with its coordinates, stage, class and what was done with it,
// and one line per invocation that did not simply succeed, whose figures
// are those of its response; durations in milliseconds. Record contents
// are never logged. WithLogger replaces that logger;
// WithLogger(slog.New(slog.DiscardHandler)) silences it. The producer logs
// through librdkafka.WithLogger (discarded by default), and librdkafka's own
// log lines go through it, never straight to stderr; the cause of an
// undelivered record (a refused connection, an authentication failure) is
// in the record's error either way.
//
// # Tracing and metrics
//
// Both are opt-in, one option each, and cost nothing when not configured.
// WithTracing(tp) takes an OpenTelemetry TracerProvider (the library
// imports the OpenTelemetry API only; the SDK and an exporter are the
// function's main's choice): a span per invocation (the child of the
// invocation's sampled X-Ray context), a "process {topic}" span per record
// that continues the producer's trace from the record's traceparent
// header and is the parent of what Process does with its ctx, and a "send
// {topic}" span per output record — Output.Send, DeadLetter — whose context
// goes into the output's headers, so that a consumer downstream continues
// the same trace. A failed record's span has an error status naming its
// failure class. The failure log lines carry the trace_id and span_id of
// the record they are about, beside its topic, partition and offset.
//
// WithMetrics(&EMF{...}) writes each invocation's figures per topic and
// partition — records in, processed, failed by class, dead-lettered,
// outputs sent and acknowledged, the oldest record's age — and per
// invocation — batch size, flush wait, duration, cold start — to stdout in
// CloudWatch's Embedded Metric Format, which CloudWatch Logs turns into
// metrics with no agent and no API call. OTelMetrics gives WithMetrics the
// same figures as OpenTelemetry instruments instead.
//
// # Fail fast at INIT
//
// Start checks the handler before the first invocation (Handler.Check:
// the producer's config func — the secret — and librdkafka's acceptance of
// the properties) and fails the function's INIT phase on a configuration
// error, reporting it to the Runtime API; WithInitCheck(0) skips the check.
// FailInit does the same for an error main gets before it has a handler
// (from NewHandler, the producer, the function's own configuration), so
// that every invocation answers with that error until the function is
// fixed.
package kafkalambda
