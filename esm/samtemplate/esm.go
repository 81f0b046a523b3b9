package samtemplate

import (
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Config returns the esm.Config the mapping describes: its
// KafkaBootstrapServers (an MSK mapping has none: set Brokers), topics,
// consumer group, starting position, the cluster ARN as EventSourceARN
// (so that MSK events are aws:kafka events), and Provisioned when it has
// a ProvisionedPollerConfig. More than one topic sets AllowMultipleTopics,
// so that such a mapping runs, with a warning, as the template says.
func (m *Mapping) Config() esm.Config {
	cfg := esm.Config{
		Brokers:             append([]string(nil), m.BootstrapServers...),
		Topics:              append([]string(nil), m.Topics...),
		AllowMultipleTopics: len(m.Topics) > 1,
		Provisioned:         m.Provisioned != nil,
		Group:               m.ConsumerGroupID,
		StartingPosition:    esm.StartingPosition(m.StartingPosition),
		StartingTimestamp:   m.StartingPositionTimestamp,
	}
	if m.Type == MSK {
		cfg.EventSourceARN = m.ClusterARN
	}
	return cfg
}

// Options returns the esm options for what the mapping sets: BatchSize,
// MaximumBatchingWindowInSeconds, the error handling controls,
// FunctionResponseTypes, FilterCriteria, a Kafka on-failure topic and a
// Confluent schema registry (its URI as the URL, without credentials: add
// esm.WithSchemaRegistry with them to replace it). An SQS, SNS or S3
// on-failure destination needs a local folder: pass
// esm.WithOnFailureDir(dir, kind) with OnFailure.Kind (FolderKind). A
// value out of AWS's limits is passed as it is, so that esm.New refuses
// it.
func (m *Mapping) Options() []esm.Option {
	var opts []esm.Option
	if m.BatchSize != nil {
		opts = append(opts, esm.WithBatchSize(*m.BatchSize))
	}
	if m.MaximumBatchingWindowInSeconds != nil {
		opts = append(opts, esm.WithBatchingWindow(time.Duration(*m.MaximumBatchingWindowInSeconds)*time.Second))
	}
	if m.MaximumRetryAttempts != nil {
		opts = append(opts, esm.WithMaxRetryAttempts(*m.MaximumRetryAttempts))
	}
	if m.MaximumRecordAgeInSeconds != nil {
		opts = append(opts, esm.WithMaxRecordAge(time.Duration(*m.MaximumRecordAgeInSeconds)*time.Second))
	}
	if m.BisectBatchOnFunctionError != nil {
		opts = append(opts, esm.WithBisectBatchOnFunctionError(*m.BisectBatchOnFunctionError))
	}
	opts = append(opts, esm.WithReportBatchItemFailures(m.ReportBatchItemFailures()))
	if len(m.Filters) > 0 {
		opts = append(opts, esm.WithFilterCriteria(m.Filters...))
	}
	if m.OnFailure != nil && m.OnFailure.Kind == DestinationKafka {
		opts = append(opts, esm.WithOnFailureTopic(m.OnFailure.Topic))
	}
	if r := m.SchemaRegistry; r != nil && !r.Glue() && r.URI != "" {
		opts = append(opts, esm.WithSchemaRegistry(esm.SchemaRegistry{
			URL:    r.URI,
			Format: serde.EventRecordFormat(r.EventRecordFormat),
			Key:    r.Key,
			Value:  r.Value,
		}))
	}
	return opts
}

// FolderKind is the esm destination kind that stands in for the mapping's
// SQS, SNS or S3 on-failure destination, and false for a Kafka topic or
// none.
func (m *Mapping) FolderKind() (esm.DestinationKind, bool) {
	if m.OnFailure == nil {
		return "", false
	}
	switch m.OnFailure.Kind {
	case DestinationSQS:
		return esm.DestinationSQS, true
	case DestinationSNS:
		return esm.DestinationSNS, true
	case DestinationS3:
		return esm.DestinationS3, true
	}
	return "", false
}
