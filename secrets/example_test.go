package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// A Value never prints, logs or marshals its secret; Reveal is the only way
// to it.
func ExampleValue() {
	pw := secrets.NewValue("hunter2")
	reg := secrets.Registry{URL: "https://sr.example.com", Username: "SRKEY", Password: pw}

	fmt.Println(pw)
	fmt.Printf("%s %q %x %d %10.3v\n", pw, pw, pw, pw, pw)
	fmt.Printf("%#v\n", pw)
	fmt.Printf("%+v\n", reg)
	js, _ := json.Marshal(reg)
	fmt.Println(string(js))

	removeTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: removeTime}))
	logger.Info("registry", "password", pw, "registry", reg)

	fmt.Println(len(pw.Reveal()))
	// Output:
	// [REDACTED]
	// [REDACTED] "[REDACTED]" [REDACTED] [REDACTED] [REDACTED]
	// secrets.Value("[REDACTED]")
	// {URL:https://sr.example.com Username:SRKEY Password:[REDACTED]}
	// {"URL":"https://sr.example.com","Username":"SRKEY","Password":"[REDACTED]"}
	// level=INFO msg=registry password=[REDACTED] registry.url=https://sr.example.com registry.username=SRKEY registry.password=[REDACTED]
	// 7
}

// A secret in the shape an event source mapping uses for BASIC_AUTH maps to
// SASL_SSL/PLAIN; Redact makes the ConfigMap printable.
func ExampleLoader_KafkaConfig() {
	loader, err := secrets.New(
		secrets.WithEnv("KAFKA_SECRET_JSON"),
		secrets.WithLookupEnv(func(name string) (string, bool) {
			switch name {
			case "KAFKA_SECRET_JSON":
				return `{"username": "alice", "password": "s3cr3t"}`, true
			case secrets.EnvBootstrapServers:
				return "b-1.example.com:9096", true
			}
			return "", false
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := loader.KafkaConfig(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(secrets.Redact(cfg))
	// Output:
	// map[bootstrap.servers:b-1.example.com:9096 sasl.mechanism:PLAIN sasl.password:[REDACTED] sasl.username:alice security.protocol:SASL_SSL]
}

// FromEnv chooses the source from the environment: here the JSON itself,
// in KAFKA_SECRET_JSON, as for a local run. Deployed, KAFKA_SECRET_ID
// names the secret instead and the same line reads it from Secrets
// Manager.
func ExampleFromEnv() {
	environment := map[string]string{
		secrets.EnvSecretJSON: `{"bootstrap.servers": "localhost:9092", "schema.registry.url": "http://localhost:8081"}`,
	}
	lookup := func(k string) (string, bool) { v, ok := environment[k]; return v, ok }

	loader, err := secrets.FromEnv(context.Background(), secrets.WithLookupEnv(lookup))
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := loader.KafkaConfig(context.Background())
	fmt.Println(loader.SecretID(), cfg["bootstrap.servers"], err)

	_, err = secrets.FromEnv(context.Background(), secrets.WithLookupEnv(func(string) (string, bool) { return "", false }))
	fmt.Println(errors.Is(err, secrets.ErrInvalidOption))
	// Output:
	// env:KAFKA_SECRET_JSON localhost:9092 <nil>
	// true
}

// The function's own settings live in the secret's "app" object, which the
// Kafka mapping ignores; App decodes them into the function's struct. A
// Value field stays redacted when the settings are printed.
func ExampleApp() {
	type Settings struct {
		HighRiskCents int64         `json:"high_risk_cents"`
		PartnerKey    secrets.Value `json:"partner_api_key"`
	}
	secret := `{"bootstrap.servers": "localhost:9092",
	            "app": {"high_risk_cents": 500000, "partner_api_key": "pk-123"}}`
	loader, _ := secrets.New(secrets.WithEnv("SECRET"), secrets.WithLookupEnv(func(string) (string, bool) { return secret, true }))

	settings, err := secrets.App[Settings](context.Background(), loader)
	fmt.Printf("%+v %v\n", settings, err)
	cfg, err := loader.KafkaConfig(context.Background())
	fmt.Println(cfg, err)
	// Output:
	// {HighRiskCents:500000 PartnerKey:[REDACTED]} <nil>
	// map[bootstrap.servers:localhost:9092] <nil>
}
