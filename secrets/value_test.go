package secrets_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

func TestIsSensitive(t *testing.T) {
	t.Parallel()
	// Of librdkafka's own properties, exactly these hold secrets.
	knownSecret := []string{
		"sasl.oauthbearer.assertion.private.key.passphrase",
		"sasl.oauthbearer.assertion.private.key.pem",
		"sasl.oauthbearer.client.credentials.client.secret",
		"sasl.oauthbearer.client.secret",
		"sasl.oauthbearer.config",
		"sasl.password",
		"ssl.key.password",
		"ssl.key.pem",
		"ssl.keystore.password",
	}
	for _, k := range secrets.KnownKafkaKeys() {
		if got, want := secrets.IsSensitive(k), slices.Contains(knownSecret, k); got != want {
			t.Errorf("IsSensitive(%q) = %v; want %v", k, got, want)
		}
	}
	for _, k := range []string{
		// Not librdkafka's, but read from the secret.
		"password", "sasl.jaas.config", "basic.auth.user.info", "schema.registry.basic.auth.user.info",
		// Plugins' and interceptors' copies, which pass with plugin.library.paths.
		"confluent.monitoring.interceptor.sasl.password",
		"confluent.monitoring.interceptor.sasl.jaas.config",
		"confluent.monitoring.interceptor.ssl.key.pem",
		"confluent.monitoring.interceptor.ssl.keystore.password",
		"confluent.monitoring.interceptor.sasl.oauthbearer.config",
		"my.plugin.client_secret", "my.plugin.clientSecret", "my.plugin.api-secret",
		"my.plugin.auth.token", "bearer.auth.token", "my.plugin.session_token",
		"my.plugin.passphrase", "my.plugin.passwd", "my.plugin.db.pwd",
		"my.plugin.credentials", "my.plugin.private.key", "my.plugin.private_key",
		"my.plugin.aws.secret.access.key", "my.plugin.aws_secret_access_key",
		"my.plugin.user.info", "my.plugin.userinfo",
		// Case does not matter.
		"SASL.PASSWORD", "My.Plugin.Secret",
	} {
		if !secrets.IsSensitive(k) {
			t.Errorf("IsSensitive(%q) = false; want true", k)
		}
	}
	for _, k := range []string{
		"schema.registry.url", "basic.auth.credentials.source", "username",
		"my.plugin.url", "my.plugin.token.endpoint.url", "my.plugin.access.key.id", "",
	} {
		if secrets.IsSensitive(k) {
			t.Errorf("IsSensitive(%q) = true; want false", k)
		}
	}
}

// With plugin.library.paths set, the mapping passes every key to the
// ConfigMap, plugins' passwords included: Redact must hide those too.
func TestRedact(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"bootstrap.servers":    "b:9092",
		"sasl.username":        "u",
		"sasl.password":        "LEAKpw",
		"plugin.library.paths": "monitoring-interceptor",
		"confluent.monitoring.interceptor.sasl.password":     "LEAKplug",
		"confluent.monitoring.interceptor.sasl.jaas.config":  `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="LEAKjaas";`,
		"confluent.monitoring.interceptor.bootstrap.servers": "m:9092",
		"default.topic.config":                               map[string]any{"acks": "all", "my.plugin.secret": "LEAKtopic"},
		"linger.ms":                                          5,
	}
	orig := fmt.Sprint(in)
	got := secrets.Redact(in)
	want := map[string]any{
		"bootstrap.servers":    "b:9092",
		"sasl.username":        "u",
		"sasl.password":        secrets.Redacted,
		"plugin.library.paths": "monitoring-interceptor",
		"confluent.monitoring.interceptor.sasl.password":     secrets.Redacted,
		"confluent.monitoring.interceptor.sasl.jaas.config":  secrets.Redacted,
		"confluent.monitoring.interceptor.bootstrap.servers": "m:9092",
		"default.topic.config":                               map[string]any{"acks": "all", "my.plugin.secret": secrets.Redacted},
		"linger.ms":                                          5,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
		t.Errorf("Redact:\n got %v\nwant %v", got, want)
	}
	if s := fmt.Sprintf("%v %+v %#v", got, got, got); strings.Contains(s, leak) {
		t.Errorf("Redact left a secret: %s", s)
	}
	if fmt.Sprint(in) != orig {
		t.Errorf("Redact changed its argument: %v", in)
	}
	if got := secrets.Redact(nil); got == nil || len(got) != 0 {
		t.Errorf("Redact(nil) = %#v; want an empty map", got)
	}
}
