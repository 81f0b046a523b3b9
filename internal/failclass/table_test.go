package failclass_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

var update = flag.Bool("update", false, "rewrite the failure table in README.md")

// row is one line of the README's failure table.
type row struct {
	// source is what failed, as the README names it.
	source string
	// condition is the failure as a user would describe it.
	condition string
	// class is what kafkalambda.Classify says of the error the user gets.
	class kafkalambda.FailureClass
	// atInit: the check Start makes before the first invocation
	// (Handler.Check) finds it too, and fails INIT.
	atInit bool
	// is lists sentinels the error matches with errors.Is.
	is []sentinel
	// says is text the error must contain: the cause, visible.
	says string
	// produce makes the failure happen with the real component and returns
	// what the user sees.
	produce func(t *testing.T) seen
}

// sentinel is an error variable and its name, for the table.
type sentinel struct {
	name string
	err  error
}

// The sources, as the table names them.
const (
	srcRegistry = "Schema Registry"
	srcDeser    = "deserializer"
	srcProcess  = "`Process`"
	srcSend     = "`Output.Send`"
	srcBroker   = "broker"
	srcSecret   = "secret source"
	srcTxn      = "transaction (`WithExactlyOnce`)"
)

// Sentinels of the table.
var (
	isUnknownSchema     = sentinel{"serde.ErrUnknownSchema", serde.ErrUnknownSchema}
	isRegistry          = sentinel{"serde.ErrRegistry", serde.ErrRegistry}
	isRegistryAuth      = sentinel{"serde.ErrRegistryAuth", serde.ErrRegistryAuth}
	isMagicByte         = sentinel{"serde.ErrMagicByte", serde.ErrMagicByte}
	isTruncated         = sentinel{"serde.ErrTruncated", serde.ErrTruncated}
	isDecode            = sentinel{"serde.ErrDecode", serde.ErrDecode}
	isSchemaNotAllowed  = sentinel{"serde.ErrSchemaNotAllowed", serde.ErrSchemaNotAllowed}
	isUnknownRecordType = sentinel{"serde.ErrUnknownRecordType", serde.ErrUnknownRecordType}
	isEncode            = sentinel{"serde.ErrEncode", serde.ErrEncode}
	isDeadline          = sentinel{"context.DeadlineExceeded", context.DeadlineExceeded}
	isPanic             = sentinel{"kafkalambda.ErrPanic", kafkalambda.ErrPanic}
	isTransient         = sentinel{"kafkalambda.ErrTransient", kafkalambda.ErrTransient}
	isMisconfigured     = sentinel{"kafkalambda.ErrMisconfigured", kafkalambda.ErrMisconfigured}
	isNoInvocation      = sentinel{"kafkalambda.ErrNoInvocation", kafkalambda.ErrNoInvocation}
	isProducer          = sentinel{"kafkalambda.ErrProducer", kafkalambda.ErrProducer}
	isUndelivered       = sentinel{"kafkalambda.ErrUndelivered", kafkalambda.ErrUndelivered}
	isTransaction       = sentinel{"kafkalambda.ErrTransaction", kafkalambda.ErrTransaction}
	isNotFound          = sentinel{"secrets.ErrNotFound", secrets.ErrNotFound}
	isAccessDenied      = sentinel{"secrets.ErrAccessDenied", secrets.ErrAccessDenied}
	isThrottled         = sentinel{"secrets.ErrThrottled", secrets.ErrThrottled}
	isUnavailable       = sentinel{"secrets.ErrUnavailable", secrets.ErrUnavailable}
	isMalformed         = sentinel{"secrets.ErrMalformed", secrets.ErrMalformed}
	isUnknownKey        = sentinel{"secrets.ErrUnknownKey", secrets.ErrUnknownKey}
)

func is(s ...sentinel) []sentinel { return s }

