// Package app is the trade settlement function: it reads UserTrade records
// (keyed by user id) from user_trades, settles each with the rules of
// package settle, and writes a TradeSettlement keyed by symbol to
// trade-settlements, both Protobuf through a Confluent Schema Registry.
//
// New builds the function from its parts (a registry, a producer); Wire
// builds those parts the way the deployed function does, from environment
// variables and the Kafka secret; main runs Function.Handler with
// kafkalambda.Start. The local pipeline and the tests use the same two.
//
// # Delivery
//
// A settlement counts as written only once the brokers acknowledged it (the
// SDK's flush at the end of each invocation). Delivery is at least once: a
// trade may be settled twice, and then both settlements are equal
// (settle.DrawByID) and carry the same HeaderSource.
//
// # Failures
//
// The SDK classes every failure (kafkalambda.Classify): the record's own
// fault (its bytes do not decode, its schema id is unknown), the
// environment's (the registry or the brokers down, a write not
// acknowledged) or the operator's (a registry URL that is not a registry,
// wrong credentials). Only the first kind is a poison record, and only it
// is handled by the failure policy (Config.Policy); the others would fail
// every record alike while the records are good, so they are never
// dead-lettered: by default they fail the invocation and the event source
// mapping retries the batch.
//
// The deployed function (template.yaml, FAILURE_POLICY=ISOLATE_POISON)
// isolates poison records: each is dead-lettered and its partition goes on
// (kafkalambda.DeadLetter, or Config.RejectedTopic for a typed
// SettlementRejected), and any other failure is reported back as batch item
// failures (Config.ReportEnvironmentFailures), so that the mapping retries
// those records until the registry or the brokers are back. That needs
// FunctionResponseTypes ReportBatchItemFailures on the mapping.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Topics of the pipeline (see ksql/pipeline.sql).
const (
	InputTopic  = "user_trades"
	OutputTopic = "trade-settlements"
)

// ErrConfig is matched (errors.Is) by the errors of New and Wire for a
// configuration they cannot use.
var ErrConfig = errors.New("tradesettle: invalid configuration")

// HeaderSource is the header of every settlement that names the trade it
// settles: the Source of its user_trades record, as Source.String writes
// it. Two settlements with the same source are one trade settled twice.
const HeaderSource = "tradesettle.source"

// Source is the place of the Kafka record a settlement settles. Its String
// is the value of the settlement's HeaderSource header (and the trade's
// settle.Trade.ID); ParseSource and SourceHeader read it back.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
}

// String returns s as HeaderSource holds it: "topic/partition/offset", both
// numbers in decimal, e.g. "user_trades/3/1207".
func (s Source) String() string {
	return s.Topic + "/" + strconv.FormatInt(int64(s.Partition), 10) + "/" + strconv.FormatInt(s.Offset, 10)
}

// ParseSource reads a HeaderSource value: a non-empty topic, a partition
// and an offset separated by "/", the numbers non-negative, in decimal and
// without a sign. Any other value is an error. For every Source s of a
// Kafka record (a topic name holds no "/", partitions and offsets are not
// negative), ParseSource(s.String()) returns s.
func ParseSource(v string) (Source, error) {
	topic, rest, ok1 := strings.Cut(v, "/")
	partition, offset, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || topic == "" {
		return Source{}, fmt.Errorf("tradesettle: source %q: want topic/partition/offset", v)
	}
	p, err := strconv.ParseUint(partition, 10, 31)
	if err != nil {
		return Source{}, fmt.Errorf("tradesettle: source %q: partition: %w", v, err)
	}
	o, err := strconv.ParseUint(offset, 10, 63)
	if err != nil {
		return Source{}, fmt.Errorf("tradesettle: source %q: offset: %w", v, err)
	}
	return Source{Topic: topic, Partition: int32(p), Offset: int64(o)}, nil
}

// SourceHeader returns the Source named by the first HeaderSource header of
// headers, as ParseSource reads it; no such header is an error. H is the
// header type of whichever client read the record: kafkalambda.Header,
// franz-go's kgo.RecordHeader, or any other type whose underlying type is
// that struct of a Key and a Value.
func SourceHeader[H ~struct {
	Key   string
	Value []byte
}](headers []H) (Source, error) {
	for _, h := range headers {
		if kv := (struct {
			Key   string
			Value []byte
		})(h); kv.Key == HeaderSource {
			return ParseSource(string(kv.Value))
		}
	}
	return Source{}, fmt.Errorf("tradesettle: no %s header", HeaderSource)
}

