package librdkafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// A bad argument or option is an error that matches the module's one
// configuration sentinel (librdkafka's name for it is kafkalambda's value)
// and says where it came from; it is the operator's fault.
func TestNewProducerRejectsBadOptions(t *testing.T) {
	t.Parallel()
	config := func(context.Context) (map[string]any, error) { return map[string]any{}, nil }
	for _, tt := range []struct {
		name   string
		config func(context.Context) (map[string]any, error)
		opt    librdkafka.Option
	}{
		{"nil config func", nil, nil},
		{"nil logger", config, librdkafka.WithLogger(nil)},
		{"nil token source", config, librdkafka.WithOAuthBearerTokens(nil)},
		{"nil auth failure hook", config, librdkafka.WithAuthFailureHook(nil)},
		{"negative max idle", config, librdkafka.WithMaxIdle(-1)},
	} {
		p, err := librdkafka.NewProducer(tt.config, tt.opt)
		if p != nil {
			p.Close()
		}
		if !errors.Is(err, librdkafka.ErrInvalidOption) || !errors.Is(err, kafkalambda.ErrInvalidOption) ||
			!strings.HasPrefix(err.Error(), "librdkafka: ") || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
			t.Errorf("%s: NewProducer = %v (class %s), want a librdkafka error matching ErrInvalidOption, of class configuration",
				tt.name, err, kafkalambda.Classify(err))
		}
	}
}
