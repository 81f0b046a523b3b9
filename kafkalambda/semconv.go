package kafkalambda

import "go.opentelemetry.io/otel/attribute"

// The span names and attribute keys the handler's tracing writes, in one
// place: the OpenTelemetry semantic conventions for messaging (Kafka) and
// FaaS are still moving, and a rename is one edit here. The names follow
// semantic conventions v1.40.0 (go.opentelemetry.io/otel/semconv/v1.40.0),
// copied rather than imported to keep what a function links small.
const (
	// Span names: "{operation} {destination}" for the messaging spans.
	spanInvoke  = "kafkalambda invoke" // the invocation, when the function's name is unknown
	spanProcess = "process"            // + " " + topic: one per record
	spanSend    = "send"               // + " " + topic: one per output record
	spanFlush   = "kafkalambda flush"  // waiting for the brokers' acknowledgements

	// messaging.operation.type values.
	opProcess = "process"
	opSend    = "send"
)

// Attribute keys.
const (
	attrMessagingSystem        = attribute.Key("messaging.system")
	attrMessagingOperationType = attribute.Key("messaging.operation.type")
	attrMessagingOperationName = attribute.Key("messaging.operation.name")
	attrDestinationName        = attribute.Key("messaging.destination.name")
	attrDestinationPartition   = attribute.Key("messaging.destination.partition.id")
	attrBatchMessageCount      = attribute.Key("messaging.batch.message_count")
	attrKafkaOffset            = attribute.Key("messaging.kafka.offset")
	attrKafkaMessageKey        = attribute.Key("messaging.kafka.message.key")
	attrKafkaTombstone         = attribute.Key("messaging.kafka.message.tombstone")
	attrErrorType              = attribute.Key("error.type") // a FailureClass
	attrFaaSTrigger            = attribute.Key("faas.trigger")
	attrFaaSInvocationID       = attribute.Key("faas.invocation_id")
	attrFaaSColdStart          = attribute.Key("faas.coldstart")
	attrCloudResourceID        = attribute.Key("cloud.resource_id") // the event source ARN

	// The SDK's own, for what the conventions do not name.
	attrFailureAction = attribute.Key("kafkalambda.failure.action") // dead-lettered, reported, batch failed
	attrFailureStage  = attribute.Key("kafkalambda.failure.stage")  // key, value, process, send
	attrSent          = attribute.Key("kafkalambda.outputs.sent")
	attrUndelivered   = attribute.Key("kafkalambda.outputs.undelivered")
	attrXRayTraceID   = attribute.Key("aws.xray.trace_id") // an unsampled X-Ray header, kept as a link
)

// Attribute values.
var (
	kvSystemKafka   = attrMessagingSystem.String("kafka")
	kvTriggerPubSub = attrFaaSTrigger.String("pubsub")
)