// Config is what New builds a Function from.
type Config struct {
	// Registry is the Schema Registry client; required.
	Registry serde.Registry
	// Producer is the shared producer settlements are written with;
	// required.
	Producer kafkalambda.Producer
	// Rules are the settlement rules; the zero value is the default.
	Rules settle.Rules
	// OutputTopic is where settlements go; default OutputTopic.
	OutputTopic string
	// Policy is what a record that cannot be settled through its own fault
	// (undecodable bytes, an unknown schema id) does. The zero value is
	// kafkalambda.FailBatch, which is right for any event source mapping;
	// ReportItemFailures needs the mapping to have FunctionResponseTypes
	// ReportBatchItemFailures, or its answer is ignored and failed trades
	// are lost; kafkalambda.DeadLetter(topic) writes the record, as it
	// came, to topic and goes on. Failures that are not the record's fault
	// are never dead-lettered (see ReportEnvironmentFailures).
	Policy kafkalambda.FailurePolicy
	// RejectedTopic, when set, dead-letters each record that fails through
	// its own fault as a SettlementRejected (JSON) to this topic, through
	// Function.Reject (kafkalambda.DeadLetterFunc), and goes on. It takes
	// the place of Policy, which must then be left unset: New returns an
	// error wrapping ErrConfig otherwise.
	RejectedTopic string
	// ReportEnvironmentFailures reports failures that are not the record's
	// fault (the registry, the brokers, the configuration) as batch item
	// failures, so that the mapping retries those records, instead of
	// failing the invocation (kafkalambda.WithEnvironmentItemFailures).
	// Default false: such a failure fails the invocation. It needs a mapping
	// with ReportBatchItemFailures, and Policy ReportItemFailures or a
	// dead-letter policy; with FailBatch the handler is refused (Handler
	// returns the error, which main hands to kafkalambda.FailInit).
	ReportEnvironmentFailures bool
	// ExactlyOnceGroup, when set, turns exactly-once outputs on
	// (kafkalambda.WithExactlyOnce) with this consumer group for the
	// progress: settlements and dead-letter writes are committed in one
	// transaction per invocation, and a redelivered batch settles nothing
	// twice. Producer must then be a kafkalambda.Transactor
	// (librdkafka.Producer and franz.Producer are). Default "": at-least-once.
	ExactlyOnceGroup string
	// Logger receives the handler's failure lines (one per failed record,
	// one per invocation that did not simply succeed; never record
	// contents). Nil: the SDK's default, kafkalambda.LambdaLogger on
	// stderr, in the format Lambda's AWS_LAMBDA_LOG_FORMAT asks for.
	Logger *slog.Logger
}

// Function settles trades. Build it with New (or Wire), get its
// *kafkalambda.Handler from Handler and run that with kafkalambda.Start. A
// Function is safe for concurrent use.
type Function struct {
	keys     serde.Codec[string]
	values   serde.Codec[*tradepb.UserTrade]
	out      *kafkalambda.Output[string, *tradepb.TradeSettlement]
	settled  serde.Codec[*tradepb.TradeSettlement]           // out's value codec, for Warm
	rejected *kafkalambda.Output[[]byte, SettlementRejected] // nil without a RejectedTopic
	rules    settle.Rules
	producer kafkalambda.Producer
	policy   kafkalambda.FailurePolicy
	envItems bool
	eos      string       // ExactlyOnceGroup
	log      *slog.Logger // nil: the SDK's default
}

