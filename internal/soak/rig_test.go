package soak

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// Topics of a run besides app's.
const (
	deadLetterTopic = "trade-settlements-dlq"
	onFailureTopic  = "user_trades-failed"
	secretID        = "tradesettle/kafka"
)

// credential is a user and password.
type credential struct{ user, pass string }

func newCredential(user string) credential {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return credential{user: user, pass: hex.EncodeToString(b[:])}
}

// rig is one run's world: a broker (SASL/PLAIN) that can go away, a
// registry (basic auth), the function's secret behind a Secrets Manager
// endpoint, and the sink every component logs to.
//
// The broker has two doors: the address it advertises, which the
// function's producer uses (from the secret's bootstrap.servers, then the
// broker's metadata), and a second port that the mapping's and the test's
// own clients use (their dialer rewrites the advertised address to it), so
// that the brokers can be made unreachable for the function alone
// (fnDoor closed) while the mapping goes on invoking it.
type rig struct {
	c        *kafkalambdatest.Cluster
	lis      *outageListener
	mapAddr  string // the mapping's door
	sm       *secretstest.Server
	logs     *logSink
	admin    credential // the mapping's and the test's own clients
	fn       []credential
	registry credential

	// eosGroup, when set, runs the function in exactly-once mode
	// (EXACTLY_ONCE_GROUP) with this progress group.
	eosGroup string

	mu     sync.Mutex
	fnCur  int // index in fn of the credentials the secret holds
	secret func(credential) string
}

// newRig starts a rig with user_trades and trade-settlements of partitions
// partitions.
func newRig(t *testing.T, partitions int32) *rig {
	t.Helper()
	r := &rig{
		logs:     &logSink{},
		admin:    newCredential("soak-admin"),
		fn:       []credential{newCredential("tradesettle"), newCredential("tradesettle-rotated")},
		registry: newCredential("tradesettle-sr"),
	}
	listen := func(network, addr string) (net.Listener, error) {
		l, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		r.lis = newOutageListener(l)
		_, a, err := r.lis.addDoor()
		if err != nil {
			_ = r.lis.Close()
			return nil, err
		}
		r.mapAddr = a.String()
		return r.lis, nil
	}
	kopts := []kfake.Opt{kfake.ListenFn(listen)}
	for _, f := range r.fn {
		kopts = append(kopts, kfake.Superuser("PLAIN", f.user, f.pass))
	}
	r.c = kafkalambdatest.NewCluster(t,
		kafkalambdatest.WithSASLPlain(r.admin.user, r.admin.pass),
		kafkalambdatest.WithRegistryAuth(r.registry.user, r.registry.pass),
		kafkalambdatest.WithKafkaOptions(kopts...),
		kafkalambdatest.WithTopic(app.InputTopic, partitions),
		kafkalambdatest.WithTopic(app.OutputTopic, partitions),
		kafkalambdatest.WithTopic(deadLetterTopic, 1),
		kafkalambdatest.WithTopic(onFailureTopic, 1))
	debug := "security"
	if os.Getenv(EnvLogs) != "" {
		debug += ",eos" // the transactional producer's states, for a run whose logs are kept
	}
	r.secret = func(f credential) string {
		b, _ := json.Marshal(map[string]string{
			"bootstrap.servers":    r.c.BootstrapServers(),
			"security.protocol":    "SASL_PLAINTEXT",
			"sasl.mechanism":       "PLAIN",
			"sasl.username":        f.user,
			"sasl.password":        f.pass,
			"schema.registry.url":  r.c.RegistryURL(),
			"basic.auth.user.info": r.registry.user + ":" + r.registry.pass,
			// librdkafka's own SASL debug lines go to the function's
			// logger too: they are scanned like every other line.
			"debug": debug,
			// Exactly-once: a transaction left open by a producer that
			// could not be replaced at once (the brokers unreachable, the
			// environment shut down) is aborted by the coordinator after
			// this, not after librdkafka's 60 s — the README's advice
			// (just above the function timeout, with room for a slow
			// commit).
			"transaction.timeout.ms": "5000",
		})
		return string(b)
	}
	r.sm = secretstest.NewServer(t, map[string]string{secretID: r.secret(r.fn[0])})
	return r
}

// secretValues returns every form of every secret of the rig that must
// never be seen in a log or an error.
func (r *rig) secretValues() []string {
	var out []string
	for _, f := range append([]credential{r.admin, r.registry}, r.fn...) {
		out = append(out, secretForms(f.user, f.pass)...)
	}
	return out
}

// fnUser returns the user the secret holds now.
func (r *rig) fnUser() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fn[r.fnCur].user
}

