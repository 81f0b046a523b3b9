package librdkafka

import (
	"errors"
	"strings"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// IsAuthFailure reports whether err, an error from librdkafka (a
// kafka.Error from a producer's events channel or a delivery report, or an
// error wrapping one), says the broker refused the credentials: the case
// for a secret cache's invalidation (secrets.Loader.Invalidate) and a
// producer rebuilt from a fresh config, which Producer does itself (see
// WithAuthFailureHook). It is the one place this rule lives.
//
// librdkafka reports a refused SASL login as kafka.ErrAuthentication
// ("SASL authentication error: Authentication failed …") when the broker
// answers SASL_AUTHENTICATION_FAILED, as Apache Kafka, MSK and Confluent
// Cloud do; as kafka.ErrSaslAuthenticationFailed in some request results;
// and as kafka.ErrTransport with "SASL authentication error" in the text
// when the broker just closes the connection during the SASL exchange (as
// some proxies and the kfake test broker do). All three count. The last
// can also be a network failure in the middle of the handshake, so a caller
// should bound how often it rebuilds.
func IsAuthFailure(err error) bool {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke.Code() {
	case kafka.ErrAuthentication, kafka.ErrSaslAuthenticationFailed:
		return true
	case kafka.ErrTransport:
		return strings.Contains(ke.Error(), "SASL authentication error")
	}
	return false
}
