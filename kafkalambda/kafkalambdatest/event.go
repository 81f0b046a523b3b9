package kafkalambdatest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// ErrInvalidOption is matched (errors.Is) by every error this package
// returns for a bad argument or option: a record that cannot be built as
// asked, a cluster option out of range; the message starts
// "kafkalambdatest: invalid option: ". It is the same sentinel as
// kafkalambda.ErrInvalidOption, which every package of the module exports
// under this name.
var ErrInvalidOption = invalid.ErrOption

// DefaultBaseTime is the timestamp, in Unix milliseconds, of the first
// record of an event built without [BaseTime]: 2023-11-14T22:13:20Z. Each
// further record is one millisecond later, so payloads are deterministic.
const DefaultBaseTime int64 = 1_700_000_000_000

// DefaultBootstrapServers is the bootstrapServers field of an event built
// without [BootstrapServers].
const DefaultBootstrapServers = "localhost:9092"

// Record is one Kafka record to put into an event or to produce, before
// serialization.
type Record[K, V any] struct {
	// Key and Value are serialized with the builder's (or Produce's)
	// serializers.
	Key   K
	Value V
	// NullKey makes the record's key null (Key is not serialized). A key
	// that serializes to zero bytes is an empty key, not a null one.
	NullKey bool
	// Tombstone makes the record's value null (Value is not serialized).
	Tombstone bool
	// RawKey and RawValue, when not nil, are the key's and the value's
	// bytes as they are: Key or Value is not serialized, and SchemaMetadata
	// leaves them alone (no prefix is stripped, no schema metadata added).
	// A poison record, bytes no deserializer accepts, goes into a typed
	// event or topic this way, without a wrapper serializer. A RawKey with
	// NullKey, or a RawValue with Tombstone, is an [ErrInvalidOption] error.
	RawKey, RawValue []byte
	// Headers are kept in order; a nil Value is a null header value.
	Headers []kafkalambda.Header
	// Timestamp is the record's CREATE_TIME timestamp. When zero, the event
	// builder uses its base time plus one millisecond per record, and
	// Produce lets the client stamp the current time.
	Timestamp time.Time
}

// EventOption configures [NewEvent].
type EventOption func(*eventConfig)

type eventConfig struct {
	source      string
	arn         string
	bootstrap   []string
	base        time.Time
	keyFormat   string
	valueFormat string
}

// MSK makes the event an Amazon MSK event: eventSource "aws:kafka" and
// eventSourceArn clusterARN. Without it the event is self-managed Kafka
// (eventSource "SelfManagedKafka", no ARN).
func MSK(clusterARN string) EventOption {
	return func(c *eventConfig) {
		c.source = kafkalambda.SourceMSK
		c.arn = clusterARN
	}
}

// BootstrapServers sets the event's bootstrapServers field (default
// DefaultBootstrapServers).
func BootstrapServers(servers ...string) EventOption {
	return func(c *eventConfig) { c.bootstrap = slices.Clone(servers) }
}

// BaseTime sets the timestamp given to the first record that has no
// Timestamp of its own (default DefaultBaseTime); each further such record
// is one millisecond later.
func BaseTime(t time.Time) EventOption {
	return func(c *eventConfig) { c.base = t }
}

// SchemaMetadata mimics an event source mapping with Schema Registry
// integration in SOURCE mode. For the key when keyFormat is not empty, and
// for the value when valueFormat is not empty, the serialized bytes must be
// in the Confluent wire format (a registry serializer's output): the 5-byte
// prefix is stripped and the record gets keySchemaMetadata /
// valueSchemaMetadata {"dataFormat": format, "schemaId": "<id>"}. Protobuf
// message indexes stay in the data, as the event source mapping leaves them.
// format is what the mapping reports: "AVRO", "PROTOBUF" or "JSON".
func SchemaMetadata(keyFormat, valueFormat string) EventOption {
	return func(c *eventConfig) {
		c.keyFormat = keyFormat
		c.valueFormat = valueFormat
	}
}

