package secrets_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// ptrClient has a pointer receiver: a nil *ptrClient is a non-nil
// GetSecretValueAPIClient that panics when called.
type ptrClient struct {
	out *secretsmanager.GetSecretValueOutput
}

func (c *ptrClient) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return c.out, nil
}

// funcClient adapts a func; a nil funcClient is a non-nil interface too.
type funcClient func(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)

func (f funcClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return f(ctx, in, opts...)
}

// An interface, func or pointer option holding a nil that would only
// panic at the first fetch, token or log line is refused by the
// constructor, like an untyped nil.
func TestTypedNilOptionsAreRejected(t *testing.T) {
	t.Parallel()
	mskEnv := secrets.WithLookupEnv(env(secrets.EnvBootstrapServers, "b:9098", secrets.EnvRegion, "us-east-1"))
	loader := func(opts ...secrets.Option) error {
		_, err := secrets.New(opts...)
		return err
	}
	msk := func(opts ...secrets.Option) error {
		_, err := secrets.NewMSKIAM(append(opts, mskEnv)...)
		return err
	}
	tests := []struct {
		name string
		make func() error
	}{
		{"nil *secretsmanager.Client", func() error {
			return loader(secrets.WithSecretsManager((*secretsmanager.Client)(nil), "x"))
		}},
		{"nil pointer client of another type", func() error { return loader(secrets.WithSecretsManager((*ptrClient)(nil), "x")) }},
		{"nil func client", func() error { return loader(secrets.WithSecretsManager(funcClient(nil), "x")) }},
		{"nil *StaticCredentialsProvider", func() error {
			return msk(secrets.WithCredentials((*credentials.StaticCredentialsProvider)(nil)))
		}},
		{"nil *CredentialsCache", func() error { return msk(secrets.WithCredentials((*aws.CredentialsCache)(nil))) }},
		{"nil CredentialsProviderFunc", func() error { return msk(secrets.WithCredentials(aws.CredentialsProviderFunc(nil))) }},
		{"zero slog.Logger (no handler)", func() error { return loader(secrets.WithEnv("X"), secrets.WithLogger(&slog.Logger{})) }},
		{"logger with a nil handler pointer", func() error {
			return loader(secrets.WithEnv("X"), secrets.WithLogger(slog.New((*slog.JSONHandler)(nil))))
		}},
		{"MSK logger with a nil handler pointer", func() error {
			return msk(secrets.WithLogger(slog.New((*slog.TextHandler)(nil))))
		}},
		{"HTTP client with a nil transport pointer", func() error {
			return loader(secrets.WithExtension("x"), secrets.WithHTTPClient(&http.Client{Transport: (*http.Transport)(nil)}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, tt.make(), secrets.ErrInvalidOption, "")
		})
	}
}

// The nil check does not refuse what works: a nil *slog.Logger means the
// default (no logging), and an http.Client without a Transport uses
// http.DefaultTransport.
func TestNilMeaningDefaultIsAccepted(t *testing.T) {
	t.Parallel()
	if _, err := secrets.New(secrets.WithEnv("X"), secrets.WithLogger(nil)); err != nil {
		t.Errorf("WithLogger(nil): %v", err)
	}
	if _, err := secrets.New(secrets.WithExtension("x"), secrets.WithHTTPClient(&http.Client{})); err != nil {
		t.Errorf("WithHTTPClient(&http.Client{}): %v", err)
	}
}
