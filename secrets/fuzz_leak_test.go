package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// Fuzz target of the promise that secret values never reach an error, a
// log line or a printed value (added by the reliability suite, issue 7).
// Run it with:
//
//	go test -run '^$' -fuzz '^FuzzSecretNoLeak$' -fuzztime 30s ./secrets

// leakMarker is part of every secret value the fuzz target plants; nothing
// of the package's own text contains it.
const leakMarker = "Qz7pw"

// leakShape puts a secret value v where a secret may hold one: under key,
// as value, next to the members in with (JSON members, each followed by a
// comma) that the shape needs.
type leakShape func(v string) (key, value, with string)

// plugins makes the mapping pass every key to the ConfigMap, so that a
// plugin's or an interceptor's own copy of a secret property reaches it.
const plugins = `"plugin.library.paths":"monitoring-interceptor",`

// leakShapes returns the ways to put a secret value (before+marker+after)
// where a secret may hold one.
func leakShapes() []leakShape {
	return []leakShape{
		func(v string) (string, string, string) { return "sasl.password", v, "" },
		func(v string) (string, string, string) { return "password", v, "" },
		func(v string) (string, string, string) { return "ssl.key.password", v, "" },
		func(v string) (string, string, string) { return "ssl.key.pem", v, "" },
		func(v string) (string, string, string) { return "sasl.oauthbearer.client.secret", v, "" },
		func(v string) (string, string, string) { return "basic.auth.user.info", "sr-key:" + v, "" },
		func(v string) (string, string, string) {
			return "schema.registry.basic.auth.user.info", "sr-key:" + v, ""
		},
		func(v string) (string, string, string) {
			return "schema.registry.url", "https://sr-key:" + v + "@sr.example.com", ""
		},
		func(v string) (string, string, string) {
			return "sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="` + v + `";`, ""
		},
		func(v string) (string, string, string) {
			return "confluent.monitoring.interceptor.sasl.password", v, plugins
		},
		func(v string) (string, string, string) {
			return "confluent.monitoring.interceptor.sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="` + v + `";`, plugins
		},
	}
}

// FuzzSecretNoLeak plants a secret value in a secret, next to whatever
// other members (or malformed text) the fuzzer adds, maps the secret, and
// checks that the value appears in no error, no log line, and nothing the
// package prints: the Loader, the Registry, a Redact-ed ConfigMap.
func FuzzSecretNoLeak(f *testing.F) {
	shapes := leakShapes()
	for i := range shapes {
		f.Add(uint8(i), "s3cret-", "-value", `,"sasl.username":"u","security.protocol":"SASL_SSL"`)
		f.Add(uint8(i), "s3cret-", "-value", ``) // maps for the shapes that need no SASL pair
	}
	f.Add(uint8(0), `"`, `\`, `,"sasl.password":1`)
	f.Add(uint8(5), "", "", `,"basic.auth.user.info":"only-a-key"`)
	f.Add(uint8(7), "a@b", ":c", `,"schema.registry.url":["x"]`)
	f.Add(uint8(8), `"; x required password="`, "", ``)
	f.Add(uint8(0), "", "", `,"bootstrap.servers":`)
	f.Add(uint8(1), "\xff", "\u2028", `,"username":"u","unknown.key":true`)
	f.Fuzz(func(t *testing.T, shape uint8, before, after, extra string) {
		key, value, with := shapes[int(shape)%len(shapes)](before + leakMarker + after)
		k, _ := json.Marshal(key)
		v, _ := json.Marshal(value)
		doc := `{"bootstrap.servers":"b:9092",` + with + string(k) + `:` + string(v) + extra + `}`
		if markerOutsideSecrets(doc, key) {
			return // the fuzzer put the marker where it is no secret
		}
		var logs bytes.Buffer
		l, err := secrets.New(secrets.WithEnv("S"),
			secrets.WithLookupEnv(func(string) (string, bool) { return doc, true }),
			secrets.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		cm, kerr := l.KafkaConfig(ctx)
		reg, rerr := l.Registry(ctx)
		var out strings.Builder
		for _, err := range []error{kerr, rerr} {
			if err != nil {
				fmt.Fprintf(&out, "%v\n%+v\n", err, err)
			}
		}
		fmt.Fprintf(&out, "%v %+v %#v %s\n", l, l, l, l.String())
		fmt.Fprintf(&out, "%v %+v %#v\n", reg, reg, reg.Password)
		fmt.Fprintf(&out, "%v\n", secrets.Redact(cm))
		slog.New(slog.NewJSONHandler(&out, nil)).Info("registry", "registry", reg, "password", reg.Password)
		out.Write(logs.Bytes())
		if i := strings.Index(out.String(), leakMarker); i >= 0 {
			s := out.String()
			t.Fatalf("the secret value of %s shows: …%s…\nsecret: %s", key, s[max(0, i-120):min(len(s), i+60)], doc)
		}
	})
}

// markerOutsideSecrets reports whether doc is a JSON object holding the
// marker somewhere a secret value is not: in a key, in the value of a key
// that is neither the planted secret's key nor sensitive, in the user part
// of user info, outside the password of a registry URL or of a JAAS
// configuration. The planted key counts as secret whatever [IsSensitive]
// says, so that the target checks IsSensitive rather than trusting it.
func markerOutsideSecrets(doc, planted string) bool {
	var m map[string]any
	if json.Unmarshal([]byte(doc), &m) != nil {
		return false // malformed: nothing of it may show, marker or not
	}
	for k, v := range m {
		if strings.Contains(k, leakMarker) {
			return true
		}
		s, isString := v.(string)
		switch {
		case k == "schema.registry.url" && isString:
			// Only the password of https://key:secret@host is secret; a
			// URL that does not parse is all secret (it may hold one).
			u, err := url.Parse(s)
			if err != nil {
				continue
			}
			pass, _ := u.User.Password()
			if strings.Count(pass, leakMarker) != strings.Count(s, leakMarker) {
				return true
			}
		case strings.HasSuffix(k, "basic.auth.user.info") && isString:
			if user, _, _ := strings.Cut(s, ":"); strings.Contains(user, leakMarker) {
				return true
			}
		case k == "sasl.jaas.config" && isString:
			// Only the last password="…" is secret here.
			i := strings.LastIndex(s, `password="`)
			if i < 0 {
				return strings.Contains(s, leakMarker)
			}
			pass, _, _ := strings.Cut(s[i+len(`password="`):], `"`)
			if strings.Count(pass, leakMarker) != strings.Count(s, leakMarker) {
				return true
			}
		case k == planted, secrets.IsSensitive(k):
		default:
			if strings.Contains(fmt.Sprint(v), leakMarker) {
				return true
			}
		}
	}
	return false
}
