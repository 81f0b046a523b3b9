package secrets

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error this package returns is an [*Error] that
// matches at most one of these with errors.Is. No error text ever contains a
// secret value: messages name the secret (its id: name, ARN, file path or
// environment variable name) and the key, never what the key holds.
var (
	// ErrNotFound: the secret does not exist (ResourceNotFoundException, an
	// extension 404, a missing file or an unset environment variable).
	ErrNotFound = errors.New("secret not found")

	// ErrAccessDenied: the caller may not read the secret
	// (AccessDeniedException, DecryptionFailure from KMS, an extension
	// 401/403, an unreadable file), or AWS credentials for MSK IAM are
	// missing.
	ErrAccessDenied = errors.New("access denied")

	// ErrThrottled: the source kept throttling (ThrottlingException, HTTP
	// 429) after retries with backoff until the context deadline or the
	// attempt limit.
	ErrThrottled = errors.New("throttled")

	// ErrUnavailable: the source could not be reached or failed on its side
	// (network errors, HTTP 5xx, an extension that is not ready yet, an
	// answer that is not the expected JSON). Retried like ErrThrottled.
	ErrUnavailable = errors.New("source unavailable")

	// ErrMalformed: the secret is not a JSON object of strings, numbers and
	// booleans, or a key holds a value of the wrong form (sasl.jaas.config,
	// basic.auth.user.info, duplicate keys, conflicting keys).
	ErrMalformed = errors.New("malformed secret")

	// ErrMissingKey: a key the mapping needs is absent (bootstrap.servers
	// with no fallback, schema.registry.url for Registry, the password that
	// goes with a username, sasl.mechanism for a SCRAM login module).
	ErrMissingKey = errors.New("missing key")

	// ErrUnknownKey: the secret holds keys librdkafka does not know. The
	// error also matches [*UnknownKeysError], which lists them.
	ErrUnknownKey = errors.New("unknown librdkafka key")

	// ErrInvalidOption: a constructor was given a bad or conflicting option.
	ErrInvalidOption = errors.New("invalid option")
)

// Error is the error type of this package. It names the secret and, when
// the error is about one key, the key; it never holds a secret value.
//
// Err wraps one sentinel above (so errors.Is works) and, where there is one,
// the underlying cause: an AWS SDK error, a context error, an *os.PathError,
// or an [*UnknownKeysError].
type Error struct {
	// Op is what failed: "fetch", "parse", "kafka config", "registry",
	// "msk iam token", "new".
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

// UnknownKeysError lists the secret's keys that librdkafka (the version
// bundled with confluent-kafka-go, see [LibrdkafkaVersion]) does not accept.
// It matches [ErrUnknownKey].
type UnknownKeysError struct {
	Keys []string // sorted
}

func (e *UnknownKeysError) Error() string {
	quoted := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		quoted[i] = strconv.Quote(k)
	}
	return ErrUnknownKey.Error() + "s (librdkafka " + LibrdkafkaVersion + "): " + strings.Join(quoted, ", ")
}

// Unwrap returns [ErrUnknownKey].
func (e *UnknownKeysError) Unwrap() error { return ErrUnknownKey }

func newError(op, id, key string, err error) *Error {
	return &Error{Op: op, SecretID: id, Key: key, Err: err}
}