// rotate stores the next credentials in the secret, as a rotation does,
// and returns the user they replace.
func (r *rig) rotate() string {
	r.mu.Lock()
	old := r.fn[r.fnCur]
	r.fnCur = (r.fnCur + 1) % len(r.fn)
	next := r.fn[r.fnCur]
	r.mu.Unlock()
	r.sm.PutString(secretID, r.secret(next))
	return old.user
}

// secretsClient is the real AWS SDK client of Secrets Manager, pointed at
// the rig's endpoint; its retries back off briefly so that the soak stays
// short.
func (r *rig) secretsClient() *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		BaseEndpoint: aws.String(r.sm.URL),
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSOAK", "soak-not-a-secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxBackoff = 50 * time.Millisecond
		}),
	})
}

// tradesettle is the function's handler.
type tradesettle = kafkalambda.Handler[string, *tradepb.UserTrade]

// wire builds the tradesettle handler as the deployed function does
// (app.Wire, secret from Secrets Manager), with policy as FAILURE_POLICY,
// logging to logger.
func (r *rig) wire(ctx context.Context, policy string, rules settle.Rules, logger *slog.Logger) (*tradesettle, error) {
	env := map[string]string{
		app.EnvSecretID:        secretID,
		app.EnvFailurePolicy:   policy,
		app.EnvDeadLetterTopic: deadLetterTopic,
	}
	if r.eosGroup != "" {
		env[app.EnvExactlyOnceGroup] = r.eosGroup
	}
	fn, err := app.Wire(ctx,
		app.WithSecretsClient(r.secretsClient()),
		app.WithLogger(logger),
		app.WithRules(rules),
		app.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		return nil, fmt.Errorf("app.Wire: %w", err)
	}
	h, err := fn.Handler()
	if err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	return h, nil
}

// function builds one tradesettle handler (see wire), closed with t.
func (r *rig) function(ctx context.Context, t *testing.T, policy string, rules settle.Rules) *tradesettle {
	t.Helper()
	h, err := r.wire(ctx, policy, rules, r.logs.logger("function"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// environments runs the function as Lambda does: each invocation in an
// execution environment of its own — a handler built by wire, with its own
// secret cache, registry client and producer — taken from those that are
// free (warm), or made for it (a cold start) when none is; an environment
// runs one invocation at a time and is kept for the next. The mapping
// invokes the function for its partitions at once, so the soak has up to
// one environment per partition, as Lambda scales to the mapping's
// concurrency.
//
// A cold start runs the function's INIT first, as the deployed function's
// kafkalambda.Start does: Handler.Check (the secret read and mapped, the
// librdkafka producer created), bounded by initTimeout and outside the
// invocation's timeout, as Lambda's INIT phase is. A configuration error
// there fails INIT (the environment is dropped); any other is the first
// invocation's to meet again, as with Start.
type environments struct {
	make func(n int) (*tradesettle, error)
	log  func(n int) *slog.Logger

	mu      sync.Mutex
	made    int // environments made or being made
	free    []*tradesettle
	all     []*tradesettle
	stopped bool
}

// environments returns the function's environments for a run of policy,
// closed with t. Environment n logs as component "function" with
// "environment": n.
func (r *rig) environments(ctx context.Context, t *testing.T, policy string, rules settle.Rules) *environments {
	e := &environments{log: func(n int) *slog.Logger { return r.logs.logger("function").With("environment", n) }}
	e.make = func(n int) (*tradesettle, error) { return r.wire(ctx, policy, rules, e.log(n)) }
	t.Cleanup(e.Close)
	return e
}

// initTimeout bounds a cold start's INIT check: kafkalambda.Start's default.
const initTimeout = 5 * time.Second

// take returns a free environment, or makes one and runs its INIT.
func (e *environments) take() (*tradesettle, error) {
	e.mu.Lock()
	if n := len(e.free); n > 0 {
		h := e.free[n-1]
		e.free = e.free[:n-1]
		e.mu.Unlock()
		return h, nil
	}
	n := e.made
	e.made++
	e.mu.Unlock()
	h, err := e.make(n)
	if err != nil {
		return nil, fmt.Errorf("soak: execution environment %d: %w", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	err = h.Check(ctx)
	cancel()
	switch {
	case err == nil:
	case kafkalambda.Classify(err) == kafkalambda.ClassConfiguration:
		h.Close()
		return nil, fmt.Errorf("soak: execution environment %d: INIT failed: %w", n, err)
	default:
		e.log(n).Warn("soak: init check failed; the first invocation tries again", "error", err.Error())
	}
	e.mu.Lock()
	e.all = append(e.all, h)
	e.mu.Unlock()
	return h, nil
}

func (e *environments) give(h *tradesettle) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.stopped {
		e.free = append(e.free, h)
	}
}

// count returns how many environments were made.
func (e *environments) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.all)
}

// Close shuts every environment down, as Lambda does (SIGTERM).
func (e *environments) Close() {
	e.mu.Lock()
	e.stopped = true
	all := slices.Clone(e.all)
	e.mu.Unlock()
	for _, h := range all {
		h.Close()
	}
}

// fnDoor is the index of the broker's door that the function uses (see
// outageListener.setDoorDown).
const fnDoor = 0

// clientOptions are the options of the mapping's and the test's own kgo
// clients: the cluster's, with a dialer that goes through the mapping's
// door whatever broker address the client is given.
func (r *rig) clientOptions() []kgo.Opt {
	advertised := r.lis.Addr().String()
	var d net.Dialer
	return append(r.c.ClientOptions(), kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
		if host == advertised {
			host = r.mapAddr
		}
		return d.DialContext(ctx, network, host)
	}))
}

