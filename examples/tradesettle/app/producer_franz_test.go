//go:build franz

package app_test

import (
	"context"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
)

// newTestProducer is the producer of this build (see app.ProducerName).
func newTestProducer(config func(context.Context) (map[string]any, error)) (*franz.Producer, error) {
	return franz.NewProducer(config)
}
