package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// Warm registers the settlement schema under the output topic's value
// subject, as the first send would, and sends nothing.
func TestWarmResolvesTheSettlementSchemaAndSendsNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t, kafkalambda.FailBatch())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	subject := app.OutputTopic + "-value"
	if v, err := r.cluster.RegistryClient().SubjectVersions(ctx, subject); err == nil && len(v) > 0 {
		t.Fatalf("%s has versions %v before Warm", subject, v)
	}
	if err := r.fn.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := r.cluster.RegistryClient().SubjectVersions(ctx, subject)
	if err != nil || len(v) != 1 {
		t.Fatalf("after Warm, %s has versions %v (%v), want one", subject, v, err)
	}
	if recs := r.settlements(t); len(recs) != 0 {
		t.Fatalf("Warm sent %d records", len(recs))
	}
}
