// Package kafkalambdatest helps test functions built with kafkalambda: it
// builds the Lambda Kafka event a handler is invoked with from typed records,
// and it runs an embedded Kafka broker and Schema Registry in the test's
// process.
//
// Nothing in package kafkalambda imports this package: its dependencies (the
// in-process broker github.com/twmb/franz-go/pkg/kfake, the in-process
// registry github.com/twmb/franz-go/pkg/sr/srfake and the franz-go client)
// are compiled only into tests and tools that import it.
//
// # Events
//
// [NewEvent] builds the exact payload an event source mapping sends: records
// are serialized with the given serializers (so registry serializers write the
// Confluent wire format), grouped by "<topic>-<partition>", base64-encoded,
// headers as arrays of signed bytes, timestamps in milliseconds. The payload
// comes from [kafkalambda.Event.AppendJSON], so it is byte for byte what the
// local event source mapping (package esm) sends too. With [SchemaMetadata]
// the builder mimics the event source mapping's Schema Registry integration in
// SOURCE mode: the 5-byte Confluent prefix is stripped and the schema id moves
// into keySchemaMetadata / valueSchemaMetadata. A [Record] with RawKey or
// RawValue carries those bytes as they are, unserialized: the way to put a
// poison record into a typed event.
//
// # Cluster
//
// [StartCluster] starts a broker and a registry and returns a [Cluster] with
// helpers to create topics, produce typed or raw records and read a topic
// back; [NewCluster] does the same for a test and closes everything in
// t.Cleanup. Both serve tests and commands alike (the example's local
// pipeline runs on StartCluster). [WithSASLPlain] and [WithTLS] secure the
// broker (with a CA made for the cluster, [Cluster.CACertPEM]);
// [Cluster.ClientOptions] connect franz-go clients to it. Fault injection is
// available through
// [Cluster.Kafka] (kfake's Control hooks) and [Cluster.FakeRegistry]
// (srfake's interceptors).
//
// # Any broker
//
// [Dial] returns a [Client] for brokers at any address, with franz-go
// options for TLS or SASL. [Produce], [ProduceTo] and [ReadTopic] take
// either (the [Kafka] interface). The generic ReadTopic decodes what a
// function wrote with its output's deserializers and returns
// kafkalambda.Record values, as the function's own handler sees records:
//
//	got, err := kafkalambdatest.ReadTopic(ctx, cluster, "settlements", serde.String(), settlementSerde)
//	// got[0].Key, got[0].Value, got[0].Header("…"), got[0].Offset
package kafkalambdatest
