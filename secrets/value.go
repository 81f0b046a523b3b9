package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
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

// IsSensitive reports whether the values of key are secrets. It errs on
// the side of redaction: compared without regard to case, a key is
// sensitive when it ends in one of the words that name a secret (password,
// passwd, pwd, secret, passphrase, token, credential, credentials), in
// key.pem, private.key, secret.key, secret.access.key (or their forms with
// "_"), or in user.info, userinfo, user_info, jaas.config or
// oauthbearer.config. That covers librdkafka's secret properties
// (sasl.password, ssl.key.pem, sasl.oauthbearer.client.secret, …), the
// Schema Registry's (basic.auth.user.info), the ESM's password, and the
// copies of them that plugins and interceptors read
// (confluent.monitoring.interceptor.sasl.password), which reach the
// ConfigMap when plugin.library.paths is set.
func IsSensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitiveSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// sensitiveSuffixes are the endings of the keys [IsSensitive] reports, in
// lower case. Matching a bare suffix, not a dotted part, also catches
// client_secret, clientSecret and sasl-password.
var sensitiveSuffixes = [...]string{
	"password", "passwd", "pwd", "secret", "passphrase", "token",
	"credential", "credentials",
	"key.pem", "private.key", "private_key", "secret.key", "secret_key",
	"secret.access.key", "secret_access_key",
	"user.info", "userinfo", "user_info",
	"jaas.config", "oauthbearer.config",
}

// Redact returns a copy of m safe to log or print: the values of sensitive
// keys (see [IsSensitive]), in m and in its default.topic.config, are
// replaced by [Redacted]. The ConfigMaps that [Loader.KafkaConfig] returns
// hold sasl.password in clear text, because librdkafka needs it so; never
// log them without Redact.
func Redact(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case IsSensitive(k):
			out[k] = Redacted
		case k == "default.topic.config":
			if sub, ok := v.(map[string]any); ok {
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

// UnmarshalJSON sets the secret from a JSON string, so that a field of the
// settings [App] decodes can be a Value. Anything else is an error that
// does not quote the input.
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("secrets.Value: want a JSON string")
	}
	v.s = s
	return nil
}
