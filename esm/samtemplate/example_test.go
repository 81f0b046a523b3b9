package samtemplate_test

import (
	"fmt"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
)

func Example() {
	tm, err := samtemplate.Parse([]byte(`
Transform: AWS::Serverless-2016-10-31
Parameters:
  Brokers: {Type: CommaDelimitedList}
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      Events:
        Kafka:
          Type: SelfManagedKafka
          Properties:
            KafkaBootstrapServers: !Ref Brokers
            Topics: [orders]
            StartingPosition: LATEST
            BatchSize: 50
            BisectBatchOnFunctionError: true
            SourceAccessConfigurations:
              - {Type: SASL_SCRAM_512_AUTH, URI: !Ref OrdersSecret}
`))
	if err != nil {
		panic(err)
	}
	m, err := tm.Mapping("Orders", samtemplate.WithParameters(map[string]string{"Brokers": "localhost:9092"}))
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Type, m.BootstrapServers, m.Topics, *m.BatchSize, m.FunctionTimeout)
	for _, n := range m.Notes {
		fmt.Println("note:", n)
	}
	reports := true
	for _, f := range m.Check(samtemplate.Handler{ReportsItemFailures: &reports, DeadlineMargin: 500 * time.Millisecond}) {
		fmt.Println("check:", f)
	}
	// Output:
	// SelfManagedKafka [localhost:9092] [orders] 50 30s
	// note: Resources.Orders.Properties.Events.Kafka.Properties.SourceAccessConfigurations[0]: SASL_SCRAM_512_AUTH: the secret is not read; give the mapping's Kafka client its SASL credentials
	// check: Resources.Orders.Properties.Events.Kafka.Properties.FunctionResponseTypes: lacks ReportBatchItemFailures but the handler reports batch item failures: AWS ignores its response, and the records it reports failed count as processed
	// check: Resources.Orders.Properties.Events.Kafka.Properties: BisectBatchOnFunctionError needs provisioned mode on AWS (ProvisionedPollerConfig; Config.Provisioned says the mapping has it)
}
