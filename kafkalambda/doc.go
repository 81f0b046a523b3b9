// Package kafkalambda runs AWS Lambda functions triggered by Kafka (Amazon
// MSK, self-managed Apache Kafka, Confluent Cloud) from one typed func:
//
//	func process(ctx context.Context, r *kafkalambda.Record[string, *pb.UserTrade]) error
//
// A Handler parses the event (ParseEvent), deserializes each key and value
// with the given serde.Deserializers, calls process for each record, sends
// what process sends through one shared Producer, and reports success only
// when the brokers have acknowledged all of it.
//
//	producer, err := kafkalambda.NewProducer(loader.KafkaConfig)
//	out := kafkalambda.NewOutput("trade-settlements", serde.String(), settlements)
//	kafkalambda.Start(serde.String(), trades, process, kafkalambda.WithProducer(producer))
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
// topic, partition, offset, the stage and (for a deserializer) the schema id,
// and wraps the cause. What follows is the handler's FailurePolicy:
//
//   - FailBatch (the default): Invoke stops and returns an error; the event
//     source mapping retries the whole batch.
//   - ReportItemFailures: each partition stops at its first failure, the
//     others go on, and Invoke returns the batchItemFailures response naming
//     where each failed partition must resume.
//   - DeadLetter(topic): the record is written as it came to topic, with
//     headers saying why, and processing goes on.
//
// Retries repeat the records after the failure point, so what those records
// sent may be sent twice: delivery is at-least-once. Nothing is reported
// done that was not processed and acknowledged.
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
// # Cold start
//
// NewHandler and NewProducer do no I/O. The librdkafka producer is created
// on the first Send, from the config func, and reused by later invocations
// while the execution environment is warm; a failed creation is retried on
// the next Send. It is replaced after a fatal error, a broker
// authentication failure (WithAuthFailureHook lets a secret cache drop its
// copy first) or a long idle period (WithMaxIdle), and closed on SIGTERM
// (Start enables it).
//
// # Logging
//
// The handler and the producer log through the *slog.Logger given with
// WithLogger and WithProducerLogger; by default they log nothing, and
// librdkafka's own log lines go through the producer's logger, never
// straight to stderr.
package kafkalambda
