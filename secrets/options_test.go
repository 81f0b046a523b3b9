package secrets_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafkalambda/kafka-lambda-go/internal/typecheck"
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
	loader := func(opts ...secrets.LoaderOption) error {
		_, err := secrets.New(opts...)
		return err
	}
	msk := func(opts ...secrets.MSKOption) error {
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

// optionSnippet is a file that calls the constructors: each case's code
// goes in place of its %s.
const optionSnippet = `package snippet

import (
	"time"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// mine tries to implement the sealed option interfaces from outside.
type mine struct{}

func (mine) applyLoader(*struct{}) error { return nil }
func (mine) applyMSK(*struct{}) error    { return nil }

var _, _ = time.Second, mine{}

func use(lopts []secrets.LoaderOption, mopts []secrets.MSKOption, opts []secrets.Option) {
	%s
}
`

// Each option compiles with the constructors it applies to (New, NewMSKIAM
// or both) and not with the other one, and the option interfaces cannot be
// implemented outside secrets.
func TestOptionsApplyOnlyWhereTheyCompile(t *testing.T) {
	t.Parallel()
	c := typecheck.New(t, "github.com/kafkalambda/kafka-lambda-go/secrets", "time")
	const (
		loaderOnly = `secrets.WithSecretsManager(nil, "id"), secrets.WithExtension("id"), secrets.WithFile("f"), secrets.WithEnv("E"), secrets.WithTTL(time.Minute), secrets.WithRetry(secrets.RetryPolicy{}), secrets.WithHTTPClient(nil)`
		mskOnly    = `secrets.WithRegion("r"), secrets.WithCredentials(nil)`
		both       = `secrets.WithBootstrapServers("b:9092"), secrets.WithLogger(nil), secrets.WithLookupEnv(nil)`
	)
	c.Run(t, optionSnippet, []typecheck.Case{
		{Name: "New takes the loader options and the common ones", Code: `_, _ = secrets.New(` + loaderOnly + `, ` + both + `)`},
		{Name: "NewMSKIAM takes the MSK options and the common ones", Code: `_, _ = secrets.NewMSKIAM(` + mskOnly + `, ` + both + `)`},
		{Name: "option slices", Code: `_, _ = secrets.New(append(lopts, secrets.WithLogger(nil))...); _, _ = secrets.NewMSKIAM(append(mopts, secrets.WithLogger(nil))...)`},
		{Name: "a nil option compiles", Code: `_, _ = secrets.New(nil); _, _ = secrets.NewMSKIAM(nil)`},

		{Name: "New refuses WithRegion", Code: `_, _ = secrets.New(secrets.WithEnv("E"), secrets.WithRegion("r"))`, Reject: "applyLoader"},
		{Name: "New refuses WithCredentials", Code: `_, _ = secrets.New(secrets.WithEnv("E"), secrets.WithCredentials(nil))`, Reject: "applyLoader"},
		{Name: "NewMSKIAM refuses WithTTL", Code: `_, _ = secrets.NewMSKIAM(secrets.WithTTL(time.Minute))`, Reject: "applyMSK"},
		{Name: "NewMSKIAM refuses a source", Code: `_, _ = secrets.NewMSKIAM(secrets.WithEnv("E"))`, Reject: "applyMSK"},
		{Name: "NewMSKIAM refuses WithHTTPClient", Code: `_, _ = secrets.NewMSKIAM(secrets.WithHTTPClient(nil))`, Reject: "applyMSK"},
		{Name: "NewMSKIAM refuses WithRetry", Code: `_, _ = secrets.NewMSKIAM(secrets.WithRetry(secrets.RetryPolicy{}))`, Reject: "applyMSK"},
		{Name: "a loader option is no Option", Code: `var o secrets.Option = secrets.WithFile("f"); _ = o`, Reject: "applyMSK"},
		{Name: "an Option slice is no LoaderOption slice", Code: `_, _ = secrets.New(opts...)`, Reject: "LoaderOption"},
		{Name: "LoaderOption is sealed", Code: `_, _ = secrets.New(mine{})`, Reject: "applyLoader"},
		{Name: "MSKOption is sealed", Code: `_, _ = secrets.NewMSKIAM(mine{})`, Reject: "applyMSK"},
	})
}

// A nil option is ignored, by both constructors.
func TestNilOptionIsIgnored(t *testing.T) {
	t.Parallel()
	if _, err := secrets.New(nil, secrets.WithEnv("X"), nil); err != nil {
		t.Errorf("New: %v", err)
	}
	lookup := secrets.WithLookupEnv(env(secrets.EnvBootstrapServers, "b:9098", secrets.EnvRegion, "us-east-1"))
	if _, err := secrets.NewMSKIAM(nil, lookup, nil); err != nil {
		t.Errorf("NewMSKIAM: %v", err)
	}
}
