package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// Environment variables that Wire reads. The SAM template sets them; the
// secrets package also reads KAFKA_BOOTSTRAP_SERVERS and AWS_REGION, and
// the AWS SDK its own (AWS_ENDPOINT_URL_SECRETS_MANAGER, credentials).
const (
	// EnvSecretID, EnvSecretFile and EnvSecretJSON choose where the Kafka
	// and Schema Registry settings come from (see the README for the
	// secret's JSON); Wire reads them through secrets.FromEnv, which
	// documents them: exactly one must be set. EnvSecretID is the secret's
	// name or ARN, read from Secrets Manager, or through the AWS Parameters
	// and Secrets Lambda Extension when PARAMETERS_SECRETS_EXTENSION_HTTP_PORT
	// is set (secrets.EnvExtensionPort); EnvSecretFile the path of a file
	// holding the JSON, and EnvSecretJSON the JSON itself, for local runs.
	EnvSecretID   = secrets.EnvSecretID
	EnvSecretFile = secrets.EnvSecretFile
	EnvSecretJSON = secrets.EnvSecretJSON
	// EnvSecretSource chose between Secrets Manager and the extension
	// before the secret was read through secrets.FromEnv.
	//
	// Deprecated: set PARAMETERS_SECRETS_EXTENSION_HTTP_PORT for the
	// extension instead. Wire still honours "extension" (as the extension
	// on its default port, 2773, when the port is not set) and
	// "secretsmanager" (the default), and refuses any other value.
	EnvSecretSource = "KAFKA_SECRET_SOURCE"
	// EnvAuth is "SECRET" (default: SASL and TLS settings from the secret)
	// or "MSK_IAM" (Amazon MSK with IAM authentication: tokens signed with
	// the function's role, brokers from KAFKA_BOOTSTRAP_SERVERS; the secret
	// then holds the Schema Registry settings only).
	EnvAuth = "KAFKA_AUTH"
	// EnvOutputTopic overrides the settlements topic (default OutputTopic).
	EnvOutputTopic = "SETTLEMENT_TOPIC"
	// EnvFailurePolicy says what a trade that cannot be settled does (see
	// the package documentation, Failures):
	//
	//   - FAIL_BATCH (default): any failure fails the invocation, and the
	//     event source mapping retries the batch. Safe with any mapping; a
	//     poison record blocks its partition until the mapping gives the
	//     batch up.
	//   - REPORT_BATCH_ITEM_FAILURES: a poison record is reported back with
	//     the rest of its partition; the mapping retries them, and gives up
	//     the good records after it along with it. Other failures fail the
	//     invocation. Needs a mapping with ReportBatchItemFailures.
	//   - DEAD_LETTER: a poison record goes to EnvDeadLetterTopic and its
	//     partition goes on; other failures fail the invocation.
	//   - ISOLATE_POISON: DEAD_LETTER, and other failures (the registry, the
	//     brokers, the configuration) are reported as batch item failures
	//     instead of failing the invocation, so that only those records
	//     are retried. Needs a mapping with ReportBatchItemFailures; what
	//     template.yaml deploys.
	EnvFailurePolicy = "FAILURE_POLICY"
	// EnvDeadLetterTopic is the dead-letter topic of DEAD_LETTER and
	// ISOLATE_POISON; required with them.
	EnvDeadLetterTopic = "DEAD_LETTER_TOPIC"
	// EnvDeadLetterFormat is how DEAD_LETTER and ISOLATE_POISON write a
	// poison record: RAW (default: as it came, with the SDK's headers
	// naming the error and the source, kafkalambda.DeadLetter) or REJECTION
	// (a SettlementRejected JSON record, Config.RejectedTopic). Ignored by
	// the other policies.
	EnvDeadLetterFormat = "DEAD_LETTER_FORMAT"
	// EnvExactlyOnceGroup turns exactly-once outputs on
	// (kafkalambda.WithExactlyOnce): each invocation's settlements and
	// dead-letter writes are one Kafka transaction, with the invocation's
	// progress committed to this consumer group (one used for nothing else:
	// never the event source mapping's), and a redelivered batch is not
	// settled twice. Consumers of the settlements must read with
	// isolation.level=read_committed. Default: unset (at-least-once).
	EnvExactlyOnceGroup = "EXACTLY_ONCE_GROUP"
	// EnvTransactionalIDPrefix is the prefix of the producer's
	// transactional ids in exactly-once mode (default: the function's name,
	// AWS_LAMBDA_FUNCTION_NAME, or "tradesettle"): what the brokers' ACLs
	// (MSK IAM: transactional-id/<cluster>/<prefix>*) must allow.
	EnvTransactionalIDPrefix = "TRANSACTIONAL_ID_PREFIX"
)

