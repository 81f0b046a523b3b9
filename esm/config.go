package esm

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/eventpattern"
)

// StartingPosition is where a consumer group with no committed offsets
// starts reading, as the event source mapping's StartingPosition setting.
type StartingPosition string

// Starting positions.
const (
	// TrimHorizon starts at the earliest record still in each partition.
	TrimHorizon StartingPosition = "TRIM_HORIZON"
	// Latest starts after the last record in each partition when the group
	// first gets it.
	Latest StartingPosition = "LATEST"
	// AtTimestamp starts at the first record whose timestamp is at or after
	// Config.StartingTimestamp.
	AtTimestamp StartingPosition = "AT_TIMESTAMP"
)

// Limits and defaults, as AWS documents them for Kafka event source mappings.
const (
	DefaultBatchSize      = 100
	MaxBatchSize          = 10_000
	DefaultBatchingWindow = 500 * time.Millisecond
	MaxBatchingWindow     = 300 * time.Second
	// MaxPayloadBytes is the Invoke API's limit on a synchronous request
	// (6 MB); no event is larger.
	MaxPayloadBytes = 6 * 1024 * 1024
	// MaxRetryAttemptsLimit is the largest MaximumRetryAttempts AWS accepts.
	MaxRetryAttemptsLimit = 10_000
	// RetriesWithOnFailure is the retry limit AWS applies when retries are
	// infinite (-1) and an on-failure destination is set.
	RetriesWithOnFailure = 10
	MinRecordAge         = 60 * time.Second
	MaxRecordAge         = 604_800 * time.Second
	// DefaultFunctionARN is what on-failure records name as functionArn when
	// WithFunctionARN is not given.
	DefaultFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:local"
)

// Config says which Kafka cluster and topics a Mapping reads, as what
// consumer group, and how the events name their source.
type Config struct {
	// Brokers are the bootstrap servers (host:port). Required. They are
	// also the event's bootstrapServers field, joined with commas.
	Brokers []string
	// Topics to consume: exactly one, as an AWS mapping takes (its Topics
	// property holds one name), unless AllowMultipleTopics is set.
	Topics []string
	// AllowMultipleTopics lets Topics hold more than one topic. Such a
	// mapping does not deploy: on AWS it is one mapping per topic.
	AllowMultipleTopics bool
	// Provisioned says the mapping runs in provisioned mode on AWS
	// (ProvisionedPollerConfig), which is what AWS requires for the error
	// handling controls (WithMaxRetryAttempts, WithMaxRecordAge,
	// WithBisectBatchOnFunctionError, WithReportBatchItemFailures), a
	// Kafka on-failure topic and the schema registry integration. Without
	// it they still work here, and New reports each in Warnings.
	Provisioned bool
	// Group is the consumer group id; offsets are committed under it.
	// Default: DefaultGroup followed by a fresh UUID, unique to the
	// Mapping, as AWS uses each mapping's UUID, so that two mappings never
	// split one topic's partitions; give one to resume where an earlier
	// run stopped. 1 to 200 characters of [a-zA-Z0-9-/*:_+=.@], as AWS's
	// ConsumerGroupId.
	Group string
	// StartingPosition applies when the group has no committed offset for
	// a partition. Default TrimHorizon (AWS has no default; see "Differences
	// from AWS" in the package documentation).
	StartingPosition StartingPosition
	// StartingTimestamp is the start for AtTimestamp.
	StartingTimestamp time.Time
	// EventSourceARN, when set, makes events Amazon MSK events
	// (eventSource "aws:kafka" with this eventSourceArn); otherwise they are
	// self-managed Kafka events (eventSource "SelfManagedKafka").
	EventSourceARN string
	// KafkaOptions are passed to franz-go after the mapping's own (so they
	// win): SASL (kgo.SASL), TLS (kgo.DialTLSConfig), client id, timeouts.
	// Do not pass consumer group or commit options; the mapping owns those.
	KafkaOptions []kgo.Opt
}

// DefaultGroup prefixes the unique consumer group of a Config without one.
const DefaultGroup = "kafkalambda-esm"

// Option configures a Mapping. Each option states its default; New validates
// them all and reports every problem at once.
type Option func(*settings)