// table is the README's failure table, in its order.
var table = []row{
	// The Schema Registry, asked by a deserializer for the record's schema.
	{srcRegistry, "the record's schema id is not in the registry (HTTP 404, error code 40403)",
		kafkalambda.ClassRecord, false, is(isUnknownSchema), "40403", registryUnknownID},
	{srcRegistry, "the registry URL is wrong: a plain HTTP 404 without a Schema Registry error code",
		kafkalambda.ClassEnvironment, false, is(isRegistry), "is the registry URL right?", registryWrongURL},
	{srcRegistry, "credentials missing or rejected (HTTP 401, error code 401)",
		kafkalambda.ClassConfiguration, false, is(isRegistryAuth), "401", registryStatus(401, `{"error_code":401,"message":"Unauthorized"}`)},
	{srcRegistry, "credentials may not read the subject (HTTP 403, error code 40301)",
		kafkalambda.ClassConfiguration, false, is(isRegistryAuth), "40301",
		registryStatus(403, `{"error_code":40301,"message":"User is denied operation Read on Subject: orders-value"}`)},
	{srcRegistry, "server error (HTTP 500, error code 50001), after retries",
		kafkalambda.ClassEnvironment, false, is(isRegistry), "50001",
		registryStatus(500, `{"error_code":50001,"message":"Error in the backend data store"}`)},
	{srcRegistry, "unavailable (HTTP 503 from a load balancer, not JSON), after retries",
		kafkalambda.ClassEnvironment, false, is(isRegistry), "503", registryStatus(503, "Service Unavailable")},
	{srcRegistry, "rate limited (HTTP 429), after retries",
		kafkalambda.ClassEnvironment, false, is(isRegistry), "429", registryStatus(429, `{"error_code":429,"message":"Too Many Requests"}`)},
	{srcRegistry, "connection refused",
		kafkalambda.ClassEnvironment, false, is(isRegistry), "connection refused", registryRefused},
	{srcRegistry, "no answer before the invocation's deadline",
		kafkalambda.ClassEnvironment, false, is(isRegistry, isDeadline), "", registryHangs},

	// A deserializer (serde.Avro, serde.JSON) given the record's bytes.
	{srcDeser, "Confluent framing with a magic byte other than 0",
		kafkalambda.ClassRecord, false, is(isMagicByte), "", deserBadMagic},
	{srcDeser, "shorter than the Confluent header",
		kafkalambda.ClassRecord, false, is(isTruncated), "", deserTruncated},
	{srcDeser, "the Avro body does not decode with the writer schema",
		kafkalambda.ClassRecord, false, is(isDecode), "", deserAvroBody},
	{srcDeser, "the value is not JSON (`serde.JSON`)",
		kafkalambda.ClassRecord, false, is(isDecode), "", deserJSON},
	{srcDeser, "a schema bundled into the function (`serde.Bundled`) and the record names another id than the schema's own, or than its `WithAllowedIDs`",
		kafkalambda.ClassRecord, false, is(isSchemaNotAllowed, isUnknownSchema), "", deserNotAllowed},
	{srcDeser, "several record types on the topic (`serde.Union`) and none of its cases is the record's type",
		kafkalambda.ClassRecord, false, is(isUnknownRecordType), "Order", deserNoCase},

	// Process, the user's func.
	{srcProcess, "returns an error",
		kafkalambda.ClassRecord, false, nil, "order total is negative", processError},
	{srcProcess, "panics",
		kafkalambda.ClassRecord, false, is(isPanic), "nil map", processPanic},
	{srcProcess, "returns `kafkalambda.Transient(err)`",
		kafkalambda.ClassEnvironment, false, is(isTransient), "", processTransient},
	{srcProcess, "returns `kafkalambda.Misconfigured(err)`",
		kafkalambda.ClassConfiguration, false, is(isMisconfigured), "", processMisconfigured},
	{srcProcess, "returns a network error (a `net.Error`: a service refused the connection)",
		kafkalambda.ClassEnvironment, false, nil, "connection refused", processNetError},
	{srcProcess, "returns `ctx.Err()` at the invocation's deadline",
		kafkalambda.ClassEnvironment, false, is(isDeadline), "", processDeadline},

	// Output.Send, before the record is queued.
	{srcSend, "the message is larger than the producer's `message.max.bytes`",
		kafkalambda.ClassRecord, false, is(isProducer), "too large", sendTooLarge},
	{srcSend, "the value cannot be encoded with the output's schema",
		kafkalambda.ClassRecord, false, is(isEncode), "", sendCannotEncode},
	{srcSend, "the output's schema is not registered and auto-registration is off",
		kafkalambda.ClassConfiguration, false, is(isUnknownSchema), "", sendNotRegistered},
	{srcSend, "called with a `ctx` that is not the one `Process` received",
		kafkalambda.ClassConfiguration, false, is(isNoInvocation), "", sendWrongCtx},

	// The brokers, through the librdkafka producer: what the flush at the
	// end of the invocation finds.
	{srcBroker, "unreachable (connection refused): the record is purged at the deadline",
		kafkalambda.ClassEnvironment, false, is(isUndelivered), "Connection refused", brokerRefused},
	{srcBroker, "SASL credentials rejected",
		kafkalambda.ClassConfiguration, false, is(isUndelivered), "SASL authentication", brokerSASLRejected},
	{srcBroker, "the broker's TLS certificate is not trusted (no CA for it)",
		kafkalambda.ClassConfiguration, false, is(isUndelivered), "certificate verify failed", brokerCertUntrusted},
	{srcBroker, "the output topic does not exist (after `topic.metadata.propagation.max.ms`)",
		kafkalambda.ClassConfiguration, false, is(isUndelivered), "nknown topic", brokerNoTopic(200)},
	{srcBroker, "the output topic does not exist, and the deadline comes first (`topic.metadata.propagation.max.ms` is 30 s by default): purged",
		kafkalambda.ClassEnvironment, false, is(isUndelivered), "", brokerNoTopic(0)},
	{srcBroker, "the credentials may not write to the topic (TOPIC_AUTHORIZATION_FAILED)",
		kafkalambda.ClassConfiguration, false, is(isUndelivered), "", brokerRejects(kerr.TopicAuthorizationFailed)},
	{srcBroker, "the credentials may not write idempotently (CLUSTER_AUTHORIZATION_FAILED for the producer id; MSK IAM without `kafka-cluster:WriteDataIdempotently`)",
		kafkalambda.ClassConfiguration, false, is(isUndelivered), "authorization", brokerNoIdempotentWrite},
	{srcBroker, "the broker rejects the batch (INVALID_RECORD)",
		kafkalambda.ClassConfiguration, false, is(isUndelivered), "", brokerRejects(kerr.InvalidRecord)},
	{srcBroker, "the batch is larger than the topic's `max.message.bytes` (MESSAGE_TOO_LARGE)",
		kafkalambda.ClassConfiguration, false, is(isUndelivered), "", brokerRejects(kerr.MessageTooLarge)},
	{srcBroker, "NOT_LEADER_OR_FOLLOWER until the deadline: purged",
		kafkalambda.ClassEnvironment, false, is(isUndelivered), "", brokerRetriable(kerr.NotLeaderForPartition)},
	{srcBroker, "REQUEST_TIMED_OUT until the deadline: purged",
		kafkalambda.ClassEnvironment, false, is(isUndelivered), "", brokerRetriable(kerr.RequestTimedOut)},
	{srcBroker, "fatal idempotent producer error (OUT_OF_ORDER_SEQUENCE_NUMBER); the producer is replaced",
		kafkalambda.ClassEnvironment, false, is(isUndelivered, isProducer), "Fatal error", brokerFatal},

	// Exactly-once mode's transactions, through the librdkafka producer:
	// begun with the invocation (the progress read and the claim),
	// committed at its end.
	{srcTxn, "the brokers refuse the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED; MSK IAM without `kafka-cluster:AlterTransactionalId`)",
		kafkalambda.ClassConfiguration, false, is(isTransaction, isProducer), "", txnRefused(kmsg.InitProducerID, kerr.TransactionalIDAuthorizationFailed)},
	{srcTxn, "the credentials may not read the progress group (GROUP_AUTHORIZATION_FAILED)",
		kafkalambda.ClassConfiguration, false, is(isTransaction, isProducer), "", txnRefused(kmsg.OffsetFetch, kerr.GroupAuthorizationFailed)},
	{srcTxn, "a new transactional producer's init (producer id) not done by the deadline (COORDINATOR_LOAD_IN_PROGRESS throughout); the next transaction resumes it",
		kafkalambda.ClassEnvironment, false, is(isTransaction, isProducer), "under way at the deadline", txnInitLoading},
	{srcTxn, "the coordinator does not answer the commit before the deadline",
		kafkalambda.ClassEnvironment, false, is(isTransaction, isProducer), "deadline", txnCommitHangs},

	// The secret source (secrets.Loader reading Secrets Manager), as the
	// librdkafka producer's config func: read when the producer is made,
	// at the INIT check and on the first send.
	{srcSecret, "the secret does not exist (ResourceNotFoundException)",
		kafkalambda.ClassConfiguration, true, is(isNotFound), "", secretNotFound},
	{srcSecret, "the function may not read it (AccessDeniedException)",
		kafkalambda.ClassConfiguration, true, is(isAccessDenied), "",
		secretFault(secretstest.AccessDenied, fewRetries, run{})},
	{srcSecret, "throttled (ThrottlingException) until the deadline",
		kafkalambda.ClassEnvironment, false, is(isThrottled), "", secretFault(secretstest.Throttling, untilDeadline, run{deadline: 2 * time.Second})},
	{srcSecret, "unavailable (HTTP 500 InternalServiceError), after retries",
		kafkalambda.ClassEnvironment, false, is(isUnavailable), "", secretFault(secretstest.InternalError, fewRetries, run{})},
	{srcSecret, "the secret is not a JSON object",
		kafkalambda.ClassConfiguration, true, is(isMalformed), "", secretHolding(`bootstrap.servers=127.0.0.1:9`)},
	{srcSecret, "the secret holds a key librdkafka does not know",
		kafkalambda.ClassConfiguration, true, is(isUnknownKey), "bootstrap.server",
		secretHolding(`{"bootstrap.server":"127.0.0.1:9"}`)},
	{srcSecret, "librdkafka rejects a property's value",
		kafkalambda.ClassConfiguration, true, is(isProducer), "acks", secretHolding(`{"bootstrap.servers":"127.0.0.1:9","acks":"most"}`)},
	{srcSecret, "the secret sets `transactional.id` (the producer owns transactional ids)",
		kafkalambda.ClassConfiguration, true, is(isProducer), "transactional.id", secretHolding(`{"bootstrap.servers":"127.0.0.1:9","transactional.id":"settle-1"}`)},
	{srcSecret, "the secret sets `client.software.name` or `.version` without an ASCII letter or digit (librdkafka 2.11.1 would read past it)",
		kafkalambda.ClassConfiguration, true, is(isProducer), "client.software.name", secretHolding(`{"bootstrap.servers":"127.0.0.1:9","client.software.name":"--"}`)},
	{srcSecret, "the secret sets `delivery.report.only.error` (flush-at-end needs the report of every message, delivered or not)",
		kafkalambda.ClassConfiguration, true, is(isProducer), "delivery.report.only.error", secretHolding(`{"bootstrap.servers":"127.0.0.1:9","delivery.report.only.error":true}`)},
}

