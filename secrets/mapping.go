package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"slices"
	"strings"
)

// Keys with a meaning of their own; everything else is a librdkafka key.
const (
	keyBootstrap     = "bootstrap.servers"
	keyBrokerList    = "metadata.broker.list" // librdkafka's name; bootstrap.servers is its alias
	keyProtocol      = "security.protocol"
	keyMechanism     = "sasl.mechanism"
	keyMechanisms    = "sasl.mechanisms" // librdkafka's name; sasl.mechanism is its alias
	keyUsername      = "sasl.username"
	keyPassword      = "sasl.password"
	keyJAAS          = "sasl.jaas.config"
	keyPlugins       = "plugin.library.paths"
	keyESMUsername   = "username" // the ESM's BASIC_AUTH secret
	keyESMPassword   = "password"
	keyRegistryURL   = "schema.registry.url"
	keyUserInfo      = "basic.auth.user.info"
	keyRegUserInfo   = "schema.registry.basic.auth.user.info"
	keyCredSource    = "basic.auth.credentials.source"
	keyRegCredSource = "schema.registry.basic.auth.credentials.source"
	keyApp           = "app" // the function's own settings; see App
)

// preferredName maps each librdkafka property that has two names to the
// one this package emits: the name the Java client uses where there is one
// (bootstrap.servers, acks, linger.ms, …), else librdkafka's own. So each
// property appears once in a ConfigMap, under a predictable name that a
// caller merging its own defaults (acks, linger.ms) can rely on.
func preferredName(key string) string {
	switch key {
	case keyBrokerList:
		return keyBootstrap
	case keyMechanisms:
		return keyMechanism
	case "request.required.acks":
		return "acks"
	case "queue.buffering.max.ms":
		return "linger.ms"
	case "message.send.max.retries":
		return "retries"
	case "compression.codec":
		return "compression.type"
	case "message.timeout.ms":
		return "delivery.timeout.ms"
	case "max.in.flight":
		return "max.in.flight.requests.per.connection"
	case "fetch.message.max.bytes":
		return "max.partition.fetch.bytes"
	case "sasl.oauthbearer.client.credentials.client.id":
		return "sasl.oauthbearer.client.id"
	case "sasl.oauthbearer.client.credentials.client.secret":
		return "sasl.oauthbearer.client.secret"
	}
	return key
}

// document is one fetched secret, mapped to its two consumers. A mapping
// error of one side does not spoil the other: a secret with a typo in a
// registry key still yields a Kafka config.
type document struct {
	kafka       map[string]any // holds sasl.password in clear text: never log it
	kafkaErr    error
	app         json.RawMessage // the app object, nil when absent; never log it
	appErr      error           // the parse error, when the secret does not parse
	registry    Registry
	registryErr error
}

// fields are the top-level members of the secret; each value is a string, a
// bool or a json.Number.
type fields map[string]any

// parseDocument decodes and maps a secret. id names the secret in errors;
// bootstrap is the fallback for bootstrap.servers ("" for none).
func parseDocument(id string, data []byte, bootstrap string) *document {
	f, key, err := decodeFields(data)
	if err != nil {
		e := newError("parse", id, key, err)
		return &document{kafkaErr: e, registryErr: e, appErr: e}
	}
	d := &document{}
	d.app, _ = f[keyApp].(json.RawMessage)
	d.kafka, d.kafkaErr = mapKafka(id, f, bootstrap)
	d.registry, d.registryErr = mapRegistry(id, f)
	return d
}

