// Package samtemplate reads a function's Kafka event source mapping from an
// AWS SAM or CloudFormation template, so that the local mapping of package
// esm runs as the template says, and checks what would not deploy, or
// would behave differently, on AWS.
//
//	t, err := samtemplate.Parse(data) // template.yaml or .json
//	m, err := t.Mapping("OrdersFunction",
//		samtemplate.WithParameters(map[string]string{"BootstrapServers": "localhost:9092"}))
//	for _, n := range m.Notes { log.Print(n) }        // what is not honoured
//	for _, f := range m.Check(handler) { log.Print(f) } // what AWS would do otherwise
//	mapping, err := esm.New(m.Config(), target, m.Options()...)
//
// The command cmd/kafkalambda-esm does this with -template, -function and
// -check.
//
// # What is read
//
// The mapping is a SAM event of Type MSK or SelfManagedKafka in the
// function's Events, or an AWS::Lambda::EventSourceMapping resource whose
// FunctionName is a Ref or Fn::GetAtt of the function (or its name) and
// that has Topics. Its properties are the ones SAM and CloudFormation
// document for Kafka: Stream / EventSourceArn, KafkaBootstrapServers /
// SelfManagedEventSource, Topics, BatchSize, MaximumBatchingWindowInSeconds,
// StartingPosition and StartingPositionTimestamp, ConsumerGroupId (in
// AmazonManagedKafkaEventSourceConfig or SelfManagedKafkaEventSourceConfig
// for a resource), FilterCriteria, DestinationConfig's OnFailure,
// FunctionResponseTypes, MaximumRetryAttempts, MaximumRecordAgeInSeconds,
// BisectBatchOnFunctionError, ProvisionedPollerConfig,
// SchemaRegistryConfig, SourceAccessConfigurations and Enabled; and the
// function's Timeout (or the Globals').
//
// # Intrinsic functions
//
// YAML is read with the short forms (!Ref, !Sub, !GetAtt, !If, ...) as
// their long forms. Ref to a parameter gives its override (WithParameters,
// as `sam deploy --parameter-overrides`), else its Default; a
// CommaDelimitedList or List<...> parameter gives a list. Conditions
// (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) are evaluated for
// Fn::If and for resources' Condition: a mapping or function whose
// Condition is false is left out, as CloudFormation leaves it out. Fn::Sub
// (over parameters), Fn::Join, Fn::Split, Fn::Select, Fn::FindInMap and
// Ref AWS::NoValue are resolved too. Anything else (Fn::GetAtt, a Ref to a
// resource or a pseudo parameter, Fn::ImportValue, ...) exists only once
// deployed: the property is left unset and a Note names its path and why.
// An on-failure destination that is a Ref or Fn::GetAtt of an SQS queue,
// SNS topic or S3 bucket of the template is known by that resource's type.
//
// # Notes and findings
//
// Notes are what a local run does not honour: unresolved values, the
// secrets of SourceAccessConfigurations and of a registry's AccessConfigs
// (the local Kafka client and registry take their credentials elsewhere),
// the VPC, the number of pollers, a Glue registry, Enabled false, and
// properties it does not use. [Mapping.Check] returns findings: what AWS
// would refuse or do differently, as its documentation lists.
package samtemplate
