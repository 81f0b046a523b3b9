package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func secretJSON(c *kafkalambdatest.Cluster, user, pass string) string {
	doc := map[string]string{
		"bootstrap.servers":   c.BootstrapServers(),
		"security.protocol":   "PLAINTEXT",
		"schema.registry.url": c.RegistryURL(),
	}
	if user != "" {
		doc["security.protocol"] = "SASL_PLAINTEXT"
		doc["username"], doc["password"] = user, pass
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// wiredHandler returns the handler of the function app.Wire builds with
// opts, closed with t.
func wiredHandler(t *testing.T, opts ...app.WireOption) *kafkalambda.Handler[string, *tradepb.UserTrade] {
	t.Helper()
	fn, err := app.Wire(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := fn.Handler()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// settleWired runs n trades through the function app.Wire builds with opts
// in one invocation, which must succeed without item failures, and checks
// that topic then holds n records: one settlement each.
func settleWired(t *testing.T, c *kafkalambdatest.Cluster, topic string, n int, opts ...app.WireOption) {
	t.Helper()
	h := wiredHandler(t, opts...)
	if failed := invoke(t, c, h, 0, n, 20*time.Second); failed != 0 {
		t.Fatalf("%d item failures (-1: the invocation failed)", failed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if recs, err := c.ReadTopic(ctx, topic); err != nil || len(recs) != n {
		t.Fatalf("%d records in %s (%v), want %d", len(recs), topic, err, n)
	}
}

// invoke runs one event of n trades through h within timeout and returns
// the number of item failures, or -1 when the invocation failed as a whole.
func invoke(t *testing.T, c *kafkalambdatest.Cluster, h *kafkalambda.Handler[string, *tradepb.UserTrade], first int64, n int, timeout time.Duration) int {
	t.Helper()
	trades, err := serde.Protobuf[*tradepb.UserTrade](c.RegistryClient())
	if err != nil {
		t.Fatal(err)
	}
	b := kafkalambdatest.NewEvent(serde.String(), trades)
	for i := range n {
		b.AddAt(app.InputTopic, 0, first+int64(i), kafkalambdatest.Record[string, *tradepb.UserTrade]{
			Key: "User_1", Value: ut("User_1", "ZVV", 1, int32(i+1))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	payload, err := b.Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		t.Logf("invocation failed: %v", err)
		return -1
	}
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return len(resp.BatchItemFailures)
}

func TestWireFromSecretJSON(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t)
	settleWired(t, c, app.OutputTopic, 3, app.WithLookupEnv(envOf(map[string]string{
		app.EnvSecretJSON: secretJSON(c, "", ""),
	})))
}

// EXACTLY_ONCE_GROUP turns exactly-once outputs on: a batch delivered
// again after it succeeded settles nothing twice, and the settlements are
// committed with the progress in the group, under the prefix's
// transactional ids.
func TestWireExactlyOnce(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic(app.InputTopic, 1))
	h := wiredHandler(t, app.WithLookupEnv(envOf(map[string]string{
		app.EnvSecretJSON:            secretJSON(c, "", ""),
		app.EnvExactlyOnceGroup:      "tradesettle-progress",
		app.EnvTransactionalIDPrefix: "settle-test",
	})))
	for range 2 {
		if failed := invoke(t, c, h, 0, 3, 20*time.Second); failed != 0 {
			t.Fatalf("%d item failures (-1: the invocation failed)", failed)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if recs, err := c.ReadCommitted(ctx, app.OutputTopic); err != nil || len(recs) != 3 {
		t.Fatalf("%d settlements committed (%v), want 3: one per trade", len(recs), err)
	}
	if recs, err := c.ReadTopic(ctx, app.OutputTopic); err != nil || len(recs) != 3 {
		t.Fatalf("%d settlements written (%v), want 3: the batch again wrote nothing", len(recs), err)
	}
}

// The deployed path: the secret from Secrets Manager through the AWS SDK's
// default configuration, here pointed at an in-process endpoint with the
// SDK's own environment variable. The broker requires SASL/PLAIN; the
// secret first holds a wrong password. The broker's refusal must invalidate
// the cached secret, so that once the secret is fixed (rotated) the next
// invocation succeeds without waiting for the cache's TTL.
func TestWireFromSecretsManagerPicksUpARotatedSecret(t *testing.T) {
	const user, pass = "settler", "s3cret-pass"
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithSASLPlain(user, pass), kafkalambdatest.WithTopic(app.OutputTopic, 1))
	sm := secretstest.NewServer(t, map[string]string{"tradesettle/kafka": secretJSON(c, user, "wrong")})
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv(app.EnvSecretID, "tradesettle/kafka")

	h := wiredHandler(t)
	if failed := invoke(t, c, h, 0, 1, 4*time.Second); failed == 0 {
		t.Fatal("the invocation succeeded with a wrong password")
	}
	sm.PutString("tradesettle/kafka", secretJSON(c, user, pass))
	var failed int
	for attempt := range 5 {
		if failed = invoke(t, c, h, int64(1+attempt), 1, 10*time.Second); failed == 0 {
			break
		}
	}
	if failed != 0 {
		t.Fatal("still failing after the secret was fixed")
	}
	if got := sm.Calls(secretstest.OpGetSecretValue); got < 2 {
		t.Errorf("%d GetSecretValue calls, want the secret read again after the refusal", got)
	}
	for _, r := range sm.Requests() {
		if r.Region != "eu-west-1" || r.AccessKeyID != "AKIDLOCAL" {
			t.Errorf("request signed for %q by %q, want the environment's region and key", r.Region, r.AccessKeyID)
		}
	}
}

func TestWireWithSecretsClient(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t)
	sm := secretstest.NewServer(t, map[string]string{"kafka": secretJSON(c, "", "")})
	client := secretsmanager.New(secretsmanager.Options{
		BaseEndpoint: aws.String(sm.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	settleWired(t, c, "settled", 2, app.WithSecretsClient(client),
		app.WithLookupEnv(envOf(map[string]string{app.EnvSecretID: "kafka", app.EnvOutputTopic: "settled"})))
}

func TestWireRejectsBadEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no secret", map[string]string{}, app.EnvSecretID},
		{"bad auth", map[string]string{app.EnvSecretJSON: "{}", app.EnvAuth: "PLAIN"}, app.EnvAuth},
		{"bad source", map[string]string{app.EnvSecretID: "x", app.EnvSecretSource: "vault"}, app.EnvSecretSource},
		{"bad policy", map[string]string{app.EnvSecretJSON: "{}", app.EnvFailurePolicy: "RETRY"}, app.EnvFailurePolicy},
		{"dead letter without topic", map[string]string{app.EnvSecretJSON: "{}", app.EnvFailurePolicy: "DEAD_LETTER"}, app.EnvDeadLetterTopic},
		{"isolate poison without topic", map[string]string{app.EnvSecretJSON: "{}", app.EnvFailurePolicy: "ISOLATE_POISON"}, app.EnvDeadLetterTopic},
		{"bad dead letter format", map[string]string{app.EnvSecretJSON: "{}", app.EnvFailurePolicy: "DEAD_LETTER",
			app.EnvDeadLetterTopic: "dlq", app.EnvDeadLetterFormat: "PROTOBUF"}, app.EnvDeadLetterFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := app.Wire(context.Background(), app.WithLookupEnv(envOf(tc.env)))
			if !errors.Is(err, app.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Wire = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestSecretRegistryFollowsTheSecret(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithRegistryAuth("registry", "rotated"))
	var answer atomic.Pointer[func() (secrets.Registry, error)]
	set := func(f func() (secrets.Registry, error)) { answer.Store(&f) }
	reg := app.NewSecretRegistry(func(context.Context) (secrets.Registry, error) { return (*answer.Load())() })
	withPassword := func(pw string) func() (secrets.Registry, error) {
		return func() (secrets.Registry, error) {
			return secrets.Registry{URL: c.RegistryURL(), Username: "registry", Password: secrets.NewValue(pw)}, nil
		}
	}
	ctx := context.Background()
	found := func(err error) bool { // the registry answered: the subject exists or not
		return err == nil || errors.Is(err, serde.ErrUnknownSchema)
	}

	set(func() (secrets.Registry, error) {
		return secrets.Registry{}, fmt.Errorf("fetch: %w", secrets.ErrThrottled)
	})
	if _, err := reg.SubjectVersions(ctx, "x-value"); !errors.Is(err, secrets.ErrThrottled) {
		t.Fatalf("fetch failing, no client yet: %v, want the fetch's error", err)
	}
	set(withPassword("old"))
	// srfake refuses with HTTP 403 but error code 50002, which srclient
	// reports without the status: serde reads it as ErrRegistry, not
	// ErrRegistryAuth (a Confluent registry says 40301).
	if _, err := reg.SubjectVersions(ctx, "x-value"); found(err) || !errors.Is(err, serde.ErrRegistry) {
		t.Fatalf("old password: %v, want the registry to refuse it (ErrRegistry)", err)
	}
	set(withPassword("rotated"))
	if _, err := reg.SubjectVersions(ctx, "x-value"); !found(err) {
		t.Fatalf("after the secret changed: %v, want a client made from the new password", err)
	}
	set(func() (secrets.Registry, error) {
		return secrets.Registry{}, fmt.Errorf("fetch: %w", secrets.ErrUnavailable)
	})
	if _, err := reg.SubjectVersions(ctx, "x-value"); !found(err) {
		t.Fatalf("fetch failing after a client was made: %v, want the client in hand used", err)
	}
}

// MSK with IAM: the producer signs tokens with the function's role, so Wire
// needs the brokers and the region, and the secret only for the registry.
// Nothing is fetched or signed until the first record.
func TestWireMSKIAM(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		app.EnvSecretJSON:         `{"schema.registry.url": "https://registry.example"}`,
		app.EnvAuth:               "MSK_IAM",
		"KAFKA_BOOTSTRAP_SERVERS": "b-1.trades.kafka.eu-west-1.amazonaws.com:9098",
		"AWS_REGION":              "eu-west-1",
	}
	wiredHandler(t, app.WithLookupEnv(envOf(env)))
	delete(env, "KAFKA_BOOTSTRAP_SERVERS")
	if _, err := app.Wire(context.Background(), app.WithLookupEnv(envOf(env))); err == nil {
		t.Fatal("MSK_IAM without bootstrap servers accepted")
	}
}

// Every FAILURE_POLICY and DEAD_LETTER_FORMAT the template may set makes a
// handler the SDK accepts (ISOLATE_POISON's WithEnvironmentItemFailures is
// refused with FailBatch), and DEAD_LETTER_FORMAT is ignored by the
// policies that do not dead-letter.
func TestWireFailurePolicies(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"", app.PolicyFailBatch, app.PolicyReportItems, app.PolicyDeadLetter, app.PolicyIsolatePoison} {
		for _, format := range []string{"", app.DeadLetterRaw, app.DeadLetterRejections} {
			t.Run(policy+"/"+format, func(t *testing.T) {
				t.Parallel()
				wiredHandler(t, app.WithLookupEnv(envOf(map[string]string{
					app.EnvSecretJSON:       `{"bootstrap.servers": "127.0.0.1:9", "schema.registry.url": "http://127.0.0.1:9"}`,
					app.EnvFailurePolicy:    policy,
					app.EnvDeadLetterTopic:  "user_trades-dlq",
					app.EnvDeadLetterFormat: format,
				})))
			})
		}
	}
}
