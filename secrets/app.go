package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// App decodes the function's own settings from the secret's "app" member
// into a T (usually a struct with json tags). The Kafka and registry
// mappings ignore that member, so settings such as a risk limit or a
// partner's API key live next to the credentials instead of in environment
// variables:
//
//	{"bootstrap.servers": "…", "sasl.password": "…",
//	 "app": {"high_risk_cents": 500000, "partner_api_key": "…"}}
//
//	type Settings struct {
//		HighRiskCents int64         `json:"high_risk_cents"`
//		PartnerKey    secrets.Value `json:"partner_api_key"` // prints [REDACTED]
//	}
//	settings, err := secrets.App[Settings](ctx, loader)
//
// "app" must be a JSON object; inside it any JSON is allowed. It is
// decoded with encoding/json on every call, from the cached secret (the
// TTL and [Loader.Invalidate] apply, so a rotated secret gives new
// settings), strictly: a member that is not a field of T is an error, so
// that a misspelt setting is not silently left at its zero value. Give a
// field that holds a secret the type [Value], so that printing or logging
// the settings redacts it.
//
// Errors are [*Error]s, as for [Loader.KafkaConfig] when the secret cannot
// be fetched or parsed; ErrMissingKey when the secret has no "app" member;
// ErrMalformed, with Key naming the member ("app.high_risk_cents"), when a
// member has the wrong JSON type or is not a field of T. Like every error
// of this package they never quote a value: a type mismatch says which
// JSON kind met which Go type, and the error of a field's own
// UnmarshalJSON is not wrapped (it may quote what it was given).
func App[T any](ctx context.Context, l *Loader) (T, error) {
	var v T
	d, err := l.get(ctx)
	if err != nil {
		return v, err
	}
	if d.appErr != nil {
		return v, d.appErr
	}
	if d.app == nil {
		return v, newError("app", l.src.id(), keyApp, fmt.Errorf("%w: the secret has no %q object", ErrMissingKey, keyApp))
	}
	dec := json.NewDecoder(bytes.NewReader(d.app))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var zero T
		key, cause := appError(err, reflect.TypeOf(&v).Elem())
		return zero, newError("app", l.src.id(), key, cause)
	}
	return v, nil
}

// appError words a decoding error of App without the value: it names the
// member and, for a type mismatch, the JSON kind and the Go type.
func appError(err error, t reflect.Type) (key string, cause error) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		key = keyApp
		if te.Field != "" {
			key += "." + te.Field
		}
		kind, _, _ := strings.Cut(te.Value, " ") // "number 1.5": keep "number"
		return key, fmt.Errorf("%w: a JSON %s does not decode into %v", ErrMalformed, kind, te.Type)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		// The member's name comes from the secret's keys, never its values.
		return keyApp + "." + strings.Trim(name, `"`), fmt.Errorf("%w: not a field of %v", ErrMalformed, t)
	}
	return keyApp, fmt.Errorf("%w: does not decode into %v (the cause is not shown: it may quote the value)", ErrMalformed, t)
}
