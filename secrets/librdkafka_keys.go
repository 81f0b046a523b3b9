package secrets

import (
	"slices"
	"strings"
)

// librdkafkaVersion is the librdkafka version whose configuration properties
// knownKafkaKey accepts: the one bundled with the confluent-kafka-go
// version in go.mod (v2.11.1 bundles librdkafka 2.11.1).
//
// The list holds every property that librdkafka 2.11.1 lets
// rd_kafka_conf_set set from a string: the global and topic tables of its
// CONFIGURATION.md, minus the properties that must be set through a
// dedicated C function (error_cb, dr_msg_cb, ssl_key, …), minus the ones the
// Linux build rejects (ssl.ca.certificate.stores is Windows-only;
// sasl.jaas.config and ssl.truststore.location are Java-only and rejected;
// this package parses sasl.jaas.config itself), plus the few settable
// properties CONFIGURATION.md leaves out (client.software.name/version,
// enable.sparse.connections, enable_sasl_queue, metadata.request.timeout.ms,
// test.mock.*). TestKnownKafkaKeysMatchLinkedLibrdkafka probes every name
// against the librdkafka that is actually linked and fails when the linked
// version differs from librdkafkaVersion, so a confluent-kafka-go upgrade
// forces this list to be refreshed: take the new version's CONFIGURATION.md,
// apply the same rules, and run that test.
const librdkafkaVersion = "2.11.1"

// goClientKeys are the confluent-kafka-go producer settings that the Go
// client consumes itself (they never reach librdkafka). go.logs.channel is
// left out: a secret cannot hold a Go channel.
const goClientKeys = `
go.batch.producer
go.delivery.report.fields
go.delivery.reports
go.events.channel.size
go.logs.channel.enable
go.produce.channel.size
`

// knownKafkaKey reports whether a producer ConfigMap may hold key: a
// property librdkafka librdkafkaVersion accepts (see knownKafkaKeys),
// or a confluent-kafka-go producer setting (go.batch.producer,
// go.delivery.reports, go.delivery.report.fields, go.events.channel.size,
// go.produce.channel.size, go.logs.channel.enable).
func knownKafkaKey(key string) bool {
	if key == "" || strings.ContainsAny(key, "\n\t ") {
		return false
	}
	k := "\n" + key + "\n"
	return strings.Contains(librdkafkaProperties, k) || strings.Contains(goClientKeys, k)
}

// knownKafkaKeys returns every key knownKafkaKey accepts, sorted.
func knownKafkaKeys() []string {
	keys := append(strings.Fields(librdkafkaProperties), strings.Fields(goClientKeys)...)
	slices.Sort(keys)
	return keys
}

// librdkafkaProperties holds one property name per line, sorted; a
// constant, so nothing can change it at run time.
const librdkafkaProperties = `
acks
allow.auto.create.topics
api.version.fallback.ms
api.version.request
api.version.request.timeout.ms
auto.commit.enable
auto.commit.interval.ms
auto.offset.reset
batch.num.messages
batch.size
bootstrap.servers
broker.address.family
broker.address.ttl
broker.version.fallback
builtin.features
check.crcs
client.dns.lookup
client.id
client.rack
client.software.name
client.software.version
compression.codec
compression.level
compression.type
connections.max.idle.ms
consume.callback.max.messages
coordinator.query.interval.ms
debug
delivery.report.only.error
delivery.timeout.ms
enable.auto.commit
enable.auto.offset.store
enable.gapless.guarantee
enable.idempotence
enable.metrics.push
enable.partition.eof
enable.random.seed
enable.sasl.oauthbearer.unsecure.jwt
enable.sparse.connections
enable.ssl.certificate.verification
enable_sasl_queue
enabled_events
fetch.error.backoff.ms
fetch.max.bytes
fetch.message.max.bytes
fetch.min.bytes
fetch.queue.backoff.ms
fetch.wait.max.ms
group.id
group.instance.id
group.protocol
group.protocol.type
group.remote.assignor
heartbeat.interval.ms
https.ca.location
https.ca.pem
internal.termination.signal
isolation.level
linger.ms
log.connection.close
log.queue
log.thread.name
log_level
max.in.flight
max.in.flight.requests.per.connection
max.partition.fetch.bytes
max.poll.interval.ms
message.copy.max.bytes
message.max.bytes
message.send.max.retries
message.timeout.ms
metadata.broker.list
metadata.max.age.ms
metadata.recovery.rebootstrap.trigger.ms
metadata.recovery.strategy
metadata.request.timeout.ms
offset.store.method
offset.store.path
offset.store.sync.interval.ms
partition.assignment.strategy
partitioner
plugin.library.paths
produce.offset.report
queue.buffering.backpressure.threshold
queue.buffering.max.kbytes
queue.buffering.max.messages
queue.buffering.max.ms
queued.max.messages.kbytes
queued.min.messages
queuing.strategy
receive.message.max.bytes
reconnect.backoff.jitter.ms
reconnect.backoff.max.ms
reconnect.backoff.ms
request.required.acks
request.timeout.ms
retries
retry.backoff.max.ms
retry.backoff.ms
sasl.kerberos.keytab
sasl.kerberos.kinit.cmd
sasl.kerberos.min.time.before.relogin
sasl.kerberos.principal
sasl.kerberos.service.name
sasl.mechanism
sasl.mechanisms
sasl.oauthbearer.assertion.algorithm
sasl.oauthbearer.assertion.claim.aud
sasl.oauthbearer.assertion.claim.exp.seconds
sasl.oauthbearer.assertion.claim.iss
sasl.oauthbearer.assertion.claim.jti.include
sasl.oauthbearer.assertion.claim.nbf.seconds
sasl.oauthbearer.assertion.claim.sub
sasl.oauthbearer.assertion.file
sasl.oauthbearer.assertion.jwt.template.file
sasl.oauthbearer.assertion.private.key.file
sasl.oauthbearer.assertion.private.key.passphrase
sasl.oauthbearer.assertion.private.key.pem
sasl.oauthbearer.client.credentials.client.id
sasl.oauthbearer.client.credentials.client.secret
sasl.oauthbearer.client.id
sasl.oauthbearer.client.secret
sasl.oauthbearer.config
sasl.oauthbearer.extensions
sasl.oauthbearer.grant.type
sasl.oauthbearer.method
sasl.oauthbearer.scope
sasl.oauthbearer.token.endpoint.url
sasl.password
sasl.username
security.protocol
session.timeout.ms
socket.blocking.max.ms
socket.connection.setup.timeout.ms
socket.keepalive.enable
socket.max.fails
socket.nagle.disable
socket.receive.buffer.bytes
socket.send.buffer.bytes
socket.timeout.ms
ssl.ca.location
ssl.ca.pem
ssl.certificate.location
ssl.certificate.pem
ssl.cipher.suites
ssl.crl.location
ssl.curves.list
ssl.endpoint.identification.algorithm
ssl.engine.id
ssl.engine.location
ssl.key.location
ssl.key.password
ssl.key.pem
ssl.keystore.location
ssl.keystore.password
ssl.providers
ssl.sigalgs.list
statistics.interval.ms
sticky.partitioning.linger.ms
test.mock.broker.rtt
test.mock.num.brokers
topic.blacklist
topic.metadata.propagation.max.ms
topic.metadata.refresh.fast.cnt
topic.metadata.refresh.fast.interval.ms
topic.metadata.refresh.interval.ms
topic.metadata.refresh.sparse
transaction.timeout.ms
transactional.id
`