type settings struct {
	batchSize      int
	window         time.Duration
	concurrency    int
	maxRetries     int
	maxAge         time.Duration
	bisect         bool
	itemFailures   bool
	failureModel   ItemFailureModel
	onFailure      string
	onFailureDir   string
	onFailureKind  DestinationKind
	registry       *SchemaRegistry
	logger         *slog.Logger
	onBatch        func(BatchResult)
	progress       func() // tests only (export_test.go): after each report and each commit tried
	backoffMin     time.Duration
	backoffMax     time.Duration
	maxPayload     int
	shutdown       time.Duration
	functionARN    string
	connectTimeout time.Duration
	stopCaughtUp   bool
	filters        []*eventpattern.Pattern
	set            map[string]bool // the error handling controls given, by AWS property name
	warnings       []string        // what would not deploy, or behave differently, on AWS
	errs           []error
}

func defaultSettings() settings {
	return settings{
		batchSize:      DefaultBatchSize,
		window:         DefaultBatchingWindow,
		maxRetries:     -1,
		maxAge:         -1,
		failureModel:   RetryListed,
		logger:         slog.New(slog.DiscardHandler),
		backoffMin:     200 * time.Millisecond,
		backoffMax:     5 * time.Second,
		maxPayload:     MaxPayloadBytes,
		functionARN:    DefaultFunctionARN,
		connectTimeout: 15 * time.Second,
	}
}

// mark notes that a setting AWS allows only in provisioned mode is given
// (on) or taken back.
func (s *settings) mark(property string, on bool) {
	if s.set == nil {
		s.set = map[string]bool{}
	}
	s.set[property] = on
}

func (s *settings) bad(format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf(format, args...))
}

// WithBatchSize sets the largest number of records in one event (BatchSize;
// default 100, 1 to 10,000).
func WithBatchSize(n int) Option {
	return func(s *settings) {
		if n < 1 || n > MaxBatchSize {
			s.bad("batch size %d not in [1, %d]", n, MaxBatchSize)
		}
		s.batchSize = n
	}
}

// WithBatchingWindow sets how long records are gathered before the function
// is invoked with fewer than BatchSize of them (MaximumBatchingWindowInSeconds;
// default 500 ms, 0 to 300 s). The window starts when the oldest waiting
// record arrived; a full batch or a full 6 MB payload does not wait.
func WithBatchingWindow(d time.Duration) Option {
	return func(s *settings) {
		if d < 0 || d > MaxBatchingWindow {
			s.bad("batching window %v not in [0, %v]", d, MaxBatchingWindow)
		}
		s.window = d
	}
}

// WithConcurrency bounds the number of invocations in flight. Each partition
// belongs to one invoker at a time, so one batch per partition is in flight
// and order holds, and an invoker's events hold records of all its
// partitions, as an AWS poller's do. The default, 0, gives every
// PartitionsPerInvoker assigned partitions an invoker of their own; n > 0
// spreads the partitions over n invokers.
func WithConcurrency(n int) Option {
	return func(s *settings) {
		if n < 0 {
			s.bad("concurrency %d is negative", n)
		}
		s.concurrency = n
	}
}

// WithMaxRetryAttempts sets how many times a failed batch is retried
// (MaximumRetryAttempts; default -1, infinite; 0 to 10,000). The first
// invocation is not a retry. With infinite retries and an on-failure topic,
// 10 applies, as in AWS.
func WithMaxRetryAttempts(n int) Option {
	return func(s *settings) {
		if n < -1 || n > MaxRetryAttemptsLimit {
			s.bad("max retry attempts %d not -1 or in [0, %d]", n, MaxRetryAttemptsLimit)
		}
		s.mark("MaximumRetryAttempts", n != -1)
		s.maxRetries = n
	}
}

// WithMaxRecordAge sets the age past which a record is not sent to the
// function but to the on-failure topic, or discarded without one
// (MaximumRecordAgeInSeconds; 60 s to 604,800 s). Any negative d, such as
// the default -1 (AWS's -1 s), means infinite: records never expire. Age is
// now minus the record's timestamp; records without one never expire.
func WithMaxRecordAge(d time.Duration) Option {
	return func(s *settings) {
		if d >= 0 && (d < MinRecordAge || d > MaxRecordAge || d%time.Second != 0) {
			s.bad("max record age %v not negative (infinite) or whole seconds in [%v, %v]", d, MinRecordAge, MaxRecordAge)
		}
		s.mark("MaximumRecordAgeInSeconds", d >= 0)
		s.maxAge = d
	}
}

