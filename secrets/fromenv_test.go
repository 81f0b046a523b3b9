package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

const fromEnvSecret = `{"bootstrap.servers":"b1:9092","sasl.username":"u","sasl.password":"fromenv-pass-7f1","security.protocol":"SASL_SSL","sasl.mechanism":"PLAIN","schema.registry.url":"https://sr.example.com"}`

// isolateAWSConfig points the AWS SDK's default configuration at srv and
// at nothing on this machine: no shared config or credentials files, no
// instance metadata. The SDK reads the process environment, so these tests
// use t.Setenv and do not run in parallel.
func isolateAWSConfig(t *testing.T, srv *secretstest.Server) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":                  filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":      filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_ACCESS_KEY_ID":                testAccessKey,
		"AWS_SECRET_ACCESS_KEY":            testSecretKey,
		"AWS_SESSION_TOKEN":                "",
		"AWS_PROFILE":                      "",
		"AWS_REGION":                       testRegion,
		"AWS_DEFAULT_REGION":               "",
		"AWS_ENDPOINT_URL":                 "",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL,
		"AWS_MAX_ATTEMPTS":                 "1",
		secrets.EnvSecretID:                "",
		secrets.EnvSecretFile:              "",
		secrets.EnvSecretJSON:              "",
		secrets.EnvExtensionPort:           "",
		secrets.EnvBootstrapServers:        "",
	} {
		t.Setenv(k, v)
	}
}

// The default: KAFKA_SECRET_ID alone reads Secrets Manager with the real
// SDK client made from the default AWS configuration.
func TestFromEnvSecretsManager(t *testing.T) {
	srv := secretstest.NewServer(t, map[string]string{"kafka/prod": fromEnvSecret})
	isolateAWSConfig(t, srv)
	t.Setenv(secrets.EnvSecretID, "kafka/prod")

	l, err := secrets.FromEnv(t.Context(), fastRetry())
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if !strings.Contains(l.String(), "source: secretsmanager") {
		t.Errorf("loader = %s, want the secretsmanager source", l)
	}
	cfg, err := l.KafkaConfig(t.Context())
	if err != nil {
		t.Fatalf("KafkaConfig: %v", err)
	}
	if cfg["sasl.password"] != "fromenv-pass-7f1" || cfg["bootstrap.servers"] != "b1:9092" {
		t.Errorf("KafkaConfig = %v", secrets.Redact(cfg))
	}
	if n := srv.Calls(secretstest.OpGetSecretValue); n != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", n)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0].AccessKeyID != testAccessKey || reqs[0].Region != testRegion {
		t.Errorf("requests = %+v, want signed with %s in %s (the default AWS configuration)", reqs, testAccessKey, testRegion)
	}

	// A secret that does not exist: the SDK's error, classified.
	t.Setenv(secrets.EnvSecretID, "kafka/missing")
	l, err = secrets.FromEnv(t.Context(), fastRetry())
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if _, err := l.KafkaConfig(t.Context()); !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "kafka/missing") {
		t.Errorf("KafkaConfig of a missing secret = %v, want ErrNotFound naming it", err)
	}
}

// With no region in the environment FromEnv fails at once, not at the
// first fetch.
func TestFromEnvNoRegion(t *testing.T) {
	srv := secretstest.NewServer(t, nil)
	isolateAWSConfig(t, srv)
	t.Setenv("AWS_REGION", "")
	t.Setenv(secrets.EnvSecretID, "kafka/prod")
	_, err := secrets.FromEnv(t.Context())
	if !errors.Is(err, secrets.ErrInvalidOption) || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("FromEnv without a region = %v, want ErrInvalidOption naming AWS_REGION", err)
	}
}

// The other sources are chosen through the variables alone, read with
// WithLookupEnv.
func TestFromEnvSources(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{"kafka/prod": fromEnvSecret})
	path := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(path, []byte(fromEnvSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    []string
		source string
		id     string
	}{
		{"json", []string{secrets.EnvSecretJSON, fromEnvSecret}, "env", "env:" + secrets.EnvSecretJSON},
		{"file", []string{secrets.EnvSecretFile, path}, "file", "file:" + path},
		{"extension", []string{secrets.EnvSecretID, "kafka/prod", secrets.EnvExtensionPort, srv.Port(), secrets.EnvSessionToken, srv.SessionToken()}, "extension", "kafka/prod"},
		{"empty variables count as unset", []string{secrets.EnvSecretID, "", secrets.EnvSecretFile, "", secrets.EnvSecretJSON, fromEnvSecret}, "env", "env:" + secrets.EnvSecretJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := secrets.FromEnv(t.Context(), secrets.WithLookupEnv(env(tt.env...)), fastRetry())
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if !strings.Contains(l.String(), "source: "+tt.source) || l.SecretID() != tt.id {
				t.Errorf("loader = %s, want source %s, secret %s", l, tt.source, tt.id)
			}
			reg, err := l.Registry(t.Context())
			if err != nil || reg.URL != "https://sr.example.com" {
				t.Errorf("Registry = %+v, %v", reg, err)
			}
		})
	}
	if n := srv.Calls(secretstest.OpExtensionGet); n != 1 {
		t.Errorf("extension calls = %d, want 1", n)
	}
}

func TestFromEnvInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		opts []secrets.LoaderOption
		want []string // in the message
	}{
		{"none set", nil, nil, []string{secrets.EnvSecretID, secrets.EnvSecretFile, secrets.EnvSecretJSON, secrets.EnvExtensionPort}},
		{"two set", []string{secrets.EnvSecretID, "kafka/prod", secrets.EnvSecretJSON, "{}"}, nil, []string{secrets.EnvSecretID, secrets.EnvSecretJSON, "exactly one"}},
		{"a source option", []string{secrets.EnvSecretJSON, "{}"}, []secrets.LoaderOption{secrets.WithFile("x.json")}, []string{"WithFile", "New"}},
		{"a bad extension port", []string{secrets.EnvSecretID, "kafka/prod", secrets.EnvExtensionPort, "http"}, nil, []string{secrets.EnvExtensionPort}},
		{"a bad option", []string{secrets.EnvSecretJSON, "{}"}, []secrets.LoaderOption{secrets.WithTTL(-1)}, []string{"WithTTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]secrets.LoaderOption{secrets.WithLookupEnv(env(tt.env...))}, tt.opts...)
			l, err := secrets.FromEnv(context.Background(), opts...)
			if !errors.Is(err, secrets.ErrInvalidOption) || l != nil {
				t.Fatalf("FromEnv = %v, %v; want ErrInvalidOption", l, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}
