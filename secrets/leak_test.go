package secrets_test

import (
	"context"
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

// Every failure path, and the success path, with secret values that carry
// the marker: the logs (at debug level) and every returned error, printed
// with %v, %+v and %#v, must not contain it.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	t.Parallel()
	logger, logs := debugLogger()
	var errs []error
	record := func(err error) {
		if err == nil {
			t.Errorf("a failure path returned no error")
			return
		}
		errs = append(errs, err)
	}
	ctx := context.Background()

	// Mapping failures, through Secrets Manager.
	broken := map[string]string{
		"syntax":            `{"sasl.password": LEAKpw1}`,
		"truncated":         `{"bootstrap.servers":"x","sasl.password":"LEAKpw2`,
		"nested":            `{"sasl.password":{"v":"LEAKpw3"}}`,
		"duplicate":         `{"sasl.password":"LEAKa","sasl.password":"LEAKb"}`,
		"trailing":          `{"bootstrap.servers":"x"} LEAKtrail`,
		"jaas-unterminated": `{"bootstrap.servers":"x","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"LEAKpw4;"}`,
		"jaas-module":       `{"bootstrap.servers":"x","sasl.jaas.config":"LEAKpw5 required username=\"u\" password=\"p\";"}`,
		"jaas-bare":         `{"bootstrap.servers":"x","sasl.jaas.config":"LEAKpw6"}`,
		"jaas-option":       `{"bootstrap.servers":"x","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required LEAKpw7;"}`,
		"jaas-conflict":     `{"bootstrap.servers":"x","sasl.password":"LEAKpw8","sasl.jaas.config":"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"LEAKpw9\";"}`,
		"alias-conflict":    `{"bootstrap.servers":"x","sasl.mechanism":"LEAKm1","sasl.mechanisms":"LEAKm2"}`,
		"unknown":           `{"bootstrap.servers":"x","sasl.password":"LEAKpw10","sasl.username":"u","not.known":"LEAKpw11"}`,
		"esm-half":          `{"username":"LEAKuser","bootstrap.servers":"x"}`,
		"no-bootstrap":      `{"username":"LEAKuser2","password":"LEAKpw12"}`,
		"half-sasl":         `{"bootstrap.servers":"x","sasl.password":"LEAKpw13"}`,
		"registry-info":     `{"schema.registry.url":"https://sr","basic.auth.user.info":"LEAKnocolon"}`,
		"registry-url":      `{"schema.registry.url":"LEAKhost:8081"}`,
		"registry-url-bad":  `{"schema.registry.url":"https://k:LEAK%zz@sr"}`,
		"registry-both":     `{"schema.registry.url":"https://k:LEAKpw14@sr","basic.auth.user.info":"k:LEAKpw15"}`,
		"registry-source":   `{"schema.registry.url":"https://sr","basic.auth.credentials.source":"LEAKsrc"}`,
		"registry-infos":    `{"schema.registry.url":"https://sr","basic.auth.user.info":"a:LEAK1","schema.registry.basic.auth.user.info":"a:LEAK2"}`,
	}
	srv := secretstest.NewServer(t, broken)
	for name := range broken {
		l := newLoader(t, srv, name, secrets.WithLogger(logger))
		_, kerr := l.KafkaConfig(ctx)
		_, rerr := l.Registry(ctx)
		for _, err := range []error{kerr, rerr} {
			if err != nil {
				errs = append(errs, err)
			}
		}
	}

	// Fetch failures, Secrets Manager and extension.
	const goodSecret = `{"bootstrap.servers":"x","sasl.username":"u","sasl.password":"LEAKgood","schema.registry.url":"https://sr","basic.auth.user.info":"k:LEAKsr"}`
	srv.PutString("good", goodSecret)
	for _, f := range []secretstest.Fault{secretstest.AccessDenied, secretstest.Throttling, secretstest.InternalError, secretstest.Decryption, secretstest.NotFound} {
		faulty := secretstest.NewServer(t, map[string]string{"good": goodSecret})
		faulty.FailNext(10, f)
		_, err := newLoader(t, faulty, "good", secrets.WithLogger(logger)).KafkaConfig(ctx)
		record(err)
	}
	extAnswers := []struct {
		status int
		body   string
	}{
		{200, `{"SecretString": LEAKext1}`},
		{200, `{"SecretString":"{\"sasl.password\": LEAKext2}"}`},
		{400, `{"__type":"ValidationException","message":"LEAKext3"}`},
		{500, `LEAKext4`},
	}
	for _, a := range extAnswers {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(a.status)
			_, _ = w.Write([]byte(a.body))
		}))
		_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
		_, err := extensionLoader(t, port, "LEAKtoken", "good", secrets.WithLogger(logger)).KafkaConfig(ctx)
		record(err)
		hs.Close()
	}

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

	// MSK IAM: the token is a credential and must not be logged.
	msk, err := secrets.NewMSKIAM(secrets.WithBootstrapServers("b:9098"), secrets.WithRegion("us-east-1"),
		secrets.WithCredentials(credentials.NewStaticCredentialsProvider("AKID", "LEAKsecretkey", "LEAKsession")),
		secrets.WithLogger(logger), secrets.WithLookupEnv(env()))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := msk.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	badMSK, err := secrets.NewMSKIAM(secrets.WithBootstrapServers("b:9098"), secrets.WithRegion("us-east-1"),
		secrets.WithCredentials(failingCreds{}), secrets.WithLogger(logger), secrets.WithLookupEnv(env()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = badMSK.Token(ctx)
	record(err)

	var all strings.Builder
	all.WriteString(logs.String())
	all.WriteString(printed)
	for _, err := range errs {
		fmt.Fprintf(&all, "\n%v\n%+v\n%#v\n", err, err, err)
	}
	text := all.String()
	if n := strings.Count(text, leak); n != 0 {
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, leak) {
				t.Errorf("secret value exposed: %s", line)
			}
		}
		t.Fatalf("%d occurrences of secret values", n)
	}
	if strings.Contains(text, tok.TokenValue) {
		t.Fatal("the MSK token was logged")
	}
	if len(errs) < len(broken)+8 || !strings.Contains(logs.String(), "secret loaded") {
		t.Fatalf("only %d errors and %d bytes of logs scanned: the test lost its coverage", len(errs), len(logs.String()))
	}
	t.Logf("scanned %d errors and %d bytes of logs; for example:\n%v\n%v", len(errs), len(logs.String()), errs[0], errs[len(errs)-1])
}
