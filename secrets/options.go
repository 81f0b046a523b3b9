package secrets

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Environment variables this package reads (through [WithLookupEnv], which
// defaults to os.LookupEnv). See the package doc, "Environment variables".
const (
	// EnvBootstrapServers is the fallback for bootstrap.servers when the
	// secret has none (the ESM's BASIC_AUTH secret holds only username and
	// password), and the bootstrap servers of [NewMSKIAM]. Read by [New] and
	// [NewMSKIAM] unless [WithBootstrapServers] is given.
	EnvBootstrapServers = "KAFKA_BOOTSTRAP_SERVERS"

	// EnvSessionToken is sent to the Parameters and Secrets Lambda Extension
	// in the X-Aws-Parameters-Secrets-Token header. Lambda sets it. Read on
	// every extension fetch.
	EnvSessionToken = "AWS_SESSION_TOKEN"

	// EnvExtensionPort is the extension's HTTP port (default 2773), the
	// variable the extension itself reads. Read by [New] with
	// [WithExtension].
	EnvExtensionPort = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"

	// EnvRegion and EnvDefaultRegion give the region of the MSK cluster for
	// IAM tokens when [WithRegion] is not used; Lambda sets AWS_REGION. Read
	// by [NewMSKIAM].
	EnvRegion        = "AWS_REGION"
	EnvDefaultRegion = "AWS_DEFAULT_REGION"
)

// Defaults the options override.
const (
	// DefaultTTL is how long a fetched secret is served from memory. It
	// matches the extension's own default (SECRETS_MANAGER_TTL, 300 s).
	DefaultTTL = 5 * time.Minute
	// DefaultExtensionPort is the extension's default port.
	DefaultExtensionPort = 2773
	// DefaultExtensionTimeout bounds one request to the extension when the
	// context has no earlier deadline.
	DefaultExtensionTimeout = 10 * time.Second
)

// RetryPolicy says how a fetch that failed with [ErrThrottled] or
// [ErrUnavailable] is retried: exponential backoff with equal jitter (each
// wait is random between half and all of BaseDelay doubled per attempt,
// capped at MaxDelay), never past the context deadline (a retry whose
// backoff would end after the deadline is not attempted). Zero fields take
// the defaults. Other errors (not found, access denied, malformed) are never
// retried.
//
// The AWS SDK client retries throttling by itself too (its standard retryer,
// 3 attempts); each attempt here is one SDK call with its own retries.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, the first included; default 4
	BaseDelay   time.Duration // backoff before the second attempt, doubled each time; default 100ms
	MaxDelay    time.Duration // backoff cap; default 2s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 100 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 2 * time.Second
	}
	return p
}

// LoaderOption configures [New] (a [Loader]); MSKOption configures
// [NewMSKIAM]; an Option configures both. Each option returns the type of
// the constructors it applies to, so giving one to the other constructor
// does not compile; a bad value is an [ErrInvalidOption] error from the
// constructor. A nil option is ignored.
//
// The three are sealed: only this package implements them.
type LoaderOption interface {
	applyLoader(*settings) error
}

// MSKOption configures [NewMSKIAM]; see [LoaderOption].
type MSKOption interface {
	applyMSK(*settings) error
}

// Option configures both [New] and [NewMSKIAM]; see [LoaderOption].
type Option interface {
	LoaderOption
	MSKOption
}

// loaderOption applies to New only.
type loaderOption func(*settings) error

func (o loaderOption) applyLoader(s *settings) error { return o(s) }

// mskOption applies to NewMSKIAM only.
type mskOption func(*settings) error

func (o mskOption) applyMSK(s *settings) error { return o(s) }

// bothOption applies to New and NewMSKIAM.
type bothOption func(*settings) error

func (o bothOption) applyLoader(s *settings) error { return o(s) }
func (o bothOption) applyMSK(s *settings) error    { return o(s) }

// settings collects the options before a constructor validates them.
type settings struct {
	source      func(*settings) (source, error) // set by a source option
	sourceName  string
	ttl         time.Duration
	logger      *slog.Logger
	bootstrap   string // from WithBootstrapServers, else KAFKA_BOOTSTRAP_SERVERS
	lookupEnv   func(string) (string, bool)
	retry       RetryPolicy
	httpClient  *http.Client
	region      string
	credentials aws.CredentialsProvider
}

func defaultSettings() *settings {
	return &settings{ttl: DefaultTTL, lookupEnv: os.LookupEnv}
}

