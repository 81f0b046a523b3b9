package franz_test

import (
	"context"
	"fmt"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// The config func returns librdkafka-style properties, as the secrets
// package maps them from a secret; a property the franz-go producer cannot
// honour is refused by name when the client is made — at INIT, through
// Warm, which kafkalambda.Start calls — and never with its value.
func ExampleNewProducer() {
	p, err := franz.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{
			"bootstrap.servers": "127.0.0.1:9092",
			"security.protocol": "SASL_SSL",
			"sasl.mechanism":    "SCRAM-SHA-512",
			"sasl.username":     "app",
			"sasl.password":     "s3cret",
			"ssl.key.password":  "also-secret",
		}, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	err = p.Warm(context.Background())
	fmt.Println(kafkalambda.Classify(err))
	fmt.Println(err)
	// Output:
	// configuration
	// kafkalambda: producer: franz: create: property "ssl.key.password" is not supported by the franz-go producer
}

// In exactly-once mode each invocation's sends are Kafka transactions on
// the Producer's transactional clients, whose ids start with the prefix
// (the principal needs Write and Describe on those TransactionalIds).
func ExampleWithTransactionalIDPrefix() {
	p, err := franz.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": "127.0.0.1:9092"}, nil
	}, franz.WithTransactionalIDPrefix("settle"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	_, err = kafkalambda.NewHandler(serde.String(), serde.String(),
		func(context.Context, *kafkalambda.Record[string, string]) error { return nil },
		kafkalambda.WithProducer(p), kafkalambda.WithExactlyOnce("settle-progress"))
	fmt.Println("exactly-once handler:", err)
	// Output:
	// exactly-once handler: <nil>
}
