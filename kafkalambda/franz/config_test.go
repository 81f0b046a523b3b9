package franz

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// translate takes the properties a secret maps to, refuses the ones it
// cannot honour by name, and never quotes a value.
func TestTranslate(t *testing.T) {
	t.Parallel()
	tokens := func(context.Context) (string, time.Time, error) { return "tok", time.Now().Add(time.Hour), nil }
	base := func(kv ...any) map[string]any {
		m := map[string]any{"bootstrap.servers": "127.0.0.1:9092,127.0.0.1:9093"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tt := range []struct {
		name    string
		conf    map[string]any
		tokens  bool
		wantErr string // "" for none; else a substring of the error
		check   func(t *testing.T, c *clientConfig)
	}{
		{name: "defaults", conf: base(), check: func(t *testing.T, c *clientConfig) {
			if !c.acked || c.maxMessage != defaultMaxMessage || c.maxQueued != defaultMaxQueued || c.sasl != nil {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "librdkafka producer defaults", conf: base("acks", "all", "enable.idempotence", true,
			"partitioner", "murmur2_random", "socket.keepalive.enable", true, "connections.max.idle.ms", 60000,
			"reconnect.backoff.ms", 50, "reconnect.backoff.max.ms", 1000, "socket.connection.setup.timeout.ms", 10000,
			"log.connection.close", false, "enable.metrics.push", false, "linger.ms", 0)},
		{name: "aliases", conf: map[string]any{"metadata.broker.list": "b:9092", "request.required.acks": -1,
			"queue.buffering.max.ms": 5, "compression.codec": "zstd", "message.timeout.ms": 30000}},
		{name: "transaction timeout, as exactly-once secrets set it", conf: base("transaction.timeout.ms", 10000)},
		{name: "bad transaction timeout", conf: base("transaction.timeout.ms", "soon"), wantErr: `"transaction.timeout.ms"`},
		{name: "alias conflict", conf: base("metadata.broker.list", "other:9092"), wantErr: `"metadata.broker.list"`},
		{name: "sizes", conf: base("message.max.bytes", 2000, "queue.buffering.max.messages", 10), check: func(t *testing.T, c *clientConfig) {
			if c.maxMessage != 2000 || c.maxQueued != 10 {
				t.Errorf("maxMessage %d maxQueued %d", c.maxMessage, c.maxQueued)
			}
		}},
		{name: "acks 0 without idempotence", conf: base("acks", 0, "enable.idempotence", false), check: func(t *testing.T, c *clientConfig) {
			if c.acked {
				t.Error("acks=0 counted as acknowledged")
			}
		}},
		{name: "acks 1 with idempotence", conf: base("acks", 1), wantErr: `"acks"`},
		{name: "SASL PLAIN", conf: base("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN",
			"sasl.username", "u", "sasl.password", "p"), check: func(t *testing.T, c *clientConfig) {
			if c.sasl == nil || c.sasl.Name() != "PLAIN" {
				t.Errorf("sasl %v", c.sasl)
			}
		}},
		{name: "SCRAM-SHA-512", conf: base("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "SCRAM-SHA-512",
			"sasl.username", "u", "sasl.password", "p"), check: func(t *testing.T, c *clientConfig) {
			if c.sasl == nil || c.sasl.Name() != "SCRAM-SHA-512" {
				t.Errorf("sasl %v", c.sasl)
			}
		}},
		{name: "OAUTHBEARER", tokens: true, conf: base("security.protocol", "SASL_SSL", "sasl.mechanism", "OAUTHBEARER"),
			check: func(t *testing.T, c *clientConfig) {
				if c.sasl == nil || c.sasl.Name() != "OAUTHBEARER" {
					t.Errorf("sasl %v", c.sasl)
				}
			}},
		{name: "OAUTHBEARER without tokens", conf: base("security.protocol", "SASL_SSL", "sasl.mechanism", "OAUTHBEARER"),
			wantErr: "WithOAuthBearerTokens"},
		{name: "OIDC", tokens: true, conf: base("security.protocol", "SASL_SSL", "sasl.mechanism", "OAUTHBEARER",
			"sasl.oauthbearer.method", "oidc"), wantErr: `"sasl.oauthbearer.method"`},
		{name: "GSSAPI", conf: base("security.protocol", "SASL_SSL", "sasl.mechanism", "GSSAPI"), wantErr: `"sasl.mechanism"`},
		{name: "bad protocol", conf: base("security.protocol", "TLS"), wantErr: `"security.protocol"`},
		{name: "bad CA", conf: base("security.protocol", "SSL", "ssl.ca.pem", "not a certificate"), wantErr: "ssl.ca"},
		{name: "CA file missing", conf: base("security.protocol", "SSL", "ssl.ca.location", "/nonexistent/ca.pem"), wantErr: `"ssl.ca.location"`},
		{name: "CA without TLS", conf: base("ssl.ca.pem", "x"), wantErr: `"ssl.ca.pem"`},
		{name: "no verification", conf: base("security.protocol", "SSL", "enable.ssl.certificate.verification", false,
			"ssl.endpoint.identification.algorithm", "none")},
		{name: "bad compression", conf: base("compression.type", "brotli"), wantErr: `"compression.type"`},
		{name: "bad linger", conf: base("linger.ms", "soon"), wantErr: `"linger.ms"`},
		{name: "other partitioner", conf: base("partitioner", "consistent_random"), wantErr: `"partitioner"`},
		{name: "no brokers", conf: map[string]any{"client.id": "x"}, wantErr: `"bootstrap.servers"`},
		{name: "unsupported keys, all named", conf: base("sasl.kerberos.principal", "k", "ssl.key.password", "hunter2"),
			wantErr: `"sasl.kerberos.principal"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var src func(context.Context) (string, time.Time, error)
			if tt.tokens {
				src = tokens
			}
			c, err := translate(tt.conf, src)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("translate = %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("translate = %v, want an error naming %s", err, tt.wantErr)
			}
			for _, secret := range []string{"hunter2", "not a certificate", "p\"", "other:9092"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes a value: %v", err)
				}
			}
		})
	}
	// Every unsupported key is named, in one error.
	_, err := translate(map[string]any{"bootstrap.servers": "b:1", "a.b": 1, "c.d": 2}, nil)
	var ue *unsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"a.b"`) || !strings.Contains(err.Error(), `"c.d"`) {
		t.Errorf("translate = %v, want both keys named", err)
	}
}
