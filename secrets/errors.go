package secrets

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
)

// Sentinel errors. Every error this package returns is an [*Error] that
// matches at most one of these with errors.Is. No error text ever contains a
// secret value: messages name the secret (its id: name, ARN, file path or
// environment variable name) and the key, never what the key holds. Each
// sentinel's failure class ([Error.FailureClass]) is given with it.
var (
	// ErrNotFound: the secret does not exist (ResourceNotFoundException, an
	// extension 404, a missing file or an unset environment variable).
	// Class: configuration.
	ErrNotFound = errors.New("secret not found")

	// ErrAccessDenied: the caller may not read the secret
	// (AccessDeniedException, DecryptionFailure from KMS, an extension
	// 401/403, an unreadable file), or AWS credentials for MSK IAM are
	// missing. Class: configuration.
	ErrAccessDenied = errors.New("access denied")

	// ErrThrottled: the source kept throttling (ThrottlingException, HTTP
	// 429) after retries with backoff until the context deadline or the
	// attempt limit. Class: environment.
	ErrThrottled = errors.New("throttled")

	// ErrUnavailable: the source could not be reached or failed on its side
	// (network errors, HTTP 5xx, an extension that is not ready yet, an
	// answer that is not the expected JSON). Retried like ErrThrottled.
	// Class: environment.
	ErrUnavailable = errors.New("source unavailable")

	// ErrMalformed: the secret is not a JSON object of strings, numbers and
	// booleans, or a key holds a value of the wrong form (sasl.jaas.config,
	// basic.auth.user.info, duplicate keys, conflicting keys). Class:
	// configuration.
	ErrMalformed = errors.New("malformed secret")

	// ErrMissingKey: a key the mapping needs is absent (bootstrap.servers
	// with no fallback, schema.registry.url for Registry, the password that
	// goes with a username, sasl.mechanism for a SCRAM login module).
	// Class: configuration.
	ErrMissingKey = errors.New("missing key")

	// ErrUnknownKey: the secret holds keys librdkafka does not know. The
	// error also matches [*UnknownKeysError], which lists them. Class:
	// configuration.
	ErrUnknownKey = errors.New("unknown librdkafka key")

	// ErrInvalidOption: a constructor was given a bad or conflicting option
	// (a nil, or typed-nil, client, credentials provider or logger
	// included). Class: configuration. It is the same sentinel as
	// kafkalambda.ErrInvalidOption: every package of the module exports it
	// under this name, so one errors.Is check covers them all.
	ErrInvalidOption = invalid.ErrOption
)

// Error is the error type of this package. It names the secret and, when
// the error is about one key, the key; it never holds a secret value.
//
// Err wraps one sentinel above (so errors.Is works) and, where there is one,
// the underlying cause: an AWS SDK error, a context error, an *os.PathError,
// or an [*UnknownKeysError]. A fetch cut short by its context, or refused
// with an AWS error code this package does not map, wraps no sentinel.
// [Error.FailureClass] classifies every Error either way.
type Error struct {
	// Op is what failed: "fetch", "parse", "kafka config", "registry",
	// "msk iam token", "new", "app".
	Op string
	// SecretID is the secret's name or ARN, "file:<path>", "env:<NAME>", or
	// "" where no secret is involved (MSK IAM, options).
	SecretID string
	// Key is the key concerned, or "" when the error is about the whole
	// secret.
	Key string
	// Err is the wrapped cause.
	Err error
}

// Error formats as `secrets: <op> "<secret id>": key "<key>": <cause>`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("secrets: ")
	b.WriteString(e.Op)
	if e.SecretID != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(e.SecretID))
	}
	if e.Key != "" {
		b.WriteString(": key ")
		b.WriteString(strconv.Quote(e.Key))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// The failure classes [Error.FailureClass] returns.
const (
	// FailureEnvironment: the environment's fault, transient. Retry later
	// (the batch, the invocation); the configuration is not known to be
	// wrong.
	FailureEnvironment = "environment"
	// FailureConfiguration: the operator's fault. Retrying the same call
	// will not help until the secret, its permissions or the options are
	// fixed: fail loudly, at INIT where possible.
	FailureConfiguration = "configuration"
)

// FailureClass returns [FailureEnvironment] or [FailureConfiguration], never
// anything else:
//
//   - FailureEnvironment when the error matches [ErrThrottled],
//     [ErrUnavailable], context.DeadlineExceeded or context.Canceled (a
//     fetch the context cut short);
//   - FailureConfiguration for everything else: [ErrNotFound],
//     [ErrAccessDenied], [ErrMalformed], [ErrMissingKey], [ErrUnknownKey],
//     [ErrInvalidOption], and a cause this package does not recognise (an
//     AWS error code outside its table, such as InvalidRequestException for
//     a secret scheduled for deletion).
//
// So a failure is environmental exactly when the loader itself would retry
// it (see [RetryPolicy]) or when the caller's context ended. The method is a
// convention shared across packages: kafkalambda, which does not import
// this package, classifies any error whose chain (errors.As) holds a value
// with a FailureClass() string method. See the table in the package doc,
// "Failure classes".
func (e *Error) FailureClass() string {
	if errors.Is(e, ErrThrottled) || errors.Is(e, ErrUnavailable) ||
		errors.Is(e, context.DeadlineExceeded) || errors.Is(e, context.Canceled) {
		return FailureEnvironment
	}
	return FailureConfiguration
}

// UnknownKeysError lists the secret's keys that librdkafka (the version
// bundled with the confluent-kafka-go in go.mod, which Error names) does
// not accept. It matches [ErrUnknownKey].
type UnknownKeysError struct {
	Keys []string // sorted
}

func (e *UnknownKeysError) Error() string {
	quoted := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		quoted[i] = strconv.Quote(k)
	}
	return ErrUnknownKey.Error() + "s (librdkafka " + librdkafkaVersion + "): " + strings.Join(quoted, ", ")
}

// Unwrap returns [ErrUnknownKey].
func (e *UnknownKeysError) Unwrap() error { return ErrUnknownKey }

func newError(op, id, key string, err error) *Error {
	return &Error{Op: op, SecretID: id, Key: key, Err: err}
}