// WithBisectBatchOnFunctionError splits a batch in two when the function
// fails, and retries the halves one after the other; splitting does not
// count as a retry (BisectBatchOnFunctionError; default off).
func WithBisectBatchOnFunctionError(on bool) Option {
	return func(s *settings) { s.bisect = on; s.mark("BisectBatchOnFunctionError", on) }
}

// WithReportBatchItemFailures reads the function's response as a batch item
// failures document and retries the records it names as WithItemFailureModel
// says: by default exactly the reported records, as AWS's Kafka page words
// it (FunctionResponseTypes ReportBatchItemFailures; default off, and then
// the response is ignored).
func WithReportBatchItemFailures(on bool) Option {
	return func(s *settings) { s.itemFailures = on; s.mark("FunctionResponseTypes ReportBatchItemFailures", on) }
}

// ItemFailureModel is what a batch item failures response does to the
// partitions it names (see WithItemFailureModel). AWS documents for Kafka
// event source mappings only that a partial batch response lets Lambda
// "retry only the failed records"; it does not say whether the records of a
// named partition after a listed one are retried too. The two models are
// the two readings.
//
// Under both, a partition the response does not name is done: its records
// count as processed and its offsets are committed. Records retried are
// invoked again after the retry backoff, in offset order, before any later
// record of their partition; the retry counts against MaximumRetryAttempts,
// and records that run out of retries go to the on-failure topic (or are
// discarded) as after a function error. A response naming a record not in
// the batch fails the whole batch under both.
type ItemFailureModel string

// Item failure models.
const (
	// ResumeFromLowest reads the response as a checkpoint, as
	// Lambda documents partial batch responses for Kinesis and DynamoDB
	// streams. In each named partition the records before the lowest
	// listed offset are processed and committed; the record at that offset
	// and every later record of the partition in the batch, listed or not,
	// are retried as one batch. A function that lists only the first record
	// it failed in a partition loses nothing.
	ResumeFromLowest ItemFailureModel = "resume-from-lowest"
	// RetryListed (the default) retries the listed records only, as AWS's
	// Kafka page says partial batch responses do ("Lambda can retry only
	// the failed records"). In each named partition
	// every record not listed counts as processed, those after a listed one
	// too, and the listed records are retried, in offset order, as a batch
	// of just those records. The partition's commit position moves to its
	// lowest listed offset at once; the offsets of the records after it are
	// committed as the listed records before them are processed or given up
	// (an offset is never committed while an earlier record of the
	// partition is still to be retried). Records that run out of retries
	// are the listed ones only: a record the function processed never goes
	// to the on-failure destination. A function must list every record it
	// did not process: one that lists only the first record it failed in a
	// partition, leaving the later ones unprocessed, loses those.
	RetryListed ItemFailureModel = "retry-listed"
)

// WithItemFailureModel sets what a batch item failures response does to the
// partitions it names: RetryListed (the default) or ResumeFromLowest. It has
// an effect only with WithReportBatchItemFailures(true).
func WithItemFailureModel(model ItemFailureModel) Option {
	return func(s *settings) {
		if model != ResumeFromLowest && model != RetryListed {
			s.bad("item failure model %q is not %q or %q", model, ResumeFromLowest, RetryListed)
		}
		s.failureModel = model
	}
}

// WithOnFailureTopic sends records that exhaust their retries or their age
// to this Kafka topic on the same cluster, one message per record, key =
// the record's key, value = the failure metadata AWS writes (see
// FailureRecord). It must not be one of the source topics. Default: none,
// and such records are discarded (logged and counted).
func WithOnFailureTopic(topic string) Option {
	return func(s *settings) {
		if topic == "" {
			s.bad("on-failure topic is empty")
		}
		s.onFailure = topic
	}
}