// loaderSettings applies the options of New over the defaults.
func loaderSettings(opts []LoaderOption) (*settings, error) {
	return applyOptions(opts, LoaderOption.applyLoader)
}

// mskSettings applies the options of NewMSKIAM over the defaults.
func mskSettings(opts []MSKOption) (*settings, error) {
	return applyOptions(opts, MSKOption.applyMSK)
}

// applyOptions applies opts over the defaults with apply, skipping nil
// options, and fills in what they left unset.
func applyOptions[O comparable](opts []O, apply func(O, *settings) error) (*settings, error) {
	st := defaultSettings()
	var none O
	for _, o := range opts {
		if o == none {
			continue
		}
		if err := apply(o, st); err != nil {
			return nil, err
		}
	}
	return st.finish(), nil
}

// finish fills in what the options left unset.
func (st *settings) finish() *settings {
	if st.logger == nil {
		st.logger = slog.New(slog.DiscardHandler)
	}
	if st.bootstrap == "" { // WithBootstrapServers refuses ""
		st.bootstrap, _ = st.lookupEnv(EnvBootstrapServers)
	}
	st.retry = st.retry.withDefaults()
	return st
}

func optionError(name, msg string) error {
	if name != "" {
		msg = name + ": " + msg
	}
	return newError("new", "", "", fmt.Errorf("%w: %s", ErrInvalidOption, msg))
}

// isNil reports whether v is nil or holds a nil pointer, func or channel:
// an interface value that is not == nil but panics (or blocks) when used.
// Options check their interface arguments with it once, in the
// constructor, so that a typed nil fails there with ErrInvalidOption and
// not at the first fetch, token or log line.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

func setSource(name string, make func(*settings) (source, error)) LoaderOption {
	return loaderOption(func(s *settings) error {
		if s.source != nil {
			return optionError(name, "a source is already chosen by "+s.sourceName)
		}
		s.source, s.sourceName = make, name
		return nil
	})
}

// WithSecretsManager reads the secret secretID (name or ARN) with client, a
// *secretsmanager.Client or anything with its GetSecretValue method. The
// client's region, credentials, endpoint and retryer are the caller's. A nil
// client, or one holding a nil pointer or func (a nil *secretsmanager.Client
// passed as the interface), is an [ErrInvalidOption] error. Applies to
// [New]; one source option is required.
func WithSecretsManager(client GetSecretValueAPIClient, secretID string) LoaderOption {
	return setSource("WithSecretsManager", func(*settings) (source, error) {
		if isNil(client) {
			return nil, optionError("WithSecretsManager", "nil client")
		}
		if secretID == "" {
			return nil, optionError("WithSecretsManager", "empty secret id")
		}
		return &smSource{client: client, secretID: secretID}, nil
	})
}

// WithExtension reads the secret secretID (name or ARN) through the AWS
// Parameters and Secrets Lambda Extension: GET
// http://localhost:<port>/secretsmanager/get?secretId=<id> with the
// X-Aws-Parameters-Secrets-Token header set from AWS_SESSION_TOKEN. The
// port comes from PARAMETERS_SECRETS_EXTENSION_HTTP_PORT (default 2773),
// read once by [New]. The extension caches too (its SECRETS_MANAGER_TTL,
// default 300 s), so a rotation can take both TTLs to show. Applies to
// [New].
func WithExtension(secretID string) LoaderOption {
	return setSource("WithExtension", func(s *settings) (source, error) {
		if secretID == "" {
			return nil, optionError("WithExtension", "empty secret id")
		}
		port := DefaultExtensionPort
		if v, ok := s.lookupEnv(EnvExtensionPort); ok && v != "" {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return nil, optionError("WithExtension", EnvExtensionPort+" is not a port number")
			}
			port = p
		}
		client := s.httpClient
		if client == nil {
			client = &http.Client{Timeout: DefaultExtensionTimeout}
		}
		return &extensionSource{
			secretID:  secretID,
			endpoint:  "http://localhost:" + strconv.Itoa(port) + "/secretsmanager/get",
			client:    client,
			lookupEnv: s.lookupEnv,
		}, nil
	})
}

// WithFile reads the secret's JSON from a file on every fetch (the cache
// applies), for local runs. Applies to [New].
func WithFile(path string) LoaderOption {
	return setSource("WithFile", func(*settings) (source, error) {
		if path == "" {
			return nil, optionError("WithFile", "empty path")
		}
		return &fileSource{path: path}, nil
	})
}