// New returns the Function for cfg. It does no I/O: the registry is asked
// for schemas, and the producer connects, on first use. A missing Registry
// or Producer, or a RejectedTopic with a Policy, is an error wrapping
// ErrConfig.
func New(cfg Config) (*Function, error) {
	if cfg.Registry == nil || cfg.Producer == nil {
		return nil, fmt.Errorf("%w: New needs a Registry and a Producer", ErrConfig)
	}
	// The zero FailurePolicy is FailBatch; FailurePolicy holds a func and
	// cannot be compared, but its String names its kind.
	if cfg.RejectedTopic != "" && cfg.Policy.String() != kafkalambda.FailBatch().String() {
		return nil, fmt.Errorf("%w: RejectedTopic %q sets the failure policy; Policy %s must be left unset",
			ErrConfig, cfg.RejectedTopic, cfg.Policy)
	}
	if cfg.OutputTopic == "" {
		cfg.OutputTopic = OutputTopic
	}
	values, err := serde.Protobuf[*tradepb.UserTrade](cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("tradesettle: UserTrade codec: %w", err)
	}
	settlements, err := serde.Protobuf[*tradepb.TradeSettlement](cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("tradesettle: TradeSettlement codec: %w", err)
	}
	f := &Function{
		keys:     serde.String(),
		values:   values,
		out:      kafkalambda.NewOutput[string, *tradepb.TradeSettlement](cfg.OutputTopic, serde.String(), settlements),
		settled:  settlements,
		rules:    cfg.Rules,
		producer: cfg.Producer,
		policy:   cfg.Policy,
		envItems: cfg.ReportEnvironmentFailures,
		eos:      cfg.ExactlyOnceGroup,
		log:      cfg.Logger,
	}
	if cfg.RejectedTopic != "" {
		f.rejected = kafkalambda.NewOutput[[]byte, SettlementRejected](cfg.RejectedTopic, serde.Bytes(), serde.JSON[SettlementRejected]())
		f.policy = kafkalambda.DeadLetterFunc(f.Reject)
	}
	return f, nil
}

// Handler returns a kafkalambda.Handler running Process over user_trades:
// keys as plain text (the user id, ksqlDB's KAFKA key format), values as
// UserTrade through the registry. Its options are the function's producer,
// its logger (none when Config.Logger was nil: the SDK's default), its
// failure policy (Config.Policy, or Reject with Config.RejectedTopic) and,
// with Config.ReportEnvironmentFailures,
// kafkalambda.WithEnvironmentItemFailures, and with Config.ExactlyOnceGroup,
// kafkalambda.WithExactlyOnce; then extra (main's tracing and metrics). Each
// call returns a new Handler over the same producer.
func (f *Function) Handler(extra ...kafkalambda.Option) (*kafkalambda.Handler[string, *tradepb.UserTrade], error) {
	opts := []kafkalambda.Option{
		kafkalambda.WithProducer(f.producer),
		kafkalambda.WithFailurePolicy(f.policy),
	}
	if f.log != nil {
		opts = append(opts, kafkalambda.WithLogger(f.log))
	}
	if f.envItems {
		opts = append(opts, kafkalambda.WithEnvironmentItemFailures())
	}
	if f.eos != "" {
		opts = append(opts, kafkalambda.WithExactlyOnce(f.eos))
	}
	opts = append(opts, extra...)
	h, err := kafkalambda.NewHandler(f.keys, f.values, f.Process, opts...)
	if err != nil {
		return nil, fmt.Errorf("tradesettle: %w", err)
	}
	return h, nil
}

// Process settles one trade and sends its settlement, keyed by symbol,
// with HeaderSource. A record with a null key is a trade without a user
// (Rejected). A tombstone (null value) is not a trade: it is skipped.
//
// ctx must be the one the handler passes: the send belongs to the
// invocation, which succeeds only once the brokers acknowledged it.
func (f *Function) Process(ctx context.Context, r *kafkalambda.Record[string, *tradepb.UserTrade]) error {
	if r.IsTombstone() {
		return nil
	}
	source := Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}.String()
	s := f.rules.Settle(settle.Trade{User: r.Key, Value: r.Value, Time: r.Timestamp, ID: source})
	if err := f.out.Send(ctx, s.GetSymbol(), s, kafkalambda.Header{Key: HeaderSource, Value: []byte(source)}); err != nil {
		return fmt.Errorf("tradesettle: settle %s: %w", source, err)
	}
	return nil
}

// Warm does ahead of the first record what its settlement's send would
// otherwise wait for: it makes the registry client (with a SecretRegistry,
// from the secret) and resolves the TradeSettlement schema's id for the
// output topic's value subject — registered, or found, exactly as the first
// send does, and cached by the codec — over a connection that the first
// record's schema lookup then reuses. It sends nothing and fails nothing:
// a failure is returned and not remembered, and the first record does the
// same work again and reports its own error.
//
// main runs it in the background during INIT, beside the producer's
// creation (kafkalambda.Start's check), so that on a cold start the
// registration is off the first invocation's path. It is safe to call
// concurrently with Process.
func (f *Function) Warm(ctx context.Context) error {
	if _, err := f.settled.Serialize(ctx, serde.Target{Topic: f.out.Topic()}, &tradepb.TradeSettlement{}); err != nil {
		return fmt.Errorf("tradesettle: warm: %w", err)
	}
	return nil
}