// handling says what the handler does with a failure of the row's class.
func (r row) handling() string {
	if r.source == srcTxn {
		return "fails the invocation, its transactions aborted; never dead-lettered"
	}
	switch r.class {
	case kafkalambda.ClassRecord:
		return "the policy: fail the batch, report, or dead-letter"
	case kafkalambda.ClassConfiguration:
		if r.atInit {
			return "fails INIT when the init check finds it; else fails the invocation (or reported with `WithEnvironmentItemFailures`); never dead-lettered"
		}
	}
	return "fails the invocation (or reported with `WithEnvironmentItemFailures`); never dead-lettered"
}

// TestTable produces every row's failure with the real component and
// checks its class, its sentinels, and what the handler did with it.
func TestTable(t *testing.T) {
	t.Parallel()
	for _, r := range table {
		t.Run(r.source+": "+r.condition, func(t *testing.T) {
			t.Parallel()
			s := r.produce(t)
			t.Logf("the error: %v", s.err)
			if s.err == nil {
				t.Fatal("no failure: the handler succeeded")
			}
			if got := kafkalambda.Classify(s.err); got != r.class {
				t.Errorf("class %q, want %q; the error: %v", got, r.class, s.err)
			}
			for _, want := range r.is {
				if !errors.Is(s.err, want.err) {
					t.Errorf("the error does not match %s: %v", want.name, s.err)
				}
			}
			if r.says != "" && !strings.Contains(s.err.Error(), r.says) {
				t.Errorf("the error does not say %q: %v", r.says, s.err)
			}
			// What the handler did must be what the table says it does.
			if r.class == kafkalambda.ClassRecord {
				if !s.deadLettered || s.invokeErr != nil {
					t.Errorf("a record's failure: dead-lettered %v, Invoke = %v; want dead-lettered and success", s.deadLettered, s.invokeErr)
				}
			} else if s.deadLettered || !errors.Is(s.invokeErr, kafkalambda.ErrBatchFailed) {
				t.Errorf("not the record's fault: dead-lettered %v, Invoke = %v; want the invocation failed, nothing dead-lettered", s.deadLettered, s.invokeErr)
			}
			// Start fails INIT on a configuration failure of the check.
			if atInit := kafkalambda.Classify(s.checkErr) == kafkalambda.ClassConfiguration; atInit != r.atInit {
				t.Errorf("the init check = %v (class %q); the row says it fails INIT: %v",
					s.checkErr, kafkalambda.Classify(s.checkErr), r.atInit)
			}
		})
	}
}

