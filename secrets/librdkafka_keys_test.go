//go:build cgo

package secrets_test

import (
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// librdkafkaKnows asks the linked librdkafka whether it has a property
// named key, without making a client: kafka.NewProducer hands every key to
// rd_kafka_conf_set, which answers "No such configuration property" for an
// unknown name, and the poison pair (idempotence with acks=1) then makes
// rd_kafka_new fail its consistency check before any thread or socket
// exists. If a future librdkafka accepted the pair, a client with no
// bootstrap servers would be made and closed: slower, still correct.
func librdkafkaKnows(t *testing.T, key string) (bool, string) {
	t.Helper()
	m := kafka.ConfigMap{key: "\x01", "enable.idempotence": true, "acks": "1"}
	switch key {
	case "acks", "request.required.acks", "enable.idempotence":
		m = kafka.ConfigMap{key: "\x01"} // "\x01" is not a valid value for these
	case "plugin.library.paths":
		m = kafka.ConfigMap{key: "/nonexistent/plugin"} // dlopen fails
	case "client.software.name", "client.software.version":
		// librdkafka 2.11.1 sanitizes these in place, first skipping the
		// characters it does not allow without stopping at the string's
		// end: for "\x01" it reads past the allocation (valgrind shows
		// it), and copies what it finds there back over the string, past
		// its end when that run is long. A CI run aborted with the C heap
		// corrupted ("corrupted size vs. prev_size"). The producer
		// refuses such values (TestSoftwareNameNeedsAlphanumeric in
		// kafkalambda/librdkafka).
		m = kafka.ConfigMap{key: "x", "enable.idempotence": true, "acks": "1"}
	}
	p, err := kafka.NewProducer(&m)
	if p != nil {
		p.Close()
	}
	if err == nil {
		return true, ""
	}
	return !strings.Contains(err.Error(), "No such configuration property"), err.Error()
}

// The allow-list must match the librdkafka that is linked: same version,
// and every listed name known to it. A confluent-kafka-go upgrade fails
// here until the list in librdkafka_keys.go is refreshed.
func TestKnownKafkaKeysMatchLinkedLibrdkafka(t *testing.T) {
	t.Parallel()
	if _, v := kafka.LibraryVersion(); v != secrets.LibrdkafkaVersion {
		t.Fatalf("linked librdkafka is %s; librdkafka_keys.go lists %s's properties: refresh it", v, secrets.LibrdkafkaVersion)
	}
	for _, key := range listedKeys() {
		if ok, msg := librdkafkaKnows(t, key); !ok {
			t.Errorf("listed key %q: librdkafka says %s", key, msg)
		}
	}
}

// Names librdkafka rejects, or that only the Java client knows, are not on
// the list.
func TestKnownKafkaKeyRejects(t *testing.T) {
	t.Parallel()
	for _, key := range []string{
		"no.such.key", "key.serializer", "value.serializer", "schema.registry.url",
		"sasl.jaas.config",        // Java only: librdkafka refuses it; this package parses it
		"ssl.truststore.location", // Java only: librdkafka refuses it
		"error_cb", "dr_msg_cb",   // set through C functions only
		"go.logs.channel", // a Go channel cannot come from JSON
		"go.application.rebalance.enable",
		"BOOTSTRAP.SERVERS", "",
	} {
		if secrets.KnownKafkaKey(key) {
			t.Errorf("KnownKafkaKey(%q) = true", key)
		}
	}
	for _, key := range []string{"no.such.key", "key.serializer", "schema.registry.url"} {
		if ok, _ := librdkafkaKnows(t, key); ok {
			t.Errorf("the probe says librdkafka knows %q: the probe is broken", key)
		}
	}
}

// listedKeys are the names KnownKafkaKey accepts, less the go.* keys that
// the Go client consumes before librdkafka sees the config.
func listedKeys() []string {
	var keys []string
	for _, k := range secrets.KnownKafkaKeys() {
		if !strings.HasPrefix(k, "go.") {
			keys = append(keys, k)
		}
	}
	return keys
}