// WithEnv reads the secret's JSON from the environment variable name (for
// example KAFKA_SECRET_JSON) on every fetch, for local runs. Applies to
// [New].
func WithEnv(name string) LoaderOption {
	return setSource("WithEnv", func(s *settings) (source, error) {
		if name == "" {
			return nil, optionError("WithEnv", "empty variable name")
		}
		return &envSource{name: name, lookupEnv: s.lookupEnv}, nil
	})
}

// WithTTL sets how long a fetched secret is served from memory before the
// next read fetches it again; default [DefaultTTL] (5 minutes). Each entry
// expires up to 10% early, at random, so that many Lambda environments
// started together do not refresh together. d must be positive. Applies to
// [New].
func WithTTL(d time.Duration) LoaderOption {
	return loaderOption(func(s *settings) error {
		if d <= 0 {
			return optionError("WithTTL", "the TTL must be positive")
		}
		s.ttl = d
		return nil
	})
}

// WithRetry overrides the [RetryPolicy] for throttled or unavailable
// fetches. Applies to [New].
func WithRetry(p RetryPolicy) LoaderOption {
	return loaderOption(func(s *settings) error {
		if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 {
			return optionError("WithRetry", "negative value")
		}
		s.retry = p
		return nil
	})
}

// WithHTTPClient sets the HTTP client used to call the extension; default a
// client with a [DefaultExtensionTimeout] timeout. A nil client, or one
// whose Transport or Jar holds a nil pointer, is an [ErrInvalidOption]
// error (a nil Transport, meaning http.DefaultTransport, is fine). Applies
// to [New] with [WithExtension].
func WithHTTPClient(c *http.Client) LoaderOption {
	return loaderOption(func(s *settings) error {
		if c == nil {
			return optionError("WithHTTPClient", "nil client")
		}
		if (c.Transport != nil && isNil(c.Transport)) || (c.Jar != nil && isNil(c.Jar)) {
			return optionError("WithHTTPClient", "the client's Transport or Jar is a nil pointer")
		}
		s.httpClient = c
		return nil
	})
}

// WithBootstrapServers sets the bootstrap servers ("host:port,host:port")
// used when the secret has no bootstrap.servers, and by [NewMSKIAM]. It
// overrides KAFKA_BOOTSTRAP_SERVERS. Applies to [New] and [NewMSKIAM].
func WithBootstrapServers(servers string) Option {
	return bothOption(func(s *settings) error {
		if servers == "" {
			return optionError("WithBootstrapServers", "empty server list")
		}
		s.bootstrap = servers
		return nil
	})
}

// WithLogger sets the logger; default none (a library never writes to the
// global logger), which a nil l also means. A logger without a handler (the
// zero slog.Logger, or slog.New of a nil handler pointer) is an
// [ErrInvalidOption] error. Logs never hold secret values. Applies to [New]
// and [NewMSKIAM].
func WithLogger(l *slog.Logger) Option {
	return bothOption(func(s *settings) error {
		if l != nil && isNil(l.Handler()) {
			return optionError("WithLogger", "the logger has no handler")
		}
		s.logger = l
		return nil
	})
}

// WithLookupEnv replaces os.LookupEnv for every environment variable this
// package reads, for tests and for programs that keep configuration
// elsewhere. Applies to [New] and [NewMSKIAM].
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return bothOption(func(s *settings) error {
		if lookup == nil {
			return optionError("WithLookupEnv", "nil function")
		}
		s.lookupEnv = lookup
		return nil
	})
}

// WithRegion sets the AWS region of the MSK cluster; default AWS_REGION,
// then AWS_DEFAULT_REGION. Applies to [NewMSKIAM].
func WithRegion(region string) MSKOption {
	return mskOption(func(s *settings) error {
		if region == "" {
			return optionError("WithRegion", "empty region")
		}
		s.region = region
		return nil
	})
}

// WithCredentials sets the AWS credentials that sign MSK IAM tokens; default
// the SDK's default chain (in Lambda: the function role, from the
// environment), loaded on the first token request. A nil provider, or one
// holding a nil pointer or func, is an [ErrInvalidOption] error. Applies to
// [NewMSKIAM].
func WithCredentials(p aws.CredentialsProvider) MSKOption {
	return mskOption(func(s *settings) error {
		if isNil(p) {
			return optionError("WithCredentials", "nil provider")
		}
		s.credentials = p
		return nil
	})
}
