package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// Wire reads the secret through secrets.FromEnv: KAFKA_SECRET_FILE, which
// the example's own wiring did not know, works as the secrets package
// documents it.
func TestWireFromSecretFile(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t)
	path := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(path, []byte(secretJSON(c, "", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	settleWired(t, c, app.OutputTopic, 2, app.WithLookupEnv(envOf(map[string]string{app.EnvSecretFile: path})))
}

// PARAMETERS_SECRETS_EXTENSION_HTTP_PORT with KAFKA_SECRET_ID reads the
// secret through the Parameters and Secrets Lambda Extension, as FromEnv
// chooses it; so does the deprecated KAFKA_SECRET_SOURCE=extension with
// the port set.
func TestWireThroughTheExtension(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"", "extension"} {
		t.Run("source="+source, func(t *testing.T) {
			t.Parallel()
			c := kafkalambdatest.NewCluster(t)
			sm := secretstest.NewServer(t, map[string]string{"tradesettle/kafka": secretJSON(c, "", "")})
			env := map[string]string{
				app.EnvSecretID:          "tradesettle/kafka",
				secrets.EnvExtensionPort: sm.Port(),
				secrets.EnvSessionToken:  sm.SessionToken(),
				app.EnvSecretSource:      source,
			}
			settleWired(t, c, app.OutputTopic, 1, app.WithLookupEnv(envOf(env)))
			if n, m := sm.Calls(secretstest.OpExtensionGet), sm.Calls(secretstest.OpGetSecretValue); n == 0 || m != 0 {
				t.Fatalf("%d extension reads and %d Secrets Manager ones, want the extension only", n, m)
			}
		})
	}
}

// The secret's variables are checked at INIT, as FromEnv checks them: none
// or two set is a configuration error naming them, matched by both
// app.ErrConfig and secrets.ErrInvalidOption; a WithSecretsClient needs
// KAFKA_SECRET_ID.
func TestWireRejectsBadSecretEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		opts []app.WireOption
		want []string
		both bool // also secrets.ErrInvalidOption
	}{
		{"none", map[string]string{}, nil, []string{app.EnvSecretID, app.EnvSecretFile, app.EnvSecretJSON}, true},
		{"id and JSON", map[string]string{app.EnvSecretID: "x", app.EnvSecretJSON: "{}"}, nil, []string{app.EnvSecretID + " and " + app.EnvSecretJSON}, true},
		{"file and JSON", map[string]string{app.EnvSecretFile: "f", app.EnvSecretJSON: "{}"}, nil, []string{app.EnvSecretFile + " and " + app.EnvSecretJSON}, true},
		{"client without id", map[string]string{app.EnvSecretJSON: "{}"}, []app.WireOption{app.WithSecretsClient(secretsmanager.New(secretsmanager.Options{Region: "us-east-1"}))}, []string{app.EnvSecretID}, false},
		{"deprecated source", map[string]string{app.EnvSecretJSON: "{}", app.EnvSecretSource: "vault"}, nil, []string{app.EnvSecretSource, secrets.EnvExtensionPort}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := app.Wire(context.Background(), append(tc.opts, app.WithLookupEnv(envOf(tc.env)))...)
			if !errors.Is(err, app.ErrConfig) || tc.both != errors.Is(err, secrets.ErrInvalidOption) {
				t.Fatalf("Wire = %v, want app.ErrConfig (and secrets.ErrInvalidOption: %t)", err, tc.both)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Wire = %v, want it to name %s", err, w)
				}
			}
		})
	}
}

// The deprecated KAFKA_SECRET_SOURCE=secretsmanager still means Secrets
// Manager, even where the extension's port variable is set (FromEnv alone
// would read through the extension, and its cache).
func TestWireDeprecatedSecretsManagerSource(t *testing.T) {
	c := kafkalambdatest.NewCluster(t)
	sm := secretstest.NewServer(t, map[string]string{"tradesettle/kafka": secretJSON(c, "", "")})
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	env := map[string]string{
		app.EnvSecretID:          "tradesettle/kafka",
		secrets.EnvExtensionPort: sm.Port(),
		secrets.EnvSessionToken:  sm.SessionToken(),
		app.EnvSecretSource:      "secretsmanager",
	}
	settleWired(t, c, app.OutputTopic, 1, app.WithLookupEnv(envOf(env)))
	if n, m := sm.Calls(secretstest.OpExtensionGet), sm.Calls(secretstest.OpGetSecretValue); n != 0 || m == 0 {
		t.Fatalf("%d extension reads and %d Secrets Manager ones, want Secrets Manager only", n, m)
	}
}
