// Package esm is a local Kafka event source mapping: it reads Kafka topics as
// a consumer group and invokes a Lambda function with the events, and the
// retry, commit and failure semantics, that AWS Lambda's event source mapping
// (ESM) for Amazon MSK and self-managed Kafka uses. It lets a Kafka-triggered
// function run against a real broker on a laptop or in CI: in the same
// process, under the Lambda Runtime Interface Emulator, or behind
// `sam local start-lambda`.
//
//	m, err := esm.New(esm.Config{
//		Brokers: []string{"localhost:9092"},
//		Topics:  []string{"orders"},
//		Group:   "orders-fn", // default: unique to the mapping, as on AWS
//		Provisioned: true,   // the error handling controls below need it on AWS
//	}, &esm.HandlerTarget{Handler: handler},
//		esm.WithReportBatchItemFailures(true),
//		esm.WithOnFailureTopic("orders-failed"),
//		esm.WithLogger(slog.Default()))
//	if err != nil { ... }
//	err = m.Run(ctx) // until ctx is done
//
// The command cmd/kafkalambda-esm wraps it with flags, and package
// esm/samtemplate reads a mapping from a SAM or CloudFormation template.
//
// # Events
//
// Each invocation's payload is the event AWS sends, encoded by
// [kafkalambda.Event.AppendJSON]: eventSource "SelfManagedKafka", or
// "aws:kafka" with eventSourceArn when Config.EventSourceARN is set;
// bootstrapServers; records grouped under "<topic>-<partition>" keys, each
// with topic, partition, offset, timestamp (milliseconds), timestampType,
// base64 key and value (left out when null), and headers as arrays of signed
// bytes, in Kafka's order. With [WithSchemaRegistry] records carry
// keySchemaMetadata / valueSchemaMetadata as the ESM's Schema Registry
// integration adds them: the 5-byte Confluent prefix (or, with an AWS Glue
// registry, the 18-byte Glue header, a zlib body being inflated) is
// stripped, the body is decoded with its writer schema, and the schema's
// format and id (for Glue, the schema version UUID) are named. In SOURCE
// mode the body is delivered; in JSON mode (SchemaRegistry.Format), the
// JSON of the decoded value, which serde's codecs read back. As AWS's
// integration does, a record whose key or value is not in the wire format
// or does not decode with its schema is not delivered but given up with
// the condition DESERIALIZATION_ERROR, one whose schema id the registry
// does not know with SCHEMA_NOT_FOUND (to the on-failure topic, or
// discarded without one), each counted by its reason in [Stats].
//
// # Semantics
//
// These follow AWS's documentation for Kafka event source mappings.
//
//   - Batching: an event holds up to BatchSize records (default 100, at most
//     10,000), never more than 6 MB of JSON: the function is invoked when
//     BatchSize records wait, when 6 MB wait, or when the oldest waiting
//     record has waited the batching window (default 500 ms).
//   - Order and concurrency: records of a partition reach the function in
//     offset order, and a partition has at most one batch in flight (its
//     next batch waits for the current one, retries included). As with
//     AWS's pollers, an event holds records of several partitions, keyed
//     and sorted by topic and partition: partitions are grouped by
//     [PartitionsPerInvoker] onto invokers that run concurrently, or spread
//     over WithConcurrency invokers.
//   - Commits: offsets are committed to the consumer group only once every
//     record before them is handled: processed by the function, sent to the
//     on-failure topic, or discarded. The commit after an invocation is
//     sent without waiting for it: the partition's next batch is invoked
//     while the broker acknowledges it, and the invoker's next commit, a
//     release of the partition (a rebalance) and a stop wait for it. After
//     a stop the group's next consumer starts at the first record not
//     handled: nothing is skipped, and only a batch unfinished at the stop
//     is delivered again; after a crash, so is the batch before it if its
//     commit was still in flight.
//   - Function errors: the batch is retried whole, after a backoff, up to
//     MaximumRetryAttempts times (default -1, no limit; with an on-failure
//     topic and no limit, 10). With BisectBatchOnFunctionError the failed
//     batch is split in two halves retried in order; a split does not count
//     as a retry, so a bad record ends up alone and only it is given up.
//   - ReportBatchItemFailures: the response {"batchItemFailures":
//     [{"itemIdentifier":{"partition":"<topic>-<n>","offset":<n>}}]} names
//     records the function did not process; the partitions it does not name
//     are done. In a named partition, under [RetryListed] (the default
//     [ItemFailureModel], the words of AWS's Kafka page) only the listed
//     records are retried and every other record is done, so only listed
//     records can run out of retries; under [ResumeFromLowest] the records
//     before the lowest listed offset are done and that record and every
//     later one of the batch are retried (see [WithItemFailureModel]). The retry counts
//     as a retry of the records retried, and it comes before any later
//     record of their partition. An empty or null list, an empty object or
//     an empty response is success. A response that is not such a
//     document, or that names a partition or offset not in the batch, fails
//     the whole batch. Without the option the response is ignored.
//   - FilterCriteria ([WithFilterCriteria]): before each invocation,
//     records whose value matches none of the patterns (Lambda's event
//     filtering syntax, on "value" only, as for Kafka on AWS; JSON values as
//     documents, other UTF-8 values as plain strings) are taken out, not
//     delivered, and committed with their batch.
//   - MaximumRecordAgeInSeconds: before each invocation, records older than
//     it (by their timestamp) are taken out and given up.
//   - Given-up records go to the on-failure topic (WithOnFailureTopic), one
//     message per record with the record's key and the metadata AWS documents
//     for a Kafka on-failure destination (see [FailureRecord]); or to a
//     local folder standing in for an SQS, SNS or S3 destination
//     ([WithOnFailureDir]), one file per batch given up, numbered in order,
//     with the invocation record AWS documents for those destinations (see
//     [InvocationRecord]: recordsInfo per partition, and for S3 the event of
//     the given-up records as payload); or are discarded without either.
//     Either way they are then committed.
//   - Invoke errors (the function could not be invoked: connection refused,
//     throttling) are retried after a backoff without counting against
//     MaximumRetryAttempts, as AWS does for errors before invocation.
//   - Rebalances: a partition that moves to another consumer finishes its
//     batch in flight and commits before it is released; a new one starts at
//     the group's committed offset, or at the starting position (TRIM_HORIZON,
//     LATEST or AT_TIMESTAMP) when there is none.
//   - Stop: when Run's context is done, no new invocation starts; those in
//     flight finish (or are abandoned after WithShutdownTimeout), what they
//     completed is committed, and the mapping leaves the group.
//     [WithStopWhenCaughtUp] stops it the same way once every partition is
//     committed up to the end offsets seen when Run started (a local
//     convenience for scripts and CI; AWS's mappings never stop).
//
// # Observability
//
// Progress and per-batch outcomes go to the slog.Logger of [WithLogger]
// (nothing is logged by default): batches at Debug, failures and retries at
// Warn, records sent to the on-failure destination or discarded at Error.
// [WithOnBatch] receives a [BatchResult] after each invocation, with what the
// mapping did about it, and [Mapping.Stats] returns counters of records
// polled, invoked, succeeded, retried, bisected, sent to the on-failure
// topic, discarded and committed. [Mapping.Progress] returns, per assigned
// partition, the end offset the fetches saw, the processed position and the
// last commit, and so its lag ([PartitionProgress.Lag]).
//
// # Targets
//
// A [Target] is invoked once per batch. [HandlerTarget] calls a lambda.Handler
// (such as kafkalambda's Handler) in process, with a deadline and a
// lambdacontext, turning a returned error, a panic or an overrun of its
// timeout ("Task timed out", as Lambda reports it) into a function error.
// [NewEndpointTarget] calls the Lambda Invoke API at an endpoint through
// aws-sdk-go-v2: the Runtime Interface Emulator ("http://127.0.0.1:9000",
// which serves /2015-03-31/functions/function/invocations) or
// `sam local start-lambda` ("http://127.0.0.1:3001", with the function's
// logical id as name). X-Amz-Function-Error in the response makes a function
// error; since the emulator drops that header, an error document or its
// "Task timed out" text in a response without it does too. Package esm/rie
// finds or builds the emulator and runs a bootstrap under it.
//
// # Differences from AWS
//
//   - StartingPosition has a default, TRIM_HORIZON (AWS requires one), so that
//     a local run sees what is already in the topic. A template without one
//     is a finding of esm/samtemplate's check.
//   - Batches are formed per invoker from what has been fetched; AWS's
//     pollers, their scaling and its exact batching are not reproduced: how
//     many partitions share an event is this package's choice
//     ([PartitionsPerInvoker]), since AWS does not document its own.
//   - An in-process handler (HandlerTarget) that overruns its timeout is a
//     "Task timed out" function error, but it cannot be killed as Lambda
//     kills the sandbox: the invocation ends when the handler returns.
//   - What AWS refuses or gates, this package runs and reports in
//     [Mapping.Warnings] (and logs): more than one topic per mapping (only
//     with Config.AllowMultipleTopics), a batching window not in whole
//     seconds (tests use short ones), and without Config.Provisioned the
//     error handling controls, a Kafka on-failure topic and the schema
//     registry, which AWS allows in provisioned mode only. Local setups
//     keep working that way; `kafkalambda-esm -check` (and
//     samtemplate's Mapping.Check) turn the same into a non-zero exit.
//   - The retry backoff (WithRetryBackoff, 200 ms doubling to 5 s) is this
//     package's choice; AWS does not document its own.
//   - The Schema Registry integration always decodes the keys or values it
//     handles with their writer schema, in SOURCE mode too: AWS documents
//     the event record format as what "Lambda delivers to your function
//     after schema validation", with no setting to turn validation off.
//     What validation rejects is this package's reading of it: an Avro or
//     Protobuf body that does not decode (truncated, bytes left over after
//     an Avro value, a bad union or enum index, an Avro string or a proto3
//     string field that is not UTF-8, message indexes naming no message)
//     and a JSON Schema body that is not JSON or that the schema does not
//     validate (compiled as serde compiles it: draft 2020-12 unless
//     "$schema" says another, no URL loaded). A schema that cannot be
//     used rejects its records the same way: one that does not compile, an
//     Avro or JSON Schema schema with references, a Protobuf schema whose
//     imports are neither among its registry references nor google/protobuf
//     files (Confluent's built-in google/type and confluent imports are not
//     built in here).
//   - The JSON of JSON mode is this package's: AWS does not document its
//     shape. Avro is in the Avro JSON encoding (a non-null union branch as
//     {"branch": value}, bytes and fixed as strings of code points 0-255,
//     logical types as their underlying type, NaN and the infinities as
//     strings), Protobuf as protojson writes it (lowerCamelCase names,
//     64-bit integers as strings, default values left out), a JSON Schema
//     body as it is. serde's codecs read each back exactly
//     (serde.WithEventRecordFormat).
//   - With a Glue registry, a zlib-compressed body (compression byte 5) is
//     delivered inflated in SOURCE mode, as serde and AWS's own
//     deserializers expect it once the header is gone; AWS does not document
//     what its mapping does with one. A schema version whose schema ARN
//     names another registry than SchemaRegistry.GlueRegistry is
//     SCHEMA_NOT_FOUND (AWS does not document this case either), and the
//     Glue registry is named by a client and a name, not by its ARN.
//   - The on-failure condition for records past MaximumRecordAge is
//     "RecordAgeExceeded" (AWS documents only "RetriesExhausted" for Kafka),
//     and a record too large for an event alone is given up with
//     "MaximumPayloadSizeExceeded". An on-failure message the broker refuses
//     as too large is sent again with a null payload.
//   - SQS, SNS and S3 on-failure destinations are local folders
//     ([WithOnFailureDir]): what AWS would send is written as files, not to
//     a queue, topic or bucket. A file holds the records given up together
//     (with [RetryListed], only the reported records of a batch, never those
//     the function processed; AWS does not document whether its record for
//     a partial batch response covers the whole batch). Its name is this
//     package's (AWS's S3 object keys name the mapping's UUID and a time).
//     SNS's 256 KB limit (AWS drops the payload over it) does not apply, SNS
//     and SQS records having no payload. The S3 payload is written as a JSON
//     object; AWS's example shows it only as "<Whole Event>".
//   - The condition of a batch out of retries is "RetryAttemptsExhausted" in
//     a folder destination's record, as AWS documents for SQS, SNS and S3,
//     and "RetriesExhausted" in a Kafka topic's, as documented for Kafka.
//   - Filtering happens when a batch is composed, so records filtered out
//     count toward the BatchSize of the batch they were taken into (AWS
//     filters before batching: its events can hold more records that
//     match). A value that is not UTF-8 matches no pattern (AWS documents
//     Kafka values as UTF-8 strings only). The filtering patterns are those
//     of Lambda's documented rule syntax; EventBridge's wildcard and
//     anything-but with equals-ignore-case or wildcard are refused, Lambda
//     not documenting them.
//   - A mapping read from a SAM or CloudFormation template
//     (esm/samtemplate, `kafkalambda-esm -template`) runs without what exists
//     only on AWS: the secrets of SourceAccessConfigurations and of a
//     registry's AccessConfigs are not read (Secrets Manager is not there
//     locally; the Kafka client and the registry take their credentials
//     from flags or options), VPC settings do not apply, the number of
//     pollers of ProvisionedPollerConfig is not modelled (only that the
//     mapping is in provisioned mode), a mapping with Enabled false runs,
//     and intrinsic functions are resolved only from parameters,
//     conditions and mappings (Fn::GetAtt, a Ref to a resource, a pseudo
//     parameter but AWS::NoValue and AWS::Partition, Fn::ImportValue name
//     what exists once deployed). Each is reported with its path in the
//     template rather than guessed. A template's Glue registry (a
//     registry ARN as SchemaRegistryURI) runs as -schema-registry-glue with
//     the ARN's name and region; the AWS SDK's default credentials reach it
//     (give -glue-endpoint for a local one). An SQS, SNS or S3 on-failure
//     destination needs a local folder (-on-failure-dir); without one the
//     records given up are discarded, and that is reported too.
//   - Amazon MSK IAM authentication (`kafkalambda-esm -msk-iam`) signs its
//     tokens with aws-msk-iam-sasl-signer-go and the AWS SDK's default
//     credentials, as the real clients do; what MSK then checks (the
//     signature against IAM, the role's kafka-cluster policy) cannot be
//     reproduced locally: the tests check the token's SigV4 signature
//     against a broker stand-in, not against MSK.
//   - A batch item failures offset must be a JSON integer; AWS does not
//     document whether it accepts a numeric string.
//   - Which records of a partition a batch item failures response retries
//     is not documented for Kafka, hence [WithItemFailureModel]. AWS's
//     "Configuring error handling controls for Kafka event sources"
//     (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html)
//     says only: "Partial batch response – Allow your function to return
//     information about which records in a batch failed processing, so
//     Lambda can retry only the failed records." For Kinesis, "Configuring
//     partial batch response with Kinesis Data Streams and Lambda"
//     (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html)
//     says: "If the batchItemFailures array contains multiple items, Lambda
//     uses the record with the lowest sequence number as the checkpoint.
//     Lambda then retries all records starting from that checkpoint."
//     [RetryListed], the default, is the literal reading of the Kafka page;
//     [ResumeFromLowest] is the checkpoint reading applied to Kafka. A function
//     that lists every record it did not process, the one that failed and
//     every later record of its partition, is retried the same way under
//     both.
package esm
