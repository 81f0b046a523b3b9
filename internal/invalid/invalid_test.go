package invalid_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Every package's ErrInvalidOption is the one sentinel, so a configuration
// error of any of them matches kafkalambda.ErrInvalidOption, is the
// operator's fault, and still says which package it came from. (The
// librdkafka producer's, which needs cgo, is checked in its own tests.)
func TestOneSentinelAcrossPackages(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]error{
		"kafkalambda":     kafkalambda.ErrInvalidOption,
		"kafkalambdatest": kafkalambdatest.ErrInvalidOption,
		"serde":           serde.ErrInvalidOption,
		"secrets":         secrets.ErrInvalidOption,
		"esm":             esm.ErrInvalidOption,
	} {
		if v != invalid.ErrOption {
			t.Errorf("%s.ErrInvalidOption is not the shared sentinel", name)
		}
	}

	tests := []struct {
		prefix string
		err    func() error
	}{
		{"kafkalambda: ", func() error {
			_, err := kafkalambda.NewHandler[string, string](nil, nil, nil)
			return err
		}},
		{"kafkalambdatest: ", func() error {
			_, err := kafkalambdatest.StartCluster(context.Background(), kafkalambdatest.WithBrokers(0))
			return err
		}},
		{"serde: ", func() error {
			_, err := serde.Avro[struct{}](nil)
			return err
		}},
		{"secrets: ", func() error {
			_, err := secrets.New(secrets.WithEnv("X"), secrets.WithLogger(&slog.Logger{}))
			return err
		}},
		{"esm: ", func() error {
			_, err := esm.NewEndpointTarget("")
			return err
		}},
	}
	for _, tt := range tests {
		err := tt.err()
		if !errors.Is(err, kafkalambda.ErrInvalidOption) || !strings.HasPrefix(err.Error(), tt.prefix) ||
			kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
			t.Errorf("%q error %v (class %s): want one starting %q that matches kafkalambda.ErrInvalidOption, of class configuration",
				tt.prefix, err, kafkalambda.Classify(err), tt.prefix)
		}
	}
}