// adminClient returns a kadm client of the rig's broker, closed with t.
func (r *rig) adminClient(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(r.clientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// lag returns, per partition of topic, how far group's committed offset
// is behind the end ("" when none is), and an error when the broker does
// not answer.
func lag(ctx context.Context, adm *kadm.Client, group, topic string) (string, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return "", fmt.Errorf("end offsets: %w", err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return "", fmt.Errorf("committed offsets: %w", err)
	}
	behind := ""
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := committed.Lookup(topic, o.Partition)
		if c.At < o.Offset {
			behind += fmt.Sprintf(" %s-%d committed %d of %d", topic, o.Partition, c.At, o.Offset)
		}
	})
	return behind, nil
}

// watchedTarget is the in-process function target, run in the function's
// execution environments, with a watchdog: it keeps every function
// error's text (for the secret scan) and measures how long invocations
// take against the function timeout — Lambda would kill one that
// overruns, so an in-process one must not. A cold start's INIT comes
// before the invocation and its timeout, as on Lambda.
type watchedTarget struct {
	envs    *environments
	timeout time.Duration
	logs    *logSink
	before  func(payload []byte) // called as each invocation starts, if set
	// redeliverEvery, when not 0, invokes the function again with the
	// same batch after every redeliverEvery-th invocation that succeeded,
	// as the mapping does when the function's answer is lost or its poller
	// restarts: a forced redelivery of a batch whose invocation succeeded.
	redeliverEvery int
	mu             sync.Mutex
	longest        time.Duration
	overrun        []string
	succeeded      int
	redelivered    int // redeliveries made
	redeliveredOK  int // of those, invocations that succeeded
}

func (w *watchedTarget) Invoke(ctx context.Context, payload []byte) (esm.Result, error) {
	h, err := w.envs.take()
	if err != nil {
		w.logs.keepErr(err)
		return esm.Result{}, err // as the Invoke API answers a failed INIT: the mapping tries again
	}
	defer w.envs.give(h)
	if w.before != nil {
		w.before(payload)
	}
	inner := esm.HandlerTarget{Handler: h, Timeout: w.timeout}
	start := time.Now()
	res, err := inner.Invoke(ctx, payload)
	took := time.Since(start)
	if res.FunctionError != "" {
		w.logs.keepError(string(res.Payload))
	}
	w.logs.keepErr(err)
	w.mu.Lock()
	w.longest = max(w.longest, took)
	if took > w.timeout+overrunGrace {
		w.overrun = append(w.overrun, fmt.Sprintf("an invocation took %v with a %v timeout", took.Round(time.Millisecond), w.timeout))
	}
	again := false
	if err == nil && res.FunctionError == "" && w.redeliverEvery > 0 {
		w.succeeded++
		again = w.succeeded%w.redeliverEvery == 0
	}
	w.mu.Unlock()
	if again {
		w.redeliver(ctx, h, payload)
	}
	return res, err
}

// redeliver invokes h again with payload, whose invocation succeeded.
func (w *watchedTarget) redeliver(ctx context.Context, h *tradesettle, payload []byte) {
	again := esm.HandlerTarget{Handler: h, Timeout: w.timeout}
	res, err := again.Invoke(ctx, payload)
	if res.FunctionError != "" {
		w.logs.keepError(string(res.Payload))
	}
	w.logs.keepErr(err)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.redelivered++
	if err == nil && res.FunctionError == "" {
		w.redeliveredOK++
	}
}

// overrunGrace is how much longer than the function timeout an invocation
// may take, in process on a loaded machine, before the soak calls it a
// hang.
const overrunGrace = 2 * time.Second
