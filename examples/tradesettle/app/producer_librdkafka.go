//go:build !franz

package app

import (
	"log/slog"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// ProducerName names the producer this build sends with: "librdkafka"
// (confluent-kafka-go, cgo; the default) or, built with -tags franz,
// "franz" (franz-go, pure Go).
const ProducerName = "librdkafka"

// newProducer is the shared producer: its config from the secret (a
// broker's authentication failure invalidates the cached secret so that a
// rotated one is read at once), or, with iam, MSK IAM's config and tokens.
// Its transactional producers (exactly-once mode) have ids starting with
// txnPrefix.
func newProducer(loader *secrets.Loader, iam *secrets.MSKIAM, logger *slog.Logger, txnPrefix string) (kafkalambda.Producer, error) {
	if iam != nil {
		return librdkafka.NewProducer(iam.KafkaConfig, librdkafka.WithOAuthBearerTokens(iam.Token),
			librdkafka.WithLogger(logger), librdkafka.WithTransactionalIDPrefix(txnPrefix))
	}
	return librdkafka.NewProducer(loader.KafkaConfig, librdkafka.WithAuthFailureHook(loader.Invalidate),
		librdkafka.WithLogger(logger), librdkafka.WithTransactionalIDPrefix(txnPrefix))
}
