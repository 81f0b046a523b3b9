package secrets_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// envLoader maps secretJSON through a WithEnv loader; extra environment
// variables come in pairs.
func envLoader(t *testing.T, secretJSON string, opts ...secrets.LoaderOption) *secrets.Loader {
	t.Helper()
	l, err := secrets.New(append([]secrets.LoaderOption{
		secrets.WithEnv("SECRET"),
		secrets.WithLookupEnv(env("SECRET", secretJSON)),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// checkErr asserts err matches want (nil meaning no error) and, when key is
// set, that it is an *Error naming that key.
func checkErr(t *testing.T, err, want error, key string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v; want one matching %v", err, want)
	}
	var e *secrets.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *secrets.Error", err)
	}
	if key != "" && e.Key != key {
		t.Fatalf("error key = %q; want %q (error: %v)", e.Key, key, err)
	}
}

func TestKafkaConfigMapping(t *testing.T) {
	t.Parallel()
	const boot = "b-1.example.com:9092"
	tests := []struct {
		name    string
		secret  string
		opts    []secrets.LoaderOption
		want    map[string]any
		wantErr error
		errKey  string
	}{{
		name: "librdkafka keys pass through, numbers and booleans typed",
		secret: `{"bootstrap.servers":"` + boot + `","security.protocol":"SASL_SSL","sasl.mechanism":"SCRAM-SHA-512",
			"sasl.username":"u","sasl.password":"p","linger.ms":0.5,"batch.num.messages":1000,"enable.idempotence":true,
			"go.delivery.reports":false,"schema.registry.url":"https://sr.example.com","basic.auth.user.info":"k:s"}`,
		want: map[string]any{"bootstrap.servers": boot, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
			"sasl.username": "u", "sasl.password": "p", "linger.ms": "0.5", "batch.num.messages": 1000, "enable.idempotence": true,
			"go.delivery.reports": false},
	}, {
		name:   "ESM BASIC_AUTH secret gets SASL_SSL and PLAIN",
		secret: `{"username":"alice","password":"pw"}`,
		opts:   []secrets.LoaderOption{secrets.WithBootstrapServers(boot)},
		want: map[string]any{"bootstrap.servers": boot, "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
			"sasl.username": "alice", "sasl.password": "pw"},
	}, {
		name:   "ESM secret keeps explicit protocol and mechanism",
		secret: `{"username":"alice","password":"pw","security.protocol":"SASL_PLAINTEXT","sasl.mechanisms":"SCRAM-SHA-256","bootstrap.servers":"` + boot + `"}`,
		want: map[string]any{"bootstrap.servers": boot, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.username": "alice", "sasl.password": "pw"},
	}, {
		name:   "ESM keys are ignored when sasl.username is explicit",
		secret: `{"username":"esm","password":"esm-pw","sasl.username":"app","sasl.password":"app-pw","sasl.mechanism":"PLAIN","bootstrap.servers":"` + boot + `"}`,
		want:   map[string]any{"bootstrap.servers": boot, "sasl.mechanism": "PLAIN", "sasl.username": "app", "sasl.password": "app-pw"},
	}, {
		name:    "ESM username without password",
		secret:  `{"username":"alice","bootstrap.servers":"` + boot + `"}`,
		wantErr: secrets.ErrMissingKey, errKey: "password",
	}, {
		name:   "jaas PlainLoginModule",
		secret: `{"bootstrap.servers":"` + boot + `","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"KEY\" password=\"S\\\\\\\"CRET\";"}`,
		want: map[string]any{"bootstrap.servers": boot, "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
			"sasl.username": "KEY", "sasl.password": `S\"CRET`},
	}, {
		name:   "jaas ScramLoginModule with its mechanism, shaded class name, no semicolon",
		secret: `{"bootstrap.servers":"` + boot + `","security.protocol":"SASL_PLAINTEXT","sasl.mechanism":"SCRAM-SHA-256","sasl.jaas.config":"kafkashaded.org.apache.kafka.common.security.scram.ScramLoginModule required username=u password=p"}`,
		want: map[string]any{"bootstrap.servers": boot, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.username": "u", "sasl.password": "p"},
	}, {
		name:    "jaas ScramLoginModule without sasl.mechanism",
		secret:  `{"bootstrap.servers":"` + boot + `","sasl.jaas.config":"org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";"}`,
		wantErr: secrets.ErrMissingKey, errKey: "sasl.mechanism",
	}, {
		name:    "jaas PlainLoginModule with a SCRAM mechanism",
		secret:  `{"bootstrap.servers":"` + boot + `","sasl.mechanism":"SCRAM-SHA-512","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";"}`,
		wantErr: secrets.ErrMalformed, errKey: "sasl.mechanism",
	}, {
		name:    "jaas unterminated quote",
		secret:  `{"bootstrap.servers":"` + boot + `","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p;"}`,
		wantErr: secrets.ErrMalformed, errKey: "sasl.jaas.config",
	}, {
		name:    "jaas MSK IAM module",
		secret:  `{"bootstrap.servers":"` + boot + `","sasl.jaas.config":"software.amazon.msk.auth.iam.IAMLoginModule required;"}`,
		wantErr: secrets.ErrMalformed, errKey: "sasl.jaas.config",
	}, {
		name:    "jaas without password",
		secret:  `{"bootstrap.servers":"` + boot + `","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";"}`,
		wantErr: secrets.ErrMalformed, errKey: "sasl.jaas.config",
	}, {
		name:    "jaas conflicts with sasl.username",
		secret:  `{"bootstrap.servers":"` + boot + `","sasl.username":"other","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";"}`,
		wantErr: secrets.ErrMalformed, errKey: "sasl.username",
	}, {
		name:    "unknown keys",
		secret:  `{"bootstrap.servers":"` + boot + `","ssl.truststore.location":"/x.jks","key.serializer":"org.apache.kafka.common.serialization.StringSerializer","acks":"all"}`,
		wantErr: secrets.ErrUnknownKey,
	}, {
		name:   "plugin.library.paths lets plugin keys through",
		secret: `{"bootstrap.servers":"` + boot + `","plugin.library.paths":"monitoring-interceptor","confluent.monitoring.interceptor.topic":"_m"}`,
		want:   map[string]any{"bootstrap.servers": boot, "plugin.library.paths": "monitoring-interceptor", "confluent.monitoring.interceptor.topic": "_m"},
	}, {
		name:    "both names of one property",
		secret:  `{"bootstrap.servers":"` + boot + `","acks":"all","request.required.acks":"1"}`,
		wantErr: secrets.ErrMalformed, errKey: "request.required.acks",
	}, {
		name:   "both names of one property, same value, emitted once",
		secret: `{"bootstrap.servers":"` + boot + `","linger.ms":5,"queue.buffering.max.ms":5}`,
		want:   map[string]any{"bootstrap.servers": boot, "linger.ms": 5},
	}, {
		name: "librdkafka-only names are emitted under the Java client's names",
		secret: `{"metadata.broker.list":"` + boot + `","request.required.acks":-1,"queue.buffering.max.ms":2,"message.send.max.retries":3,
			"compression.codec":"zstd","message.timeout.ms":30000,"max.in.flight":5,"sasl.mechanisms":"PLAIN","sasl.username":"u","sasl.password":"p"}`,
		want: map[string]any{"bootstrap.servers": boot, "acks": -1, "linger.ms": 2, "retries": 3, "compression.type": "zstd",
			"delivery.timeout.ms": 30000, "max.in.flight.requests.per.connection": 5, "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "p"},
	}, {
		name:    "no bootstrap servers and no fallback",
		secret:  `{"username":"u","password":"p"}`,
		wantErr: secrets.ErrMissingKey, errKey: "bootstrap.servers",
	}, {
		name:   "bootstrap fallback from the environment",
		secret: `{"security.protocol":"PLAINTEXT"}`,
		opts:   []secrets.LoaderOption{secrets.WithLookupEnv(env("SECRET", `{"security.protocol":"PLAINTEXT"}`, secrets.EnvBootstrapServers, "env:9092"))},
		want:   map[string]any{"bootstrap.servers": "env:9092", "security.protocol": "PLAINTEXT"},
	}, {
		name:   "WithBootstrapServers overrides the environment; the secret's own wins",
		secret: `{"metadata.broker.list":"secret:9092"}`,
		opts: []secrets.LoaderOption{
			secrets.WithLookupEnv(env("SECRET", `{"metadata.broker.list":"secret:9092"}`, secrets.EnvBootstrapServers, "env:9092")),
			secrets.WithBootstrapServers("opt:9092"),
		},
		want: map[string]any{"bootstrap.servers": "secret:9092"},
	}, {
		name:    "sasl.username without sasl.password",
		secret:  `{"bootstrap.servers":"` + boot + `","sasl.username":"u"}`,
		wantErr: secrets.ErrMissingKey, errKey: "sasl.password",
	}, {
		name:    "not JSON",
		secret:  `bootstrap.servers=x`,
		wantErr: secrets.ErrMalformed,
	}, {
		name:    "truncated JSON",
		secret:  `{"bootstrap.servers":"x"`,
		wantErr: secrets.ErrMalformed,
	}, {
		name:    "a JSON array",
		secret:  `["bootstrap.servers"]`,
		wantErr: secrets.ErrMalformed,
	}, {
		name:    "a nested object",
		secret:  `{"bootstrap.servers":"x","default.topic.config":{"acks":"all"}}`,
		wantErr: secrets.ErrMalformed, errKey: "default.topic.config",
	}, {
		name:    "a null value",
		secret:  `{"bootstrap.servers":null}`,
		wantErr: secrets.ErrMalformed, errKey: "bootstrap.servers",
	}, {
		name:    "a duplicate key",
		secret:  `{"sasl.password":"a","sasl.password":"b","bootstrap.servers":"x"}`,
		wantErr: secrets.ErrMalformed, errKey: "sasl.password",
	}, {
		name:    "data after the object",
		secret:  `{"bootstrap.servers":"x"} {}`,
		wantErr: secrets.ErrMalformed,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := envLoader(t, tt.secret, tt.opts...).KafkaConfig(context.Background())
			checkErr(t, err, tt.wantErr, tt.errKey)
			if tt.wantErr == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("KafkaConfig:\n got %v\nwant %v", secrets.Redact(got), secrets.Redact(tt.want))
			}
		})
	}
}

func TestUnknownKeysAreListed(t *testing.T) {
	t.Parallel()
	_, err := envLoader(t, `{"bootstrap.servers":"x","zeta.key":1,"alpha.key":2,"acks":"all"}`).KafkaConfig(context.Background())
	var uk *secrets.UnknownKeysError
	if !errors.As(err, &uk) {
		t.Fatalf("error = %v; want an *UnknownKeysError", err)
	}
	if want := []string{"alpha.key", "zeta.key"}; !reflect.DeepEqual(uk.Keys, want) {
		t.Fatalf("Keys = %q; want %q", uk.Keys, want)
	}
	const want = `secrets: kafka config "env:SECRET": unknown librdkafka keys (librdkafka 2.11.1): "alpha.key", "zeta.key"`
	if err.Error() != want {
		t.Fatalf("message:\n got %s\nwant %s", err, want)
	}
}

func TestRegistryMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  string
		want    secrets.Registry
		wantErr error
		errKey  string
	}{{
		name:   "url and basic.auth.user.info",
		secret: `{"schema.registry.url":"https://sr.example.com","basic.auth.user.info":"KEY:SE:CRET","basic.auth.credentials.source":"USER_INFO"}`,
		want:   secrets.Registry{URL: "https://sr.example.com", Username: "KEY", Password: secrets.NewValue("SE:CRET")},
	}, {
		name:   "Java-style schema.registry.basic.auth.user.info",
		secret: `{"schema.registry.url":"https://sr.example.com","schema.registry.basic.auth.user.info":"KEY:S"}`,
		want:   secrets.Registry{URL: "https://sr.example.com", Username: "KEY", Password: secrets.NewValue("S")},
	}, {
		name:   "no authentication",
		secret: `{"schema.registry.url":"http://localhost:8081"}`,
		want:   secrets.Registry{URL: "http://localhost:8081"},
	}, {
		name:   "credentials in the URL move out of it",
		secret: `{"schema.registry.url":"https://KEY:S@sr.example.com/base"}`,
		want:   secrets.Registry{URL: "https://sr.example.com/base", Username: "KEY", Password: secrets.NewValue("S")},
	}, {
		name:    "both user info keys, different",
		secret:  `{"schema.registry.url":"https://sr.example.com","basic.auth.user.info":"a:b","schema.registry.basic.auth.user.info":"c:d"}`,
		wantErr: secrets.ErrMalformed, errKey: "schema.registry.basic.auth.user.info",
	}, {
		name:    "no url",
		secret:  `{"basic.auth.user.info":"a:b","bootstrap.servers":"x"}`,
		wantErr: secrets.ErrMissingKey, errKey: "schema.registry.url",
	}, {
		name:    "not an http URL",
		secret:  `{"schema.registry.url":"sr.example.com:8081"}`,
		wantErr: secrets.ErrMalformed, errKey: "schema.registry.url",
	}, {
		name:    "user info without a colon",
		secret:  `{"schema.registry.url":"https://sr.example.com","basic.auth.user.info":"KEYSECRET"}`,
		wantErr: secrets.ErrMalformed, errKey: "basic.auth.user.info",
	}, {
		name:    "credentials source other than USER_INFO",
		secret:  `{"schema.registry.url":"https://sr.example.com","basic.auth.credentials.source":"SASL_INHERIT"}`,
		wantErr: secrets.ErrMalformed, errKey: "basic.auth.credentials.source",
	}, {
		name:   "a Kafka mapping error does not spoil the registry",
		secret: `{"schema.registry.url":"https://sr.example.com","no.such.librdkafka.key":"x"}`,
		want:   secrets.Registry{URL: "https://sr.example.com"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := envLoader(t, tt.secret).Registry(context.Background())
			checkErr(t, err, tt.wantErr, tt.errKey)
			if tt.wantErr == nil && (got.URL != tt.want.URL || got.Username != tt.want.Username || got.Password.Reveal() != tt.want.Password.Reveal()) {
				t.Fatalf("Registry = %+v (password %d bytes); want %+v", got, len(got.Password.Reveal()), tt.want)
			}
		})
	}
}

func TestKafkaConfigReturnsACopy(t *testing.T) {
	t.Parallel()
	l := envLoader(t, `{"bootstrap.servers":"x"}`)
	a, err := l.KafkaConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a["acks"] = "all"
	b, _ := l.KafkaConfig(context.Background())
	if _, ok := b["acks"]; ok {
		t.Fatal("a change to one returned ConfigMap showed in the next")
	}
}
