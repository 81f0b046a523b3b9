package soak

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// accessTimeout is the function timeout of the access tests' failing
// cases: an invocation that cannot reach the broker must fail at its
// deadline, not run on into librdkafka's own timeouts (message.timeout.ms
// is 300 s). okTimeout is the working case's: it proves the settings work,
// not how fast a TLS handshake is on a loaded machine.
//
// overrun bounds how far past accessTimeout a failing case may end. It is
// not a speed check: an invocation that ignored its deadline would end
// minutes later, and a loaded machine must not fail the test.
const (
	accessTimeout = 3 * time.Second
	okTimeout     = 30 * time.Second
	overrun       = 20 * time.Second
)

// TestAccess runs the function against a broker that requires SASL/PLAIN
// over TLS, with every setting from the secret: the right ones work end to
// end; a wrong password, an untrusted broker certificate and a wrong
// registry password fail the invocation within its timeout, with an error
// or a log line that says what is wrong, and without a secret value in any
// of them.
func TestAccess(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	t.Parallel()
	admin, fn, reg := newCredential("soak-admin"), newCredential("tradesettle"), newCredential("tradesettle-sr")
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTLS(),
		kafkalambdatest.WithSASLPlain(admin.user, admin.pass),
		kafkalambdatest.WithKafkaOptions(kfake.Superuser("PLAIN", fn.user, fn.pass)),
		kafkalambdatest.WithRegistryAuth(reg.user, reg.pass),
		kafkalambdatest.WithTopic(app.InputTopic, 1), kafkalambdatest.WithTopic(app.OutputTopic, 1))
	stranger := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTLS()) // a CA the broker's certificate is not from
	secretOf := func(pass, caPEM, regPass string) string {
		b, _ := json.Marshal(map[string]string{
			"bootstrap.servers":    c.BootstrapServers(),
			"security.protocol":    "SASL_SSL",
			"sasl.mechanism":       "PLAIN",
			"sasl.username":        fn.user,
			"sasl.password":        pass,
			"ssl.ca.pem":           caPEM,
			"schema.registry.url":  c.RegistryURL(),
			"basic.auth.user.info": reg.user + ":" + regPass,
		})
		return string(b)
	}
	wrong := newCredential("wrong")
	secretValues := []string{}
	for _, f := range []credential{admin, fn, reg, wrong} {
		secretValues = append(secretValues, secretForms(f.user, f.pass)...)
	}
	ca := string(c.CACertPEM())

	tests := []struct {
		name   string
		secret string
		ok     bool
		says   []string // what the error or an error log line says, one of
	}{
		{"SASL_SSL from the secret", secretOf(fn.pass, ca, reg.pass), true, nil},
		{"wrong password", secretOf(wrong.pass, ca, reg.pass), false, []string{"Authentication failed", "SASL authentication error"}},
		{"untrusted broker certificate", secretOf(fn.pass, string(stranger.CACertPEM()), reg.pass), false, []string{"certificate verify failed", "SSL handshake failed"}},
		{"wrong registry password", secretOf(fn.pass, ca, wrong.pass), false, []string{"401", "Unauthorized", "not authorized"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logSink{}
			sm := secretstest.NewServer(t, map[string]string{secretID: tc.secret})
			r := &rig{c: c, sm: sm, logs: logs}
			h := r.function(context.Background(), t, "FAIL_BATCH", settle.Rules{})
			first := int64(i * 10)
			start := time.Now()
			timeout := accessTimeout
			if tc.ok {
				timeout = okTimeout
			}
			err := invokeTrades(t, c, h, first, 3, timeout)
			took := time.Since(start)
			logs.keepErr(err)
			h.Close()
			t.Logf("%s: %v after %v", tc.name, err, took.Round(time.Millisecond))
			if !tc.ok && took > accessTimeout+overrun {
				t.Errorf("the invocation took %v with a %v timeout", took, accessTimeout)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("invocation: %v", err)
				}
				if n := settledFrom(t, c, first, 3); n != 3 {
					t.Fatalf("%d settlements of the 3 trades", n)
				}
			} else {
				if err == nil {
					t.Fatal("the invocation succeeded")
				}
				if !errors.Is(err, kafkalambda.ErrBatchFailed) {
					t.Errorf("error %v does not match kafkalambda.ErrBatchFailed", err)
				}
				if said := saysOneOf(err, logs, tc.says); said == "" {
					t.Errorf("neither the error nor an error log line says one of %q", tc.says)
				}
			}
			checkNoLeaks(t, logs, secretValues)
		})
	}

	// The event source mapping with a wrong password stops with a clear
	// error rather than waiting.
	t.Run("mapping with a wrong password", func(t *testing.T) {
		logs := &logSink{}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(c.CACertPEM())
		kopts := []kgo.Opt{
			kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}),
			kgo.SASL(plain.Auth{User: admin.user, Pass: wrong.pass}.AsMechanism()),
		}
		m, err := esm.New(esm.Config{Brokers: c.Brokers(), Topics: []string{app.InputTopic}, Group: "soak-access",
			KafkaOptions: kopts},
			&esm.HandlerTarget{Handler: nopHandler{}}, esm.WithLogger(logs.logger("esm")), esm.WithConnectTimeout(accessTimeout))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*accessTimeout)
		defer cancel()
		start := time.Now()
		err = m.Run(ctx)
		logs.keepErr(err)
		t.Logf("Run: %v after %v", err, time.Since(start).Round(time.Millisecond))
		if !errors.Is(err, esm.ErrKafka) {
			t.Errorf("Run = %v, want an error matching esm.ErrKafka", err)
		}
		if took := time.Since(start); took > accessTimeout+overrun {
			t.Errorf("Run took %v to fail", took)
		}
		checkNoLeaks(t, logs, secretValues)
	})
}

