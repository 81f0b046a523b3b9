package secrets_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
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

// optionSnippet is a file that calls the constructors: the case's code goes
// on line optionSnippetLine.
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

var optionSnippetLine = strings.Count(optionSnippet[:strings.Index(optionSnippet, "%s")], "\n") + 1

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
	tests := []struct {
		name, code string
		reject     string // "" when the code compiles, else a word of the compiler's message
	}{
		{"New takes the loader options and the common ones", `_, _ = secrets.New(` + loaderOnly + `, ` + both + `)`, ""},
		{"NewMSKIAM takes the MSK options and the common ones", `_, _ = secrets.NewMSKIAM(` + mskOnly + `, ` + both + `)`, ""},
		{"option slices", `_, _ = secrets.New(append(lopts, secrets.WithLogger(nil))...); _, _ = secrets.NewMSKIAM(append(mopts, secrets.WithLogger(nil))...)`, ""},
		{"a nil option compiles", `_, _ = secrets.New(nil); _, _ = secrets.NewMSKIAM(nil)`, ""},

		{"New refuses WithRegion", `_, _ = secrets.New(secrets.WithEnv("E"), secrets.WithRegion("r"))`, "applyLoader"},
		{"New refuses WithCredentials", `_, _ = secrets.New(secrets.WithEnv("E"), secrets.WithCredentials(nil))`, "applyLoader"},
		{"NewMSKIAM refuses WithTTL", `_, _ = secrets.NewMSKIAM(secrets.WithTTL(time.Minute))`, "applyMSK"},
		{"NewMSKIAM refuses a source", `_, _ = secrets.NewMSKIAM(secrets.WithEnv("E"))`, "applyMSK"},
		{"NewMSKIAM refuses WithHTTPClient", `_, _ = secrets.NewMSKIAM(secrets.WithHTTPClient(nil))`, "applyMSK"},
		{"NewMSKIAM refuses WithRetry", `_, _ = secrets.NewMSKIAM(secrets.WithRetry(secrets.RetryPolicy{}))`, "applyMSK"},
		{"a loader option is no Option", `var o secrets.Option = secrets.WithFile("f"); _ = o`, "applyMSK"},
		{"an Option slice is no LoaderOption slice", `_, _ = secrets.New(opts...)`, "LoaderOption"},
		{"LoaderOption is sealed", `_, _ = secrets.New(mine{})`, "applyLoader"},
		{"MSKOption is sealed", `_, _ = secrets.NewMSKIAM(mine{})`, "applyMSK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := c.Check(t, strings.Replace(optionSnippet, "%s", tt.code, 1))
			if tt.reject == "" {
				if len(errs) > 0 {
					t.Fatalf("%s\ndoes not compile: %v", tt.code, errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Line != optionSnippetLine || !strings.Contains(errs[0].Msg, tt.reject) {
				t.Fatalf("%s\ngot errors %v; want one, on line %d, naming %s", tt.code, errs, optionSnippetLine, tt.reject)
			}
		})
	}
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