// decodeFields reads a JSON object of scalars; on error it names the key
// concerned, if any. Syntax errors are reported by byte offset only:
// encoding/json's messages quote the offending character, which belongs to
// the secret, so they are not wrapped.
func decodeFields(data []byte) (fields, string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	syntax := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: not valid JSON (syntax error at byte offset %d)", ErrMalformed, se.Offset)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: not valid JSON (unexpected end at byte offset %d)", ErrMalformed, dec.InputOffset())
		}
		return fmt.Errorf("%w: not valid JSON (at byte offset %d)", ErrMalformed, dec.InputOffset())
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, "", syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, "", fmt.Errorf("%w: the secret must be a JSON object", ErrMalformed)
	}
	f := make(fields)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", syntax(err)
		}
		key, _ := tok.(string) // object keys are always strings
		tok, err = dec.Token()
		if err != nil {
			return nil, "", syntax(err)
		}
		if key == keyApp {
			// The function's own settings: any JSON object, kept as it is
			// for App. The token API does not hand out raw values, so
			// the object is read again from data by offset.
			if _, dup := f[key]; dup {
				return nil, key, fmt.Errorf("%w: the key appears twice", ErrMalformed)
			}
			d, ok := tok.(json.Delim)
			if !ok || d != '{' {
				return nil, key, fmt.Errorf("%w: must be a JSON object (the function's own settings)", ErrMalformed)
			}
			start := dec.InputOffset() - 1
			if err := skipValue(dec, 1); err != nil {
				return nil, "", syntax(err)
			}
			f[key] = json.RawMessage(data[start:dec.InputOffset()])
			continue
		}
		switch v := tok.(type) {
		case string, bool, json.Number:
			if _, dup := f[key]; dup {
				return nil, key, fmt.Errorf("%w: the key appears twice", ErrMalformed)
			}
			f[key] = v
		default: // nested object or array, or null
			return nil, key, fmt.Errorf("%w: the value must be a string, number or boolean", ErrMalformed)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, "", syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", fmt.Errorf("%w: data after the JSON object (byte offset %d)", ErrMalformed, dec.InputOffset())
	}
	return f, "", nil
}