// WithOnFailureDir stands a local folder in for an SQS queue, SNS topic or
// S3 bucket on-failure destination (kind): each batch the mapping gives up
// (retries or record age exhausted, payload too large, schema rejects) is
// written there as one file, the InvocationRecord AWS sends such a
// destination, named NNNNNN-CONDITION.json in the order given up. Only the
// given-up records are in it: records the function processed (a partial
// batch response) never are. It excludes WithOnFailureTopic, as AWS
// mappings take one on-failure destination. The folder is created if need
// be; numbering goes on after the files already in it, none of which is
// replaced.
func WithOnFailureDir(dir string, kind DestinationKind) Option {
	return func(s *settings) {
		if dir == "" {
			s.bad("on-failure folder is empty")
		}
		switch kind {
		case DestinationSQS, DestinationSNS, DestinationS3:
		default:
			s.bad("on-failure destination kind %q is not %q, %q or %q", kind, DestinationSQS, DestinationSNS, DestinationS3)
		}
		s.onFailureDir, s.onFailureKind = dir, kind
	}
}

// WithLogger sets where progress and per-batch outcomes are logged
// (default: nowhere). Successful batches log at Debug, failures and retries
// at Warn, records sent to the on-failure topic or discarded at Error.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) {
		if l == nil {
			s.bad("nil logger")
			return
		}
		s.logger = l
	}
}

// WithOnBatch calls fn after each invocation, once the mapping has acted on
// its outcome (committed, retried, bisected, sent to the on-failure topic).
// As the commit is acknowledged while the invoker goes on, fn may be called
// after the invoker's next invocation has started, but always before the
// next one is reported. fn runs on the invoker's goroutine: it must be safe
// for concurrent use and should return quickly. Stats.RecordsCommitted counts the records the
// invocation's commit covered (BatchResult.Committed) only once fn has
// returned. Default: none.
func WithOnBatch(fn func(BatchResult)) Option {
	return func(s *settings) { s.onBatch = fn }
}

// WithRetryBackoff sets the wait before a retry: min after the first
// failure, doubling up to max (default 200 ms to 5 s). AWS does not document
// its backoff. A write the on-failure topic did not take is retried within
// the same bounds, each wait drawn between half and all of the doubled one.
func WithRetryBackoff(minWait, maxWait time.Duration) Option {
	return func(s *settings) {
		if minWait < 0 || maxWait < minWait {
			s.bad("retry backoff %v..%v", minWait, maxWait)
		}
		s.backoffMin, s.backoffMax = minWait, maxWait
	}
}

// WithMaxPayloadBytes lowers the largest event (default and maximum
// MaxPayloadBytes, 6 MB). A record that alone makes a larger event goes to
// the on-failure destination with condition MaximumPayloadSizeExceeded.
func WithMaxPayloadBytes(n int) Option {
	return func(s *settings) {
		if n < 1024 || n > MaxPayloadBytes {
			s.bad("max payload %d not in [1024, %d]", n, MaxPayloadBytes)
		}
		s.maxPayload = n
	}
}

// WithShutdownTimeout bounds how long Run waits, after its context is done,
// for the invocations in flight. When it passes, their contexts are canceled
// and their batches are left uncommitted (they are delivered again to the
// group's next consumer). Default 0: wait for them to finish.
func WithShutdownTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d < 0 {
			s.bad("shutdown timeout %v is negative", d)
		}
		s.shutdown = d
	}
}

// WithConnectTimeout sets how long Run tries to reach a broker when it
// starts before it fails with ErrKafka (default 15 s). Against a cluster
// that drops the connection on bad SASL credentials (rather than answering
// SASL_AUTHENTICATION_FAILED), this is how long a wrong password takes to
// be reported. Once connected, a broker that goes away is waited for.
func WithConnectTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.bad("connect timeout %v is not positive", d)
		}
		s.connectTimeout = d
	}
}

// WithFunctionARN sets the functionArn that on-failure records carry
// (default DefaultFunctionARN).
func WithFunctionARN(arn string) Option {
	return func(s *settings) { s.functionARN = arn }
}

// WithSchemaRegistry adds schema metadata to records as the event source
// mapping's Schema Registry integration does; see SchemaRegistry. Default:
// none, records are passed as they are in Kafka.
func WithSchemaRegistry(r SchemaRegistry) Option {
	return func(s *settings) {
		if err := r.validate(); err != nil {
			s.errs = append(s.errs, err)
		}
		s.registry = &r
	}
}

