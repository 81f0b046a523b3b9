//go:build franz

package app

import (
	"log/slog"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// ProducerName names the producer this build sends with: "franz" (franz-go,
// pure Go: built with -tags franz) or, by default, "librdkafka"
// (confluent-kafka-go, cgo).
const ProducerName = "franz"

// newProducer is the shared producer: its config from the secret (a
// broker's authentication failure invalidates the cached secret so that a
// rotated one is read at once), or, with iam, MSK IAM's config and tokens.
// Its transactional clients (exactly-once mode) have ids starting with
// txnPrefix.
func newProducer(loader *secrets.Loader, iam *secrets.MSKIAM, logger *slog.Logger, txnPrefix string) (kafkalambda.Producer, error) {
	if iam != nil {
		return franz.NewProducer(iam.KafkaConfig, franz.WithOAuthBearerTokens(iam.Token),
			franz.WithLogger(logger), franz.WithTransactionalIDPrefix(txnPrefix))
	}
	return franz.NewProducer(loader.KafkaConfig, franz.WithAuthFailureHook(loader.Invalidate),
		franz.WithLogger(logger), franz.WithTransactionalIDPrefix(txnPrefix))
}
