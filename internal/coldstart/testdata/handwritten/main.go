// Command handwritten is the hand-written baseline of the cold start
// benchmark: the tradesettle function's first invocation done directly
// with aws-lambda-go, confluent-kafka-go, srclient and the Secrets Manager
// SDK, as a function written without kafka-lambda-go would do it. On its
// first invocation it loads the AWS configuration, reads the Kafka secret
// (KAFKA_SECRET_ID: bootstrap.servers, schema.registry.url), makes the
// registry client and the producer (acks=all, idempotence on, the other
// confluent-kafka-go settings left at their defaults), and then, for each
// record: decodes the event's base64, looks the value's writer schema up
// by its Confluent id, unmarshals the UserTrade, settles it with the same
// rules, registers (or finds) the TradeSettlement schema, sends the
// settlement in Confluent's wire format and waits for its delivery report.
// The secret, the registry client, the producer and the output schema's id
// are kept for the next invocations.
//
// It checks what a real function would check (framing, schema found,
// delivery error) and fails the invocation otherwise; it is not a library.
package main

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/riferrei/srclient"
	"google.golang.org/protobuf/proto"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
)

// settlementSchema is the TradeSettlement schema as registered.
//
//go:embed trade_settlement.proto
var settlementSchema string

const outputTopic = "trade-settlements"

type state struct {
	producer *kafka.Producer
	registry *srclient.SchemaRegistryClient
	outID    int
}

var (
	mu  sync.Mutex
	cur *state
)

// get makes the state on first use; a failure is retried next time.
func get(ctx context.Context) (*state, error) {
	mu.Lock()
	defer mu.Unlock()
	if cur != nil {
		return cur, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	id := os.Getenv("KAFKA_SECRET_ID")
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	var secret map[string]string
	if out.SecretString == nil || json.Unmarshal([]byte(*out.SecretString), &secret) != nil {
		return nil, errors.New("secret: not a JSON object of strings")
	}
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":  secret["bootstrap.servers"],
		"acks":               "all",
		"enable.idempotence": true,
	})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	cur = &state{producer: p, registry: srclient.NewSchemaRegistryClient(secret["schema.registry.url"])}
	return cur, nil
}

func handle(ctx context.Context, ev events.KafkaEvent) error {
	s, err := get(ctx)
	if err != nil {
		return err
	}
	for _, recs := range ev.Records {
		for _, r := range recs {
			if err := s.settle(ctx, r); err != nil {
				return fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
		}
	}
	return nil
}

func (s *state) settle(ctx context.Context, r events.KafkaRecord) error {
	key, err := base64.StdEncoding.DecodeString(r.Key)
	if err != nil {
		return err
	}
	value, err := base64.StdEncoding.DecodeString(r.Value)
	if err != nil {
		return err
	}
	if len(value) < 6 || value[0] != 0 {
		return errors.New("value: not in Confluent's wire format")
	}
	if _, err := s.registry.GetSchema(int(binary.BigEndian.Uint32(value[1:5]))); err != nil {
		return fmt.Errorf("value schema: %w", err)
	}
	body := value[5:]
	n, read := binary.Varint(body) // message indexes: a count, then the indexes
	if read <= 0 || n < 0 || n > 1 {
		return errors.New("value: message indexes other than the first message")
	}
	body = body[read:]
	if n == 1 {
		if _, read = binary.Varint(body); read <= 0 {
			return errors.New("value: bad message index")
		}
		body = body[read:]
	}
	var trade tradepb.UserTrade
	if err := proto.Unmarshal(body, &trade); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	source := r.Topic + "/" + strconv.FormatInt(int64(r.Partition), 10) + "/" + strconv.FormatInt(r.Offset, 10)
	out := settle.Rules{}.Settle(settle.Trade{User: string(key), Value: &trade, Time: time.Time(r.Timestamp.Time), ID: source})
	if s.outID == 0 {
		schema, err := s.registry.CreateSchema(outputTopic+"-value", settlementSchema, srclient.Protobuf)
		if err != nil {
			return fmt.Errorf("settlement schema: %w", err)
		}
		s.outID = schema.ID()
	}
	msg, err := proto.Marshal(out)
	if err != nil {
		return err
	}
	framed := binary.BigEndian.AppendUint32([]byte{0}, uint32(s.outID))
	framed = append(append(framed, 0), msg...) // message index [0]: one 0 byte
	topic := outputTopic
	done := make(chan kafka.Event, 1)
	if err := s.producer.Produce(&kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key:            []byte(out.GetSymbol()),
		Value:          framed,
		Headers:        []kafka.Header{{Key: "tradesettle.source", Value: []byte(source)}},
	}, done); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	select {
	case e := <-done:
		if m, ok := e.(*kafka.Message); !ok || m.TopicPartition.Error != nil {
			return fmt.Errorf("delivery: %v", e)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func main() {
	lambda.Start(handle)
}
