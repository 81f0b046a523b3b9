package librdkafka_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

func TestIsAuthFailure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{kafka.NewError(kafka.ErrAuthentication, "SASL authentication error: Authentication failed", false), true},
		{fmt.Errorf("producer: %w", kafka.NewError(kafka.ErrSaslAuthenticationFailed, "failed", false)), true},
		{kafka.NewError(kafka.ErrTransport, "sasl_ssl://b:9096/1: SASL authentication error: SaslAuthenticateRequest failed", false), true},
		{kafka.NewError(kafka.ErrTransport, "sasl_ssl://b:9096/1: Connection refused", false), false},
		{kafka.NewError(kafka.ErrAllBrokersDown, "1/1 brokers are down", false), false},
		{kafka.NewError(kafka.ErrTopicAuthorizationFailed, "not authorized", false), false},
		{errors.New("SASL authentication error"), false},
		{nil, false},
	} {
		if got := librdkafka.IsAuthFailure(tt.err); got != tt.want {
			t.Errorf("IsAuthFailure(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}
