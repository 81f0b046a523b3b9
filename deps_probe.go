//go:build depprobe

package deps

import (
	_ "github.com/aws/aws-lambda-go/events"
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-lambda-go/lambdacontext"
	_ "github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/lambda"
	_ "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	_ "github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"
	_ "github.com/awslabs/goformation/v7"
	_ "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	_ "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	_ "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	_ "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	_ "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/jsonschema"
	_ "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/protobuf"
	_ "github.com/hamba/avro/v2"
	_ "github.com/linkedin/goavro/v2"
	_ "github.com/riferrei/srclient"
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/twmb/franz-go/pkg/sr"
	_ "github.com/twmb/franz-go/pkg/sr/srfake"
	_ "golang.org/x/sync/singleflight"
	_ "google.golang.org/protobuf/encoding/protojson"
	_ "google.golang.org/protobuf/proto"
	_ "google.golang.org/protobuf/reflect/protodesc"
	_ "google.golang.org/protobuf/types/dynamicpb"
)