// Values of EnvFailurePolicy and EnvDeadLetterFormat.
const (
	PolicyFailBatch      = "FAIL_BATCH"
	PolicyReportItems    = "REPORT_BATCH_ITEM_FAILURES"
	PolicyDeadLetter     = "DEAD_LETTER"
	PolicyIsolatePoison  = "ISOLATE_POISON"
	DeadLetterRaw        = "RAW"
	DeadLetterRejections = "REJECTION"
)

// failureConfig is what EnvFailurePolicy and its companions set in Config.
type failureConfig struct {
	policy        kafkalambda.FailurePolicy
	rejectedTopic string
	envItems      bool
}

// failuresFromEnv reads EnvFailurePolicy, EnvDeadLetterTopic and
// EnvDeadLetterFormat.
func failuresFromEnv(env func(string) string) (failureConfig, error) {
	format := env(EnvDeadLetterFormat)
	switch format {
	case "", DeadLetterRaw, DeadLetterRejections:
	default:
		return failureConfig{}, fmt.Errorf("%w: %s=%q: want %s or %s", ErrConfig, EnvDeadLetterFormat, format, DeadLetterRaw, DeadLetterRejections)
	}
	switch p := env(EnvFailurePolicy); p {
	case "", PolicyFailBatch:
		return failureConfig{policy: kafkalambda.FailBatch()}, nil
	case PolicyReportItems:
		return failureConfig{policy: kafkalambda.ReportItemFailures()}, nil
	case PolicyDeadLetter, PolicyIsolatePoison:
		topic := env(EnvDeadLetterTopic)
		if topic == "" {
			return failureConfig{}, fmt.Errorf("%w: %s=%s needs %s", ErrConfig, EnvFailurePolicy, p, EnvDeadLetterTopic)
		}
		fc := failureConfig{envItems: p == PolicyIsolatePoison}
		if format == DeadLetterRejections {
			fc.rejectedTopic = topic
		} else {
			fc.policy = kafkalambda.DeadLetter(topic)
		}
		return fc, nil
	default:
		return failureConfig{}, fmt.Errorf("%w: %s=%q: want %s, %s, %s or %s", ErrConfig, EnvFailurePolicy, p,
			PolicyFailBatch, PolicyReportItems, PolicyDeadLetter, PolicyIsolatePoison)
	}
}

// WireOption adjusts Wire, for local runs and tests.
type WireOption func(*wiring)

type wiring struct {
	lookupEnv func(string) (string, bool)
	logger    *slog.Logger
	rules     settle.Rules
	sm        secrets.GetSecretValueAPIClient
}

// WithLookupEnv makes Wire (and the secrets package) read configuration
// through lookup instead of os.LookupEnv.
func WithLookupEnv(lookup func(string) (string, bool)) WireOption {
	return func(w *wiring) { w.lookupEnv = lookup }
}

// WithLogger sets the logger of the handler, the producer and the secret
// loader. Default: kafkalambda.LambdaLogger on stderr, reading
// AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL through the lookup of
// WithLookupEnv, as the deployed function logs;
// slog.New(slog.DiscardHandler) silences them.
func WithLogger(l *slog.Logger) WireOption {
	return func(w *wiring) { w.logger = l }
}

// WithRules sets the settlement rules (default: the zero settle.Rules).
func WithRules(r settle.Rules) WireOption {
	return func(w *wiring) { w.rules = r }
}

// WithSecretsClient reads the secret named by EnvSecretID through c, instead
// of secrets.FromEnv choosing the source: for local runs and tests that
// serve the secret from their own Secrets Manager endpoint. EnvSecretID is
// then required, and EnvSecretFile and EnvSecretJSON are not read.
func WithSecretsClient(c secrets.GetSecretValueAPIClient) WireOption {
	return func(w *wiring) { w.sm = c }
}