type nopHandler struct{}

func (nopHandler) Invoke(context.Context, []byte) ([]byte, error) { return nil, nil }

// invokeTrades invokes h once with n trades at offsets first... of
// user_trades partition 0, with a function timeout of timeout.
func invokeTrades(t *testing.T, c *kafkalambdatest.Cluster, h *kafkalambda.Handler[string, *tradepb.UserTrade], first int64, n int, timeout time.Duration) error {
	t.Helper()
	values, err := serde.Protobuf[*tradepb.UserTrade](c.RegistryClient())
	if err != nil {
		t.Fatal(err)
	}
	b := kafkalambdatest.NewEvent(serde.String(), values)
	for i := range n {
		b.AddAt(app.InputTopic, 0, first+int64(i), kafkalambdatest.Record[string, *tradepb.UserTrade]{
			Key: "User_1", Value: &tradepb.UserTrade{Userid: "User_1", Symbol: "ZVV", Quantity: 1, Price: int32(10 + i)}})
	}
	payload, err := b.Payload(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err = h.Invoke(ctx, payload)
	return err
}

// settledFrom counts the settlements of trades at offsets first... of
// partition 0.
func settledFrom(t *testing.T, c *kafkalambdatest.Cluster, first int64, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs, err := c.ReadTopic(ctx, app.OutputTopic)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, kr := range recs {
		if src, err := app.SourceHeader(kr.Headers); err == nil && src.Topic == app.InputTopic && src.Partition == 0 && src.Offset >= first && src.Offset < first+int64(n) {
			got++
		}
	}
	return got
}

// saysOneOf returns the first of phrases found in err or in an ERROR log
// line, or "".
func saysOneOf(err error, logs *logSink, phrases []string) string {
	logs.mu.Lock()
	defer logs.mu.Unlock()
	var errorLines []string
	for _, line := range strings.Split(logs.buf.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			errorLines = append(errorLines, line)
		}
	}
	for _, p := range phrases {
		if strings.Contains(err.Error(), p) {
			return p
		}
		for _, l := range errorLines {
			if strings.Contains(l, p) {
				return p
			}
		}
	}
	return ""
}