// EventBuilder builds a Lambda Kafka event from typed records. Build it with
// [NewEvent], add records with Add or AddAt, then call Payload (or Build).
// An EventBuilder is not safe for concurrent use.
type EventBuilder[K, V any] struct {
	keys   serde.Serializer[K]
	values serde.Serializer[V]
	cfg    eventConfig
	parts  []*pendingPartition[K, V]
	seq    int64 // records added without a timestamp so far
}

type pendingPartition[K, V any] struct {
	topic     string
	partition int32
	next      int64
	recs      []pendingRecord[K, V]
}

type pendingRecord[K, V any] struct {
	offset int64
	ts     time.Time
	rec    Record[K, V]
}

// NewEvent returns a builder of events whose keys are serialized with keys
// and values with values. Serializers see serde.Target{Topic, IsKey} as they
// would in a producer, so registry serializers register and frame as usual.
func NewEvent[K, V any](keys serde.Serializer[K], values serde.Serializer[V], opts ...EventOption) *EventBuilder[K, V] {
	cfg := eventConfig{
		source:    kafkalambda.SourceSelfManaged,
		bootstrap: []string{DefaultBootstrapServers},
		base:      time.UnixMilli(DefaultBaseTime).UTC(),
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return &EventBuilder[K, V]{keys: keys, values: values, cfg: cfg}
}

// Add appends recs to topic-partition, at the offsets that follow the ones
// already added there (the first record of a partition is at offset 0).
func (b *EventBuilder[K, V]) Add(topic string, partition int32, recs ...Record[K, V]) *EventBuilder[K, V] {
	p := b.partition(topic, partition)
	return b.AddAt(topic, partition, p.next, recs...)
}

// AddAt appends recs to topic-partition, the first at offset and the rest at
// the offsets that follow. Offsets need not be contiguous across calls (a
// compacted topic has gaps); Build fails if they do not increase.
func (b *EventBuilder[K, V]) AddAt(topic string, partition int32, offset int64, recs ...Record[K, V]) *EventBuilder[K, V] {
	p := b.partition(topic, partition)
	for i, r := range recs {
		ts := r.Timestamp
		if ts.IsZero() {
			ts = b.cfg.base.Add(time.Duration(b.seq) * time.Millisecond)
			b.seq++
		}
		p.recs = append(p.recs, pendingRecord[K, V]{offset: offset + int64(i), ts: ts, rec: r})
	}
	p.next = offset + int64(len(recs))
	return b
}

func (b *EventBuilder[K, V]) partition(topic string, partition int32) *pendingPartition[K, V] {
	for _, p := range b.parts {
		if p.topic == topic && p.partition == partition {
			return p
		}
	}
	p := &pendingPartition[K, V]{topic: topic, partition: partition}
	b.parts = append(b.parts, p)
	return p
}

// Build serializes the records and returns the event, partitions sorted by
// topic then partition number as kafkalambda.ParseEvent returns them.
func (b *EventBuilder[K, V]) Build(ctx context.Context) (*kafkalambda.Event, error) {
	ev := &kafkalambda.Event{
		Source:           b.cfg.source,
		SourceARN:        b.cfg.arn,
		BootstrapServers: slices.Clone(b.cfg.bootstrap),
	}
	parts := slices.Clone(b.parts)
	slices.SortFunc(parts, func(x, y *pendingPartition[K, V]) int {
		return cmp.Or(strings.Compare(x.topic, y.topic), cmp.Compare(x.partition, y.partition))
	})
	for _, p := range parts {
		out := kafkalambda.Partition{
			Key:       p.topic + "-" + strconv.FormatInt(int64(p.partition), 10),
			Topic:     p.topic,
			Partition: p.partition,
			Records:   make([]kafkalambda.RawRecord, 0, len(p.recs)),
		}
		for i, pr := range p.recs {
			if i > 0 && pr.offset <= p.recs[i-1].offset {
				return nil, fmt.Errorf("kafkalambdatest: %w: %s offsets do not increase (%d after %d)", ErrInvalidOption, out.Key, pr.offset, p.recs[i-1].offset)
			}
			raw, err := b.raw(ctx, p, pr)
			if err != nil {
				return nil, err
			}
			out.Records = append(out.Records, raw)
		}
		ev.Partitions = append(ev.Partitions, out)
	}
	return ev, nil
}

// Payload returns the event as the JSON an event source mapping sends,
// ready for a lambda.Handler's Invoke.
func (b *EventBuilder[K, V]) Payload(ctx context.Context) ([]byte, error) {
	ev, err := b.Build(ctx)
	if err != nil {
		return nil, err
	}
	return ev.MarshalJSON()
}

func (b *EventBuilder[K, V]) raw(ctx context.Context, p *pendingPartition[K, V], pr pendingRecord[K, V]) (kafkalambda.RawRecord, error) {
	r := pr.rec
	raw := kafkalambda.RawRecord{
		Topic:         p.topic,
		Partition:     p.partition,
		Offset:        pr.offset,
		Timestamp:     pr.ts,
		TimestampType: kafkalambda.TimestampCreateTime,
		Headers:       slices.Clone(r.Headers),
	}
	key, value, err := serialize(ctx, b.keys, b.values, p.topic, r)
	if err != nil {
		return raw, fmt.Errorf("kafkalambdatest: %s-%d@%d: %w", p.topic, p.partition, pr.offset, err)
	}
	raw.Key, raw.KeySchema, err = sourceMode(key, b.cfg.keyFormat)
	if err != nil {
		return raw, fmt.Errorf("kafkalambdatest: %w: key of %s-%d@%d: %w", ErrInvalidOption, p.topic, p.partition, pr.offset, err)
	}
	raw.Value, raw.ValueSchema, err = sourceMode(value, b.cfg.valueFormat)
	if err != nil {
		return raw, fmt.Errorf("kafkalambdatest: %w: value of %s-%d@%d: %w", ErrInvalidOption, p.topic, p.partition, pr.offset, err)
	}
	return raw, nil
}

// serialized is a key's or a value's bytes: nil for null, never nil
// (possibly empty) otherwise; raw when they came from RawKey or RawValue.
type serialized struct {
	data []byte
	raw  bool
}

// serialize returns r's key and value bytes.
func serialize[K, V any](ctx context.Context, keys serde.Serializer[K], values serde.Serializer[V], topic string, r Record[K, V]) (key, value serialized, err error) {
	switch {
	case r.RawKey != nil && r.NullKey:
		return key, value, fmt.Errorf("%w: RawKey and NullKey are both set", ErrInvalidOption)
	case r.RawValue != nil && r.Tombstone:
		return key, value, fmt.Errorf("%w: RawValue and Tombstone are both set", ErrInvalidOption)
	case r.RawKey != nil:
		key = serialized{data: r.RawKey, raw: true}
	case !r.NullKey:
		if key.data, err = keys.Serialize(ctx, serde.Target{Topic: topic, IsKey: true}, r.Key); err != nil {
			return key, value, fmt.Errorf("serialize key: %w", err)
		}
		if key.data == nil {
			key.data = []byte{}
		}
	}
	switch {
	case r.RawValue != nil:
		value = serialized{data: r.RawValue, raw: true}
	case !r.Tombstone:
		if value.data, err = values.Serialize(ctx, serde.Target{Topic: topic}, r.Value); err != nil {
			return key, value, fmt.Errorf("serialize value: %w", err)
		}
		if value.data == nil {
			value.data = []byte{}
		}
	}
	return key, value, nil
}

// sourceMode strips the Confluent prefix from data and returns the schema
// metadata, when format is set and data is not null.
func sourceMode(s serialized, format string) ([]byte, *serde.SchemaMeta, error) {
	if format == "" || s.data == nil || s.raw {
		return s.data, nil, nil
	}
	id, rest, err := serde.ParseHeader(s.data)
	if err != nil {
		return nil, nil, fmt.Errorf("not in the Confluent wire format: %w", err)
	}
	return rest, &serde.SchemaMeta{DataFormat: format, SchemaID: strconv.Itoa(id)}, nil
}
