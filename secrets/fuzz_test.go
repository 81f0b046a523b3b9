package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// mapAny runs a secret through the whole mapping and checks the error
// contract: either success or an *Error matching a mapping sentinel.
func mapAny(t *testing.T, secret string) {
	l, err := secrets.New(secrets.WithEnv("S"), secrets.WithBootstrapServers("b:9092"),
		secrets.WithLookupEnv(func(string) (string, bool) { return secret, true }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, kerr := l.KafkaConfig(ctx)
	_, rerr := l.Registry(ctx)
	for _, err := range []error{kerr, rerr} {
		if err == nil {
			continue
		}
		var e *secrets.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not a *secrets.Error: %v", err, err)
		}
		if !errors.Is(err, secrets.ErrMalformed) && !errors.Is(err, secrets.ErrMissingKey) && !errors.Is(err, secrets.ErrUnknownKey) {
			t.Fatalf("mapping error matches no mapping sentinel: %v", err)
		}
	}
}

func FuzzSecretJSON(f *testing.F) {
	for _, s := range []string{
		secretV1, `{}`, `[]`, `{"a":{"b":1}}`, `{"username":"u","password":"p"}`,
		`{"schema.registry.url":"https://k:s@sr","basic.auth.user.info":"a:b"}`,
		`{"sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";"}`,
		`{"acks":"all","request.required.acks":-1,"linger.ms":1e3}`, `{"a":1} x`, `{"a"`, "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(mapAny)
}

func FuzzJAAS(f *testing.F) {
	for _, s := range []string{
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`,
		`org.apache.kafka.common.security.scram.ScramLoginModule required username=u password="p\"q\\";`,
		`x required username="u" password="p"; y required;`, `a b`, `"`, `;;;`, `P required a=`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, jaas string) {
		b, _ := json.Marshal(map[string]string{"sasl.jaas.config": jaas, "sasl.mechanism": "SCRAM-SHA-256"})
		mapAny(t, string(b))
	})
}