// The README section the table is rendered into.
const (
	readme    = "../../README.md"
	beginMark = "<!-- failure-classes:begin -->"
	endMark   = "<!-- failure-classes:end -->"
)

// render writes the table as Markdown.
func render(rows []row) string {
	var b strings.Builder
	b.WriteString("| Source | Failure | Class | Matches (`errors.Is`) | What the handler does |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		var is []string
		for _, s := range r.is {
			is = append(is, "`"+s.name+"`")
		}
		if len(is) == 0 {
			is = []string{"—"}
		}
		cells := []string{r.source, r.condition, string(r.class), strings.Join(is, ", "), r.handling()}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// TestREADME checks that the README's table is the rendered table;
// -update rewrites it.
func TestREADME(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	begin := bytes.Index(doc, []byte(beginMark))
	end := bytes.Index(doc, []byte(endMark))
	if begin < 0 || end < begin {
		t.Fatalf("%s has no %s ... %s section", readme, beginMark, endMark)
	}
	begin += len(beginMark)
	want := "\n" + render(table)
	if got := string(doc[begin:end]); got == want {
		return
	}
	if !*update {
		t.Fatalf("the failure table in %s differs from the one the tests check; run go test ./internal/failclass -update", readme)
	}
	out := append(append(append([]byte{}, doc[:begin]...), want...), doc[end:]...)
	if err := os.WriteFile(readme, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRows checks the table's own consistency.
func TestRows(t *testing.T) {
	t.Parallel()
	seenCond := map[string]bool{}
	for _, r := range table {
		switch {
		case r.source == "" || r.condition == "" || r.produce == nil:
			t.Errorf("incomplete row %+v", r)
		case r.class != kafkalambda.ClassRecord && r.class != kafkalambda.ClassEnvironment && r.class != kafkalambda.ClassConfiguration:
			t.Errorf("row %q: class %q", r.condition, r.class)
		case r.atInit && r.class != kafkalambda.ClassConfiguration:
			t.Errorf("row %q: only a configuration failure fails INIT", r.condition)
		case seenCond[r.source+r.condition]:
			t.Errorf("row %q twice", r.condition)
		}
		seenCond[r.source+r.condition] = true
	}
}