// Wire builds the Function as the deployed function runs it, in three
// steps: the secret (a secrets.Loader that caches it, from secrets.FromEnv:
// the environment chooses Secrets Manager, the extension, a file or the
// JSON itself), the shared producer
// (its config from the secret; a broker's authentication failure
// invalidates the cached secret so that a rotated one is read at once), and
// the function over a Schema Registry client made from the secret on first
// use. ctx bounds loading the AWS configuration; nothing else does I/O
// until the first record.
//
// A missing or wrong environment variable is an error wrapping ErrConfig
// that names it (for the secret's variables, it wraps
// secrets.ErrInvalidOption too: none or more than one of EnvSecretID,
// EnvSecretFile and EnvSecretJSON set); other errors come from the secrets
// and kafkalambda constructors.
func Wire(ctx context.Context, opts ...WireOption) (*Function, error) {
	w := wiring{lookupEnv: os.LookupEnv}
	for _, o := range opts {
		if o != nil {
			o(&w)
		}
	}
	env := func(k string) string { v, _ := w.lookupEnv(k); return v }
	if w.logger == nil {
		w.logger = kafkalambda.LambdaLogger(os.Stderr, env)
	}
	failures, err := failuresFromEnv(env)
	if err != nil {
		return nil, err
	}

	// 1. The secret.
	loader, err := w.loader(ctx, env)
	if err != nil {
		return nil, err
	}

	// 2. The shared producer: librdkafka, or franz-go when built with
	// -tags franz (see producer_librdkafka.go, producer_franz.go). The
	// transactional ids of exactly-once mode start with prefix.
	prefix := env(EnvTransactionalIDPrefix)
	if prefix == "" {
		prefix = env("AWS_LAMBDA_FUNCTION_NAME")
	}
	if prefix == "" {
		prefix = "tradesettle"
	}
	auth := env(EnvAuth)
	var iam *secrets.MSKIAM
	switch auth {
	case "", "SECRET":
	case "MSK_IAM":
		if iam, err = secrets.NewMSKIAM(secrets.WithLookupEnv(w.lookupEnv)); err != nil {
			return nil, fmt.Errorf("tradesettle: %s=MSK_IAM: %w", EnvAuth, err)
		}
	default:
		return nil, fmt.Errorf("%w: %s=%q: want SECRET or MSK_IAM", ErrConfig, EnvAuth, auth)
	}
	producer, err := newProducer(loader, iam, w.logger, prefix)
	if err != nil {
		return nil, fmt.Errorf("tradesettle: producer: %w", err)
	}

	// 3. The function.
	return New(Config{
		Registry:                  NewSecretRegistry(loader.Registry),
		Producer:                  producer,
		Rules:                     w.rules,
		OutputTopic:               env(EnvOutputTopic),
		Policy:                    failures.policy,
		RejectedTopic:             failures.rejectedTopic,
		ReportEnvironmentFailures: failures.envItems,
		ExactlyOnceGroup:          env(EnvExactlyOnceGroup),
		Logger:                    w.logger,
	})
}

// loader returns the secret loader for the environment: secrets.FromEnv,
// or, with WithSecretsClient, Secrets Manager through that client.
func (w *wiring) loader(ctx context.Context, env func(string) string) (*secrets.Loader, error) {
	lookup := w.lookupEnv
	switch source := env(EnvSecretSource); source {
	case "":
	case "secretsmanager": // deprecated, and still means Secrets Manager, even with the port variable set
		lookup = func(k string) (string, bool) {
			if k == secrets.EnvExtensionPort {
				return "", false
			}
			return w.lookupEnv(k)
		}
	case "extension": // deprecated: the port variable chooses the extension now
		if env(secrets.EnvExtensionPort) == "" {
			lookup = func(k string) (string, bool) {
				if k == secrets.EnvExtensionPort {
					return defaultExtensionPort, true
				}
				return w.lookupEnv(k)
			}
		}
	default:
		return nil, fmt.Errorf("%w: %s=%q (deprecated): want secretsmanager or extension, or leave it unset and set %s for the extension",
			ErrConfig, EnvSecretSource, source, secrets.EnvExtensionPort)
	}
	opts := []secrets.LoaderOption{secrets.WithLookupEnv(lookup), secrets.WithLogger(w.logger)}
	var (
		l   *secrets.Loader
		err error
	)
	if w.sm != nil {
		id := env(EnvSecretID)
		if id == "" {
			return nil, fmt.Errorf("%w: WithSecretsClient needs %s, the secret's name or ARN", ErrConfig, EnvSecretID)
		}
		l, err = secrets.New(append(opts, secrets.WithSecretsManager(w.sm, id))...)
	} else {
		l, err = secrets.FromEnv(ctx, opts...)
	}
	if errors.Is(err, secrets.ErrInvalidOption) {
		return nil, fmt.Errorf("%w: secret: %w", ErrConfig, err)
	}
	if err != nil {
		return nil, fmt.Errorf("tradesettle: secret: %w", err)
	}
	return l, nil
}

// defaultExtensionPort is the AWS Parameters and Secrets Lambda
// Extension's port when PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is not set.
const defaultExtensionPort = "2773"
