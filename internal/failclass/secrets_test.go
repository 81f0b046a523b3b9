package failclass_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// secretID is the secret every secret source row reads.
const secretID = "kafka/orders"

// secretSend runs a handler that sends through a librdkafka producer whose
// config func is a secrets.Loader's KafkaConfig, reading secretID from srv
// with the real AWS SDK client (one attempt per call: the loader retries).
func secretSend(t *testing.T, srv *secretstest.Server, policy secrets.RetryPolicy, rn run) seen {
	t.Helper()
	client := secretsmanager.New(secretsmanager.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAILCLASS", "failclass/secret/key", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 1
			o.RateLimiter = ratelimit.None
		}),
	})
	loader, err := secrets.New(secrets.WithSecretsManager(client, secretID), secrets.WithRetry(policy),
		secrets.WithLookupEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	return sendValue(t, producerFrom(t, loader.KafkaConfig), "v", rn)
}

// fewRetries keeps retried secret rows short.
var fewRetries = secrets.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// secretHolding reads a secret holding value.
func secretHolding(value string) func(t *testing.T) seen {
	return func(t *testing.T) seen {
		srv := secretstest.NewServer(t, map[string]string{secretID: value})
		return secretSend(t, srv, fewRetries, run{})
	}
}

func secretNotFound(t *testing.T) seen {
	srv := secretstest.NewServer(t, map[string]string{"kafka/other": `{"bootstrap.servers":"127.0.0.1:9"}`})
	return secretSend(t, srv, fewRetries, run{})
}

// secretFault reads a secret whose every read fails with f.
func secretFault(f secretstest.Fault, policy secrets.RetryPolicy, rn run) func(t *testing.T) seen {
	return func(t *testing.T) seen {
		srv := secretstest.NewServer(t, map[string]string{secretID: `{"bootstrap.servers":"127.0.0.1:9"}`})
		srv.FailNext(1000, f)
		return secretSend(t, srv, policy, rn)
	}
}

// untilDeadline retries for as long as the invocation lasts.
var untilDeadline = secrets.RetryPolicy{MaxAttempts: 1000, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
