package franz_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
)

// A bad argument or option is an error that matches the module's one
// configuration sentinel and says where it came from; it is the
// operator's fault.
func TestNewProducerRejectsBadOptions(t *testing.T) {
	t.Parallel()
	config := func(context.Context) (map[string]any, error) { return map[string]any{}, nil }
	for _, tt := range []struct {
		name   string
		config func(context.Context) (map[string]any, error)
		opt    franz.Option
	}{
		{"nil config func", nil, nil},
		{"nil logger", config, franz.WithLogger(nil)},
		{"nil token source", config, franz.WithOAuthBearerTokens(nil)},
		{"nil auth failure hook", config, franz.WithAuthFailureHook(nil)},
		{"negative max idle", config, franz.WithMaxIdle(-1)},
		{"empty transactional id prefix", config, franz.WithTransactionalIDPrefix("")},
	} {
		p, err := franz.NewProducer(tt.config, tt.opt)
		if p != nil {
			p.Close()
		}
		if !errors.Is(err, franz.ErrInvalidOption) || !errors.Is(err, kafkalambda.ErrInvalidOption) ||
			!strings.HasPrefix(err.Error(), "franz: ") || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
			t.Errorf("%s: NewProducer = %v (class %s), want a franz error matching ErrInvalidOption, of class configuration",
				tt.name, err, kafkalambda.Classify(err))
		}
	}
}
