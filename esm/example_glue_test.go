package esm_test

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/kafkalambda/kafka-lambda-go/esm"
)

// A mapping whose schema registry is an AWS Glue registry: the Glue client
// (here for a local endpoint such as serde/gluetest's; on AWS, from
// config.LoadDefaultConfig) and the registry's name. Records then reach the
// function with the Glue header stripped and the schema version UUID in
// valueSchemaMetadata. Without Config.Provisioned, the mapping warns that
// AWS allows the registry in provisioned mode only.
func ExampleSchemaRegistry_glue() {
	client := glue.New(glue.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4566")})
	m, err := esm.New(esm.Config{Brokers: []string{"127.0.0.1:9092"}, Topics: []string{"orders"}},
		&esm.HandlerTarget{Handler: &printer{}},
		esm.WithSchemaRegistry(esm.SchemaRegistry{Glue: client, GlueRegistry: "orders-registry"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range m.Warnings() {
		fmt.Println(w)
	}
	// Output:
	// SchemaRegistryConfig needs provisioned mode on AWS (ProvisionedPollerConfig; Config.Provisioned says the mapping has it)
}
