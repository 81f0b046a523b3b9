package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// leak marks every secret value in this test; none may show up in a log
// line or an error.
const leak = "LEAK"

// leakDigits is a secret value of digits only: a decoder that quotes the
// number it did not expect ("expected string, got 7318092645") shows these
// and not the letters after them.
const leakDigits = "7318092645"

// Every failure path, and the success path, with secret values that carry
// the marker: the logs (at debug level) and every returned error, printed
// with %v, %+v and %#v, must not contain it.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	t.Parallel()
	logger, logs := debugLogger()
	var errs []error
	// expect records err, which must match want: a failure path that
	// returns no error, or another one, fails the test.
	expect := func(what string, err, want error) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s: no error; want one matching %v", what, want)
			return
		case want != nil && !errors.Is(err, want):
			t.Errorf("%s: error %v; want one matching %v", what, err, want)
		}
		errs = append(errs, err)
	}
	ctx := context.Background()

	// Mapping failures, through Secrets Manager. Each says which side must
	// fail, with which sentinel (nil: that side must map).
	broken := map[string]struct {
		secret          string
		kafka, registry error
	}{
		"syntax":            {`{"sasl.password": LEAKpw1}`, secrets.ErrMalformed, secrets.ErrMalformed},
		"truncated":         {`{"bootstrap.servers":"x","sasl.password":"LEAKpw2`, secrets.ErrMalformed, secrets.ErrMalformed},
		"nested":            {`{"sasl.password":{"v":"LEAKpw3"}}`, secrets.ErrMalformed, secrets.ErrMalformed},
		"duplicate":         {`{"sasl.password":"LEAKa","sasl.password":"LEAKb"}`, secrets.ErrMalformed, secrets.ErrMalformed},
		"trailing":          {`{"bootstrap.servers":"x"} LEAKtrail`, secrets.ErrMalformed, secrets.ErrMalformed},
		"jaas-unterminated": {`{"bootstrap.servers":"x","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"LEAKpw4;"}`, secrets.ErrMalformed, secrets.ErrMissingKey},
		"jaas-module":       {`{"bootstrap.servers":"x","sasl.jaas.config":"LEAKpw5 required username=\"u\" password=\"p\";"}`, secrets.ErrMalformed, secrets.ErrMissingKey},
		"jaas-bare":         {`{"bootstrap.servers":"x","sasl.jaas.config":"LEAKpw6"}`, secrets.ErrMalformed, secrets.ErrMissingKey},
		"jaas-option":       {`{"bootstrap.servers":"x","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required LEAKpw7;"}`, secrets.ErrMalformed, secrets.ErrMissingKey},
		"jaas-conflict":     {`{"bootstrap.servers":"x","sasl.password":"LEAKpw8","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"LEAKpw9\";"}`, secrets.ErrMalformed, secrets.ErrMissingKey},
		"alias-conflict":    {`{"bootstrap.servers":"x","sasl.mechanism":"LEAKm1","sasl.mechanisms":"LEAKm2"}`, secrets.ErrMalformed, secrets.ErrMissingKey},
		"unknown":           {`{"bootstrap.servers":"x","sasl.password":"LEAKpw10","sasl.username":"u","not.known":"LEAKpw11"}`, secrets.ErrUnknownKey, secrets.ErrMissingKey},
		"esm-half":          {`{"username":"LEAKuser","bootstrap.servers":"x"}`, secrets.ErrMissingKey, secrets.ErrMissingKey},
		"no-bootstrap":      {`{"username":"LEAKuser2","password":"LEAKpw12"}`, secrets.ErrMissingKey, secrets.ErrMissingKey},
		"half-sasl":         {`{"bootstrap.servers":"x","sasl.password":"LEAKpw13"}`, secrets.ErrMissingKey, secrets.ErrMissingKey},
		"registry-info":     {`{"schema.registry.url":"https://sr","basic.auth.user.info":"LEAKnocolon"}`, secrets.ErrMissingKey, secrets.ErrMalformed},
		"registry-url":      {`{"schema.registry.url":"LEAKhost:8081"}`, secrets.ErrMissingKey, secrets.ErrMalformed},
		"registry-url-bad":  {`{"schema.registry.url":"https://k:LEAK%zz@sr"}`, secrets.ErrMissingKey, secrets.ErrMalformed},
		"registry-both":     {`{"schema.registry.url":"https://k:LEAKpw14@sr","basic.auth.user.info":"k:LEAKpw15"}`, secrets.ErrMissingKey, secrets.ErrMalformed},
		"registry-source":   {`{"schema.registry.url":"https://sr","basic.auth.credentials.source":"LEAKsrc"}`, secrets.ErrMissingKey, secrets.ErrMalformed},
		"registry-infos":    {`{"schema.registry.url":"https://sr","basic.auth.user.info":"a:LEAK1","schema.registry.basic.auth.user.info":"a:LEAK2"}`, secrets.ErrMissingKey, secrets.ErrMalformed},
		"registry-only":     {`{"bootstrap.servers":"x","sasl.username":"u","sasl.password":"LEAKpw16","schema.registry.url":"https://sr","basic.auth.user.info":"LEAKnocolon2"}`, nil, secrets.ErrMalformed},
		"kafka-only":        {`{"bootstrap.servers":"x","sasl.password":"LEAKpw17","not.known":"LEAKpw18","schema.registry.url":"https://sr","basic.auth.user.info":"k:LEAKsr2"}`, secrets.ErrUnknownKey, nil},
	}
	docs := make(map[string]string, len(broken))
	for name, b := range broken {
		docs[name] = b.secret
	}
	srv := secretstest.NewServer(t, docs)
	wantErrs := 0
	for name, b := range broken {
		l := newLoader(t, srv, name, secrets.WithLogger(logger))
		_, kerr := l.KafkaConfig(ctx)
		_, rerr := l.Registry(ctx)
		for _, side := range []struct {
			what      string
			err, want error
		}{{name + ": KafkaConfig", kerr, b.kafka}, {name + ": Registry", rerr, b.registry}} {
			if side.want == nil {
				if side.err != nil {
					t.Errorf("%s: %v; want no error", side.what, side.err)
					errs = append(errs, side.err) // scanned all the same
				}
				continue
			}
			wantErrs++
			expect(side.what, side.err, side.want)
		}
	}

	// Fetch failures, Secrets Manager and extension.
	const goodSecret = `{"bootstrap.servers":"x","sasl.username":"u","sasl.password":"LEAKgood","schema.registry.url":"https://sr","basic.auth.user.info":"k:LEAKsr"}`
	srv.PutString("good", goodSecret)
	faults := []struct {
		fault secretstest.Fault
		want  error
	}{
		{secretstest.AccessDenied, secrets.ErrAccessDenied},
		{secretstest.Throttling, secrets.ErrThrottled},
		{secretstest.InternalError, secrets.ErrUnavailable},
		{secretstest.Decryption, secrets.ErrAccessDenied},
		{secretstest.NotFound, secrets.ErrNotFound},
	}
	for _, f := range faults {
		faulty := secretstest.NewServer(t, map[string]string{"good": goodSecret})
		faulty.FailNext(10, f.fault)
		_, err := newLoader(t, faulty, "good", secrets.WithLogger(logger)).KafkaConfig(ctx)
		expect(string(f.fault), err, f.want)
	}
	wantErrs += len(faults)
	// An answer that is not the GetSecretValue JSON: {"SecretString":
	// 7318092645LEAKnum}. The SDK's deserializer quotes the number it got.
	malformed := secretstest.NewServer(t, map[string]string{"numeric": leakDigits + "LEAKnum"})
	malformed.FailNext(10, secretstest.MalformedAnswer)
	_, err := newLoader(t, malformed, "numeric", secrets.WithLogger(logger)).KafkaConfig(ctx)
	expect("GetSecretValue answer not JSON", err, secrets.ErrUnavailable)
	_, err = extensionLoader(t, malformed.Port(), malformed.SessionToken(), "numeric", secrets.WithLogger(logger)).KafkaConfig(ctx)
	expect("extension answer not JSON", err, secrets.ErrUnavailable)
	wantErrs += 2
	extAnswers := []struct {
		status int
		body   string
	}{
		{200, `{"SecretString": LEAKext1}`},
		{200, `{"SecretString":"{\"sasl.password\": LEAKext2}"}`},
		{400, `{"__type":"ValidationException","message":"LEAKext3"}`},
		{500, `LEAKext4`},
	}
	for i, a := range extAnswers {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(a.status)
			_, _ = w.Write([]byte(a.body))
		}))
		_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
		_, err := extensionLoader(t, port, "LEAKtoken", "good", secrets.WithLogger(logger)).KafkaConfig(ctx)
		expect(fmt.Sprintf("extension answer %d (HTTP %d)", i, a.status), err, nil)
		hs.Close()
	}
	wantErrs += len(extAnswers)

	// The success path logs, and the values handed out print redacted.
	good := newLoader(t, srv, "good", secrets.WithLogger(logger))
	cfg, err := good.KafkaConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := good.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	good.Invalidate()
	logger.Info("handed out", "registry", reg, "password", reg.Password, "config", secrets.Redact(cfg), "loader", good)
	printed := fmt.Sprintf("%v %+v %#v %s %v", reg, reg, reg, reg.Password, secrets.Redact(cfg))

	// With plugin.library.paths every key reaches the ConfigMap, plugins'
	// passwords included.
	srv.PutString("plugin", `{"bootstrap.servers":"x","plugin.library.paths":"monitoring-interceptor",`+
		`"confluent.monitoring.interceptor.sasl.password":"LEAKplug",`+
		`"confluent.monitoring.interceptor.sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"LEAKplugjaas\";"}`)
	pcfg, err := newLoader(t, srv, "plugin", secrets.WithLogger(logger)).KafkaConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pcfg["confluent.monitoring.interceptor.sasl.password"] != "LEAKplug" {
		t.Fatalf("the plugin's password did not reach the ConfigMap: %v", secrets.Redact(pcfg))
	}
	logger.Info("plugin config", "config", secrets.Redact(pcfg))
	printed += fmt.Sprintf(" %v %+v", secrets.Redact(pcfg), secrets.Redact(pcfg))

	// MSK IAM: the token is a credential and must not be logged.
	msk, err := secrets.NewMSKIAM(secrets.WithBootstrapServers("b:9098"), secrets.WithRegion("us-east-1"),
		secrets.WithCredentials(credentials.NewStaticCredentialsProvider("AKID", "LEAKsecretkey", "LEAKsession")),
		secrets.WithLogger(logger), secrets.WithLookupEnv(env()))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := msk.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	badMSK, err := secrets.NewMSKIAM(secrets.WithBootstrapServers("b:9098"), secrets.WithRegion("us-east-1"),
		secrets.WithCredentials(failingCreds{}), secrets.WithLogger(logger), secrets.WithLookupEnv(env()))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = badMSK.Token(ctx)
	expect("MSK IAM token without credentials", err, nil)
	wantErrs++

	var all strings.Builder
	all.WriteString(logs.String())
	all.WriteString(printed)
	for _, err := range errs {
		fmt.Fprintf(&all, "\n%v\n%+v\n%#v\n", err, err, err)
	}
	text := all.String()
	for _, marker := range []string{leak, leakDigits} {
		if n := strings.Count(text, marker); n != 0 {
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, marker) {
					t.Errorf("secret value exposed: %s", line)
				}
			}
			t.Fatalf("%d occurrences of secret values (%s)", n, marker)
		}
	}
	if strings.Contains(text, tok) {
		t.Fatal("the MSK token was logged")
	}
	if len(errs) != wantErrs || !strings.Contains(logs.String(), "secret loaded") {
		t.Fatalf("%d errors (want %d) and %d bytes of logs scanned: the test lost its coverage", len(errs), wantErrs, len(logs.String()))
	}
	t.Logf("scanned %d errors and %d bytes of logs; for example:\n%v\n%v", len(errs), len(logs.String()), errs[0], errs[len(errs)-1])
}
