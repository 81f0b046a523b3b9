// Package secrets supplies the Kafka and Schema Registry credentials of a
// kafka-lambda-go function: it reads one secret (a JSON object) from AWS
// Secrets Manager, caches it with a TTL, and maps it to a librdkafka
// producer config and to Schema Registry settings. For Amazon MSK with IAM
// authentication it makes SASL/OAUTHBEARER tokens instead, with no secret.
//
// The package imports nothing else of kafka-lambda-go: the wiring is done
// in main, in one line per consumer:
//
//	loader, err := secrets.FromEnv(ctx) // the source from the environment: see "From the environment"
//	...
//	producer, err := librdkafka.NewProducer(loader.KafkaConfig, librdkafka.WithAuthFailureHook(loader.Invalidate))
//	...
//	reg, err := loader.Registry(ctx) // URL and credentials; see [Registry] for a client
//
// When the broker refuses the credentials or the certificate, the producer
// (through librdkafka.WithAuthFailureHook) calls [Loader.Invalidate] before
// it rebuilds itself, so that the rebuilt producer reads the rotated secret.
// librdkafka.IsAuthFailure (package kafkalambda/librdkafka) recognises a
// refused login in an error from librdkafka, for code that handles a
// producer's errors itself. This package imports no Kafka client: its
// Kafka config is a plain map[string]any of librdkafka properties.
//
// # Sources
//
// [New] takes exactly one source option:
//
//   - [WithSecretsManager]: GetSecretValue through the AWS SDK, with a client
//     the caller builds (any value with the one method of
//     [GetSecretValueAPIClient]; *secretsmanager.Client has it). Needs
//     secretsmanager:GetSecretValue on the secret (and kms:Decrypt for a
//     customer-managed key).
//   - [WithExtension]: the AWS Parameters and Secrets Lambda Extension, a
//     Lambda layer with its own cache, over HTTP on
//     localhost:2773/secretsmanager/get with the X-Aws-Parameters-Secrets-Token
//     header from AWS_SESSION_TOKEN. Same IAM permissions.
//   - [WithFile] and [WithEnv]: the JSON from a file or an environment
//     variable, for local runs and tests.
//
// # From the environment
//
// [FromEnv] picks the source from the environment, so that the same main
// runs deployed and locally. Exactly one of KAFKA_SECRET_ID,
// KAFKA_SECRET_FILE and KAFKA_SECRET_JSON must be set (an empty variable
// counts as unset):
//
//	variable                                | source                                    | where
//	----------------------------------------+-------------------------------------------+--------------------
//	KAFKA_SECRET_ID=<name or ARN>           | Secrets Manager ([WithSecretsManager]),   | deployed (default)
//	                                        | client from the default AWS config        |
//	KAFKA_SECRET_ID=<name or ARN> and       | the Parameters and Secrets Lambda         | deployed, with the
//	PARAMETERS_SECRETS_EXTENSION_HTTP_PORT  | Extension on that port ([WithExtension])  | extension layer
//	KAFKA_SECRET_FILE=<path>                | the JSON in that file ([WithFile])        | local runs
//	KAFKA_SECRET_JSON=<JSON>                | the JSON itself ([WithEnv])               | local runs, tests
//
// The default AWS config reads AWS_REGION (required; Lambda sets it), the
// credentials (the function's role) and AWS_ENDPOINT_URL_SECRETS_MANAGER
// (an endpoint of your own, such as a secretstest server).
//
// The package secretstest runs an in-process endpoint that speaks both the
// Secrets Manager and the extension protocols, for tests and local runs.
//
// # Caching
//
// A fetched secret is served from memory for the TTL: [DefaultTTL] (5
// minutes) or [WithTTL]. Each entry expires up to 10% early, at random, so
// that environments started together spread their refreshes over time: the
// GetSecretValue quota (10,000 requests per second per Region) is shared by
// every function of the account. Reads within the TTL take no lock and do
// no I/O. A rotated secret is picked up by the first read after the TTL, or
// at once after [Loader.Invalidate]. A failed fetch is never cached; a fetch
// that succeeded but does not map is cached like any other (see [Loader]).
// With [WithExtension] the extension's own cache (SECRETS_MANAGER_TTL,
// default 300 s) comes on top.
//
// Fetches that are throttled or meet an unavailable source are retried with
// exponential backoff and equal jitter, within the context deadline (see
// [RetryPolicy]). Pass the invocation's context: the retries stop before
// the Lambda deadline.
//
// AWS's github.com/aws/aws-secretsmanager-caching-go/v2 was measured and
// not used: it needs a six-method client (it calls DescribeSecret on every
// refresh, so a cold start costs two round trips and the role needs
// secretsmanager:DescribeSecret too), and its forced refresh sleeps 2.5 to 5
// seconds whatever the context deadline, which a Lambda that just hit an
// authentication failure cannot afford. TestAWSCacheFit keeps the numbers.
//
// # Secret shape
//
// The secret is one JSON object of strings, numbers and booleans, and an
// optional "app" object (in
// SecretString, or in SecretBinary as UTF-8 JSON). A Confluent Cloud or
// self-managed cluster with SASL/PLAIN and a Schema Registry:
//
//	{
//	  "bootstrap.servers":    "pkc-12345.us-east-1.aws.confluent.cloud:9092",
//	  "security.protocol":    "SASL_SSL",
//	  "sasl.mechanism":       "PLAIN",
//	  "sasl.username":        "KAFKA_API_KEY",
//	  "sasl.password":        "KAFKA_API_SECRET",
//	  "schema.registry.url":  "https://psrc-12345.us-east-2.aws.confluent.cloud",
//	  "basic.auth.user.info": "SR_API_KEY:SR_API_SECRET"
//	}
//
// The keys are read as follows:
//
//   - librdkafka keys (bootstrap.servers, security.protocol,
//     sasl.mechanism, sasl.username, sasl.password, ssl.ca.pem, linger.ms,
//     …) go to the ConfigMap unchanged; numbers written as integers
//     become ints, other numbers (0.5, 1e3, integers beyond the int range)
//     are passed as their text, as the secret writes them (librdkafka
//     parses them); booleans become bools. Keys that librdkafka does not
//     accept (the version bundled with the confluent-kafka-go in go.mod,
//     which the error names; the go.* settings the Go client reads itself
//     are accepted too) are reported together, by name, in an
//     [*UnknownKeysError]; with plugin.library.paths set every key passes.
//     A property with two names appears once, under the Java client's name:
//     bootstrap.servers (for metadata.broker.list), sasl.mechanism
//     (sasl.mechanisms), acks (request.required.acks), linger.ms
//     (queue.buffering.max.ms), retries (message.send.max.retries),
//     compression.type (compression.codec), delivery.timeout.ms
//     (message.timeout.ms), max.in.flight.requests.per.connection
//     (max.in.flight), max.partition.fetch.bytes (fetch.message.max.bytes);
//     both names with different values are ErrMalformed.
//   - sasl.jaas.config, the Java form
//     `org.apache.kafka.common.security.plain.PlainLoginModule required
//     username="…" password="…";` (or ScramLoginModule), is parsed into
//     sasl.username and sasl.password; PlainLoginModule also defaults
//     sasl.mechanism to PLAIN, ScramLoginModule requires sasl.mechanism
//     (SCRAM-SHA-256 or SCRAM-SHA-512); security.protocol defaults to
//     SASL_SSL.
//   - username and password, the shape of the secret an event source
//     mapping uses for BASIC_AUTH, become sasl.username and sasl.password,
//     with security.protocol SASL_SSL and sasl.mechanism PLAIN unless the
//     secret sets them. They are ignored when the secret also has
//     sasl.username, sasl.password or sasl.jaas.config. So the ESM's own
//     secret works as is: {"username": "…", "password": "…"}, with the
//     bootstrap servers from KAFKA_BOOTSTRAP_SERVERS or
//     [WithBootstrapServers].
//   - schema.registry.url and basic.auth.user.info ("key:secret"; also
//     schema.registry.basic.auth.user.info, and basic.auth.credentials.source
//     if it is USER_INFO) go to [Registry], never to librdkafka.
//   - app, a JSON object (the only member that may be one), holds the
//     function's own settings: the Kafka and registry mappings ignore it,
//     and [App] decodes it into the function's struct. It is never logged
//     or quoted in an error; a field of type [Value] stays redacted when
//     the settings are printed.
//
// bootstrap.servers is required, from the secret or the fallback.
//
// # MSK IAM
//
// [NewMSKIAM] returns an [MSKIAM] whose KafkaConfig sets SASL_SSL and
// OAUTHBEARER with the bootstrap servers (WithBootstrapServers or
// KAFKA_BOOTSTRAP_SERVERS) and whose Token signs a token with the
// function's AWS credentials for the region (AWS_REGION). The producer
// answers librdkafka's token-refresh events with Token:
//
//	iam, err := secrets.NewMSKIAM()
//	...
//	producer, err := librdkafka.NewProducer(iam.KafkaConfig, librdkafka.WithOAuthBearerTokens(iam.Token))
//
// The role needs kafka-cluster:Connect (and the topic permissions) on the
// cluster.
//
// # Redaction
//
// Secret values that this package hands out as such (Registry.Password) are
// of type [Value]: String, GoString, Format (every verb), LogValue and
// MarshalJSON give [Redacted]; only [Value.Reveal] returns the secret. The
// ConfigMap from KafkaConfig must hold sasl.password as a plain string for
// librdkafka; log it through [Redact]. The MSK token is a plain string in
// kafka.OAuthBearerToken for the same reason. Logs (see [WithLogger]) and
// errors never hold secret values: not even a character of a malformed
// secret, which is why JSON syntax errors are reported by byte offset.
//
// # Errors
//
// Every error is an [*Error] naming the operation, the secret id and, where
// one is concerned, the key, never a value; messages start with
// "secrets: ". Match causes with errors.Is: [ErrNotFound],
// [ErrAccessDenied], [ErrThrottled], [ErrUnavailable] (fetching),
// [ErrMalformed], [ErrMissingKey], [ErrUnknownKey] (mapping) and
// [ErrInvalidOption] (constructors). A fetch cut short by the context also
// matches context.DeadlineExceeded or context.Canceled.
//
// # Failure classes
//
// Every [*Error] says whose fault it is with [Error.FailureClass]: the
// environment's (transient: retry the batch later, never dead-letter a
// record for it) or the operator's (configuration: fail loudly, at INIT
// where possible). kafkalambda, which does not import this package, finds
// the method anywhere in an error's chain and classifies the failure by it.
//
//	error matches                 | comes from                                                    | FailureClass()
//	------------------------------+---------------------------------------------------------------+----------------
//	ErrThrottled                  | ThrottlingException (and AWS's other throttling codes), HTTP  | "environment"
//	                              | 429, still so after the retries or at the context deadline    |
//	ErrUnavailable                | HTTP 5xx, InternalServiceError, network errors, an answer     | "environment"
//	                              | that is not the expected JSON, an extension not ready yet     |
//	context.DeadlineExceeded,     | the caller's context ended before or during the fetch         | "environment"
//	context.Canceled              |                                                               |
//	ErrNotFound                   | ResourceNotFoundException, extension 404, no file, unset env  | "configuration"
//	ErrAccessDenied               | AccessDeniedException, DecryptionFailure, bad or missing AWS  | "configuration"
//	                              | credentials, extension 401/403, MSK IAM signing failure       |
//	ErrMalformed                  | secret not a JSON object of scalars, bad key value            | "configuration"
//	ErrMissingKey                 | bootstrap.servers, schema.registry.url, a password: absent    | "configuration"
//	ErrUnknownKey                 | keys librdkafka does not accept                               | "configuration"
//	ErrInvalidOption              | New or NewMSKIAM given a bad or conflicting option            | "configuration"
//	(no sentinel)                 | an AWS error code outside the package's table (for example    | "configuration"
//	                              | InvalidRequestException: secret scheduled for deletion)       |
//
// The line between the two is the loader's own retry rule: what it retries
// (throttled, unavailable) and a context that ended are the environment's;
// the rest is not going to change by itself.
//
// # Environment variables
//
// Read by this package (through [WithLookupEnv], default os.LookupEnv):
//
//   - KAFKA_BOOTSTRAP_SERVERS: bootstrap servers when the secret has none,
//     and for MSK IAM ([EnvBootstrapServers]); [WithBootstrapServers]
//     overrides it.
//   - AWS_SESSION_TOKEN: sent to the extension ([EnvSessionToken]); Lambda
//     sets it.
//   - PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: the extension's port, default
//     2773 ([EnvExtensionPort]); the extension reads the same variable.
//   - AWS_REGION, then AWS_DEFAULT_REGION: the MSK region for IAM tokens
//     ([EnvRegion]); [WithRegion] overrides them.
//   - the variable named in [WithEnv], for local runs.
//
// Read by the AWS SDK, not by this package: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (credentials), AWS_REGION.
// [FromEnv] reads KAFKA_SECRET_ID, KAFKA_SECRET_FILE and KAFKA_SECRET_JSON
// ([EnvSecretID], [EnvSecretFile], [EnvSecretJSON]) and
// PARAMETERS_SECRETS_EXTENSION_HTTP_PORT to choose the source; [New] reads
// none of them.
package secrets