// WithStopWhenCaughtUp makes Run stop, and return nil, once every
// partition of Config.Topics is handled up to the end offset it had when
// Run started: its records processed, sent to the on-failure destination
// or discarded, and their offsets committed (default off: Run runs until
// its context is done). Partitions the group had already committed to
// their end, or that are empty from the starting position on, count as
// caught up at once. It waits on every partition of the topics, so the
// mapping should be its group's only member. Whether anything was given
// up is in Stats (RecordsOnFailure, RecordsDiscarded).
func WithStopWhenCaughtUp(on bool) Option {
	return func(s *settings) { s.stopCaughtUp = on }
}

func (s *settings) warn(format string, args ...any) {
	s.warnings = append(s.warnings, fmt.Sprintf(format, args...))
}

// validGroup reports whether g is made of the characters AWS allows in a
// consumer group id.
func validGroup(g string) bool {
	if g == "" {
		return false
	}
	for _, c := range g {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-/*:_+=.@", c)
		if !ok {
			return false
		}
	}
	return true
}

// validate checks cfg and s together and fills in defaults.
func validate(cfg *Config, s *settings) error {
	errs := s.errs
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if len(cfg.Topics) == 0 {
		errs = append(errs, errors.New("no topics"))
	}
	switch {
	case len(cfg.Topics) > 1 && !cfg.AllowMultipleTopics:
		errs = append(errs, fmt.Errorf("%d topics %v: an AWS mapping takes one (set AllowMultipleTopics to run them in one mapping anyway)", len(cfg.Topics), cfg.Topics))
	case len(cfg.Topics) > 1:
		s.warn("%d topics %v in one mapping: AWS takes one topic per mapping", len(cfg.Topics), cfg.Topics)
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup + "-" + newRequestID()
	}
	if len(cfg.Group) > 200 || !validGroup(cfg.Group) {
		errs = append(errs, fmt.Errorf("consumer group id %q: AWS takes 1 to 200 characters of [a-zA-Z0-9-/*:_+=.@]", cfg.Group))
	}
	if s.window%time.Second != 0 && s.window != DefaultBatchingWindow {
		s.warn("batching window %v: AWS takes whole seconds (MaximumBatchingWindowInSeconds)", s.window)
	}
	if !cfg.Provisioned {
		if s.onFailure != "" {
			s.mark("DestinationConfig OnFailure (a Kafka topic)", true)
		}
		if s.registry != nil {
			s.mark("SchemaRegistryConfig", true)
		}
		var props []string
		for p, on := range s.set {
			if on {
				props = append(props, p)
			}
		}
		slices.Sort(props)
		for _, p := range props {
			s.warn("%s needs provisioned mode on AWS (ProvisionedPollerConfig; Config.Provisioned says the mapping has it)", p)
		}
	}
	switch cfg.StartingPosition {
	case "":
		cfg.StartingPosition = TrimHorizon
	case TrimHorizon, Latest:
	case AtTimestamp:
		if cfg.StartingTimestamp.IsZero() {
			errs = append(errs, errors.New("AT_TIMESTAMP without a StartingTimestamp"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown starting position %q", cfg.StartingPosition))
	}
	if s.onFailure != "" && slices.Contains(cfg.Topics, s.onFailure) {
		errs = append(errs, fmt.Errorf("on-failure topic %q is a source topic", s.onFailure))
	}
	if s.onFailure != "" && s.onFailureDir != "" {
		errs = append(errs, fmt.Errorf("on-failure topic %q and on-failure folder %q: AWS takes one on-failure destination", s.onFailure, s.onFailureDir))
	}
	if s.onFailure != "" && s.maxRetries == -1 {
		s.maxRetries = RetriesWithOnFailure
	}
	cfg.Brokers = slices.Clone(cfg.Brokers)
	cfg.Topics = slices.Clone(cfg.Topics)
	cfg.KafkaOptions = slices.Clone(cfg.KafkaOptions)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("esm: %w: %w", ErrInvalidOption, errors.Join(errs...))
}
