package secrets

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Redacted is what a [Value] prints, logs and marshals as.
const Redacted = "[REDACTED]"

// Value holds a secret string (a password, an API secret). Every way of
// printing it redacts: String, GoString, Format (every verb and flag:
// %v %+v %#v %s %q %x %X %d …), LogValue (log/slog) and MarshalJSON /
// MarshalText give [Redacted]. Only [Value.Reveal] returns the secret, so a
// leak needs an explicit call that reviewers can find.
//
// The zero Value is an empty secret. Values are immutable and safe to copy
// and to use from many goroutines.
type Value struct {
	s string
}

// NewValue wraps s.
func NewValue(s string) Value { return Value{s: s} }

// Reveal returns the secret. Pass it only to what needs it (a client
// library), never to a logger or an error.
func (v Value) Reveal() string { return v.s }

// IsZero reports whether the secret is empty.
func (v Value) IsZero() bool { return v.s == "" }

// String returns [Redacted].
func (Value) String() string { return Redacted }

// GoString returns `secrets.Value("[REDACTED]")`.
func (Value) GoString() string { return `secrets.Value("` + Redacted + `")` }

// Format writes [Redacted] for every verb and flag: %q quotes it and %#v
// writes the GoString form; width and precision are ignored so they cannot
// hint at the length.
func (v Value) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(Redacted))
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, v.GoString())
	default:
		_, _ = io.WriteString(f, Redacted)
	}
}

// LogValue implements slog.LogValuer: the value logs as [Redacted].
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (Value) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(Redacted)), nil }

// MarshalText returns [Redacted].
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// IsSensitive reports whether the values of key are secrets (sasl.password,
// ssl.key.pem, basic.auth.user.info, …).
func IsSensitive(key string) bool {
	switch key {
	case "sasl.password",
		"sasl.jaas.config",
		"sasl.oauthbearer.config",
		"sasl.oauthbearer.client.secret",
		"sasl.oauthbearer.client.credentials.client.secret",
		"sasl.oauthbearer.assertion.private.key.passphrase",
		"sasl.oauthbearer.assertion.private.key.pem",
		"ssl.key.password",
		"ssl.key.pem",
		"ssl.keystore.password",
		"basic.auth.user.info",
		"schema.registry.basic.auth.user.info",
		"password":
		return true
	}
	return false
}

// Redact returns a copy of m safe to log or print: the values of sensitive
// keys (see [IsSensitive]) are replaced by [Redacted]. The ConfigMaps that
// [Loader.KafkaConfig] returns hold sasl.password in clear text, because
// librdkafka needs it so; never log them without Redact.
func Redact(m kafka.ConfigMap) kafka.ConfigMap {
	out := make(kafka.ConfigMap, len(m))
	for k, v := range m {
		switch {
		case IsSensitive(k):
			out[k] = Redacted
		case k == "default.topic.config":
			if sub, ok := v.(kafka.ConfigMap); ok {
				out[k] = Redact(sub)
				continue
			}
			out[k] = v
		default:
			out[k] = v
		}
	}
	return out
}
