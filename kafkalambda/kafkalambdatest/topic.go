package kafkalambdatest

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Kafka is where [Produce], [ProduceTo] and [ReadTopic] write and read: the
// embedded [*Cluster], or a [*Client] from [Dial] for brokers at any
// address.
type Kafka interface {
	ProduceRecords(ctx context.Context, recs ...*kgo.Record) error
	ReadTopic(ctx context.Context, topic string) ([]*kgo.Record, error)
}

var (
	_ Kafka = (*Cluster)(nil)
	_ Kafka = (*Client)(nil)
)

// Produce serializes recs with keys and values and produces them to topic,
// partitioned by key like Kafka's Java producer. It returns once the broker
// acknowledged every record. A record's RawKey and RawValue, when set, are
// produced as they are.
func Produce[K, V any](ctx context.Context, k Kafka, topic string, keys serde.Serializer[K], values serde.Serializer[V], recs ...Record[K, V]) error {
	return ProduceTo(ctx, k, topic, AnyPartition, keys, values, recs...)
}

// ProduceTo is Produce into one partition (or by key with AnyPartition).
func ProduceTo[K, V any](ctx context.Context, k Kafka, topic string, partition int32, keys serde.Serializer[K], values serde.Serializer[V], recs ...Record[K, V]) error {
	out := make([]*kgo.Record, 0, len(recs))
	for i, r := range recs {
		key, value, err := serialize(ctx, keys, values, topic, r)
		if err != nil {
			return fmt.Errorf("kafkalambdatest: record %d for %s: %w", i, topic, err)
		}
		kr := &kgo.Record{Topic: topic, Partition: partition, Key: key.data, Value: value.data, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		out = append(out, kr)
	}
	return k.ProduceRecords(ctx, out...)
}

// ReadTopic reads topic as [Kafka.ReadTopic] does (every record from the
// start of each partition up to its end offset at the time of the call,
// partitions in ascending order, offsets in order within each) and decodes
// the records with keys and values, the deserializers of the output that
// wrote them, as a handler decodes its input: a null key or value is not
// deserialized (Key or Value stays the zero value; RawKey or RawValue is
// nil). TimestampType is kafkalambda.TimestampCreateTime or
// TimestampLogAppendTime. A record that does not decode is a
// *kafkalambda.RecordError naming its topic, partition, offset and stage
// (key or value), which matches kafkalambda.ErrDeserialize; the records
// before it are not returned.
func ReadTopic[K, V any](ctx context.Context, k Kafka, topic string, keys serde.Deserializer[K], values serde.Deserializer[V]) ([]*kafkalambda.Record[K, V], error) {
	raws, err := k.ReadTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make([]*kafkalambda.Record[K, V], 0, len(raws))
	for _, kr := range raws {
		r := &kafkalambda.Record[K, V]{
			Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset,
			Timestamp: kr.Timestamp, TimestampType: kafkalambda.TimestampCreateTime,
			RawKey: kr.Key, RawValue: kr.Value,
		}
		if kr.Attrs.TimestampType() == 1 {
			r.TimestampType = kafkalambda.TimestampLogAppendTime
		}
		for _, h := range kr.Headers {
			r.Headers = append(r.Headers, kafkalambda.Header{Key: h.Key, Value: h.Value})
		}
		if kr.Key != nil {
			if r.Key, err = keys.Deserialize(ctx, serde.Message{Topic: kr.Topic, Data: kr.Key, IsKey: true}); err != nil {
				return nil, readError(kr, kafkalambda.StageKey, err)
			}
		}
		if kr.Value != nil {
			if r.Value, err = values.Deserialize(ctx, serde.Message{Topic: kr.Topic, Data: kr.Value}); err != nil {
				return nil, readError(kr, kafkalambda.StageValue, err)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func readError(kr *kgo.Record, stage kafkalambda.Stage, err error) error {
	re := &kafkalambda.RecordError{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Stage: stage, Err: err}
	if se, ok := errors.AsType[*serde.Error](err); ok && se.SchemaID != 0 {
		re.SchemaID = strconv.Itoa(se.SchemaID)
	}
	return re
}