// skipValue reads tokens until depth open objects and arrays are closed.
func skipValue(dec *json.Decoder, depth int) error {
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func (f fields) str(key string) (string, bool) {
	v, ok := f[key]
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// kafkaValue converts a JSON scalar to what map[string]any expects.
func kafkaValue(v any) any {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		return n.String() // librdkafka parses "0.5" for float properties itself
	}
	return v
}

// isRegistryKey and isESMKey name the keys that never go to librdkafka.
func isRegistryKey(k string) bool {
	switch k {
	case keyRegistryURL, keyUserInfo, keyRegUserInfo, keyCredSource, keyRegCredSource:
		return true
	}
	return false
}

func isESMKey(k string) bool { return k == keyESMUsername || k == keyESMPassword }

// mapKafka builds the producer ConfigMap; see the package doc, "Secret shape".
func mapKafka(id string, f fields, bootstrap string) (map[string]any, error) {
	fail := func(key string, err error) (map[string]any, error) {
		return nil, newError("kafka config", id, key, err)
	}
	_, plugins := f[keyPlugins]
	var unknown []string
	keys := slices.Sorted(maps.Keys(f))
	m := make(map[string]any, len(f)+4)
	from := make(map[string]string, len(f)) // emitted name → the secret's key
	for _, k := range keys {
		switch {
		case isRegistryKey(k), isESMKey(k), k == keyJAAS, k == keyApp:
			continue
		case !knownKafkaKey(k) && !plugins:
			// With plugin.library.paths set, plugins may define their own
			// properties: pass everything through and let librdkafka decide.
			unknown = append(unknown, k)
			continue
		}
		name, v := preferredName(k), kafkaValue(f[k])
		if prev, both := m[name]; both && fmt.Sprint(prev) != fmt.Sprint(v) {
			return fail(k, fmt.Errorf("%w: conflicts with %q (librdkafka treats them as one property)", ErrMalformed, from[name]))
		}
		m[name], from[name] = v, k
	}
	if len(unknown) > 0 {
		return fail("", &UnknownKeysError{Keys: unknown})
	}
	explicit := has(m, keyUsername) || has(m, keyPassword)

	// sasl.jaas.config, Java style.
	if j, ok := f[keyJAAS]; ok {
		s, _ := j.(string)
		login, err := parseJAAS(s)
		if err != nil {
			return fail(keyJAAS, fmt.Errorf("%w: %w", ErrMalformed, err))
		}
		for _, kv := range [][2]string{{keyUsername, login.username}, {keyPassword, login.password}} {
			if cur, ok := m[kv[0]]; ok && fmt.Sprint(cur) != kv[1] {
				return fail(kv[0], fmt.Errorf("%w: conflicts with the value in %q", ErrMalformed, keyJAAS))
			}
			m[kv[0]] = kv[1]
		}
		mech, hasMech := mechanism(m)
		switch {
		case login.mechanism == "PLAIN" && !hasMech:
			m[keyMechanism] = "PLAIN"
		case login.mechanism == "PLAIN" && !strings.EqualFold(mech, "PLAIN"),
			login.mechanism == "SCRAM" && hasMech && !strings.HasPrefix(strings.ToUpper(mech), "SCRAM-"):
			return fail(keyMechanism, fmt.Errorf("%w: does not match the login module in %q", ErrMalformed, keyJAAS))
		case login.mechanism == "SCRAM" && !hasMech:
			return fail(keyMechanism, fmt.Errorf("%w: a ScramLoginModule needs sasl.mechanism SCRAM-SHA-256 or SCRAM-SHA-512", ErrMissingKey))
		}
		defaultTo(m, keyProtocol, "SASL_SSL")
		explicit = true
	}

	// The ESM's BASIC_AUTH secret: {"username": "...", "password": "..."}.
	// Used only when nothing above set SASL credentials; otherwise the keys
	// are for the ESM alone and ignored here.
	user, hasUser := f.str(keyESMUsername)
	pass, hasPass := f.str(keyESMPassword)
	if !explicit && (hasUser || hasPass) {
		switch {
		case !hasUser:
			return fail(keyESMUsername, fmt.Errorf("%w: %q is set without it", ErrMissingKey, keyESMPassword))
		case !hasPass:
			return fail(keyESMPassword, fmt.Errorf("%w: %q is set without it", ErrMissingKey, keyESMUsername))
		}
		m[keyUsername], m[keyPassword] = user, pass
		defaultTo(m, keyProtocol, "SASL_SSL")
		if _, ok := mechanism(m); !ok {
			m[keyMechanism] = "PLAIN"
		}
	}

	switch {
	case has(m, keyUsername) && !has(m, keyPassword):
		return fail(keyPassword, fmt.Errorf("%w: %q is set without it", ErrMissingKey, keyUsername))
	case has(m, keyPassword) && !has(m, keyUsername):
		return fail(keyUsername, fmt.Errorf("%w: %q is set without it", ErrMissingKey, keyPassword))
	}
	if !has(m, keyBootstrap) {
		if bootstrap == "" {
			return fail(keyBootstrap, fmt.Errorf("%w: not in the secret, and no fallback (WithBootstrapServers or %s)", ErrMissingKey, EnvBootstrapServers))
		}
		m[keyBootstrap] = bootstrap
	}
	return m, nil
}

func has(m map[string]any, k string) bool {
	v, ok := m[k]
	return ok && fmt.Sprint(v) != ""
}

func defaultTo(m map[string]any, k, v string) {
	if !has(m, k) {
		m[k] = v
	}
}

func mechanism(m map[string]any) (string, bool) {
	if has(m, keyMechanism) {
		return fmt.Sprint(m[keyMechanism]), true
	}
	return "", false
}

// mapRegistry builds the Schema Registry settings.
func mapRegistry(id string, f fields) (Registry, error) {
	fail := func(key string, err error) (Registry, error) {
		return Registry{}, newError("registry", id, key, err)
	}
	var r Registry
	raw, ok := f.str(keyRegistryURL)
	if !ok || raw == "" {
		return fail(keyRegistryURL, ErrMissingKey)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// url.Parse errors quote the input, which may hold credentials.
		return fail(keyRegistryURL, fmt.Errorf("%w: not an http(s) URL", ErrMalformed))
	}
	for _, k := range []string{keyCredSource, keyRegCredSource} {
		if src, ok := f.str(k); ok && !strings.EqualFold(src, "USER_INFO") {
			return fail(k, fmt.Errorf("%w: only USER_INFO is supported", ErrMalformed))
		}
	}
	info, hasInfo := f.str(keyUserInfo)
	infoKey := keyUserInfo
	if alt, ok := f.str(keyRegUserInfo); ok {
		if hasInfo && alt != info {
			return fail(keyRegUserInfo, fmt.Errorf("%w: conflicts with %q", ErrMalformed, keyUserInfo))
		}
		info, hasInfo, infoKey = alt, true, keyRegUserInfo
	}
	if hasInfo {
		user, pass, ok := strings.Cut(info, ":")
		if !ok || user == "" {
			return fail(infoKey, fmt.Errorf("%w: want \"<key>:<secret>\"", ErrMalformed))
		}
		r.Username, r.Password = user, NewValue(pass)
	}
	if u.User != nil {
		// Credentials in the URL move to Username/Password so that the URL
		// itself can be printed.
		if hasInfo {
			return fail(keyRegistryURL, fmt.Errorf("%w: holds credentials and %q is set too", ErrMalformed, infoKey))
		}
		r.Username = u.User.Username()
		p, _ := u.User.Password()
		r.Password = NewValue(p)
		u.User = nil
	}
	r.URL = u.String()
	return r, nil
}
