package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// The deprecated KAFKA_SECRET_SOURCE still chooses the source it named:
// "extension" without PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is the
// extension on its default port, "secretsmanager" or nothing leaves the
// choice to secrets.FromEnv (Secrets Manager for KAFKA_SECRET_ID).
func TestDeprecatedSecretSource(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1") // FromEnv's Secrets Manager client needs a region
	for _, tc := range []struct{ source, want string }{
		{"extension", "source: extension"},
		{"secretsmanager", "source: secretsmanager"},
		{"", "source: secretsmanager"},
	} {
		env := map[string]string{EnvSecretID: "tradesettle/kafka", EnvSecretSource: tc.source}
		w := wiring{logger: slog.New(slog.DiscardHandler), lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
		l, err := w.loader(context.Background(), func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%q: %v", tc.source, err)
		}
		if !strings.Contains(l.String(), tc.want) {
			t.Errorf("%q: %v, want %s", tc.source, l, tc.want)
		}
	}
}
