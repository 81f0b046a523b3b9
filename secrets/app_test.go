package secrets_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

type appSettings struct {
	HighRiskCents int64         `json:"high.risk.cents"`
	Desk          string        `json:"desk"`
	Limits        []int         `json:"limits"`
	Partner       partnerConfig `json:"partner"`
}

type partnerConfig struct {
	URL string        `json:"url"`
	Key secrets.Value `json:"key"`
}

const appPartnerKey = "partner-key-91c2e"

func appSecret(app string) string {
	return `{"bootstrap.servers":"b1:9092","sasl.username":"u","sasl.password":"kafka-pw-3e1",` +
		`"schema.registry.url":"https://sr.example.com","app":` + app + `,"linger.ms":5}`
}

// The app object reaches App through the real SDK client, and neither the
// Kafka config nor the registry sees it.
func TestAppDecodes(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{"fn": appSecret(
		`{"high.risk.cents": 500000, "desk": "EU", "limits": [1, 2], "partner": {"url": "https://p.example.com", "key": "` + appPartnerKey + `"}}`)})
	logger, logs := debugLogger()
	l := newLoader(t, srv, "fn", secrets.WithLogger(logger))

	got, err := secrets.App[appSettings](t.Context(), l)
	if err != nil {
		t.Fatalf("App: %v", err)
	}
	if got.HighRiskCents != 500000 || got.Desk != "EU" || len(got.Limits) != 2 || got.Partner.URL != "https://p.example.com" || got.Partner.Key.Reveal() != appPartnerKey {
		t.Errorf("App = %+v (key %d bytes)", got, len(got.Partner.Key.Reveal()))
	}
	cfg, err := l.KafkaConfig(t.Context())
	if err != nil {
		t.Fatalf("KafkaConfig with an app object: %v", err)
	}
	if _, ok := cfg["app"]; ok || cfg["linger.ms"] != 5 {
		t.Errorf("KafkaConfig = %v, want linger.ms and no app", secrets.Redact(cfg))
	}
	if _, err := l.Registry(t.Context()); err != nil {
		t.Errorf("Registry: %v", err)
	}

	// Printing, logging or marshalling the settings redacts the key.
	slog.New(slog.NewJSONHandler(logs, nil)).Info("settings", "settings", got)
	js, _ := json.Marshal(got)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", got, got, got), string(js), logs.String()} {
		if strings.Contains(out, appPartnerKey) || strings.Contains(out, "kafka-pw-3e1") {
			t.Errorf("a secret leaked: %s", out)
		}
	}
	if n := srv.Calls(secretstest.OpGetSecretValue); n != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1 (App shares the cache)", n)
	}
}

func TestAppErrors(t *testing.T) {
	t.Parallel()
	const value = "leaky-value-5b7"
	tests := []struct {
		name   string
		secret string
		want   error
		key    string
	}{
		{"no app", `{"bootstrap.servers":"b1:9092"}`, secrets.ErrMissingKey, "app"},
		{"app not an object", `{"bootstrap.servers":"b1:9092","app":"` + value + `"}`, secrets.ErrMalformed, "app"},
		{"app twice", `{"app":{},"bootstrap.servers":"b1:9092","app":{}}`, secrets.ErrMalformed, "app"},
		{"wrong type", appSecret(`{"desk": 1.5e9}`), secrets.ErrMalformed, "app.desk"},
		{"wrong nested type", appSecret(`{"partner": {"url": ["` + value + `"]}}`), secrets.ErrMalformed, "app.partner.url"},
		{"unknown member", appSecret(`{"high.risk.centz": "` + value + `"}`), secrets.ErrMalformed, "app.high.risk.centz"},
		{"a Value that is not a string", appSecret(`{"partner": {"key": 123456789}}`), secrets.ErrMalformed, "app"},
		{"bad JSON inside app", `{"bootstrap.servers":"b1:9092","app":{"desk": "` + value + `" "x"}}`, secrets.ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := secrets.New(secrets.WithEnv("S"), secrets.WithLookupEnv(env("S", tt.secret)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = secrets.App[appSettings](t.Context(), l)
			var se *secrets.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &se) || se.Key != tt.key {
				t.Fatalf("App = %v (key %q), want %v with key %q", err, keyOf(se), tt.want, tt.key)
			}
			for _, leak := range []string{value, "1.5e9", "123456789"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q quotes a value", err)
				}
			}
		})
	}
}

func keyOf(e *secrets.Error) string {
	if e == nil {
		return "<no *Error>"
	}
	return e.Key
}
