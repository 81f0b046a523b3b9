package serde_test

import (
	"context"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// testRegistry is one in-process Schema Registry (srfake) with the two
// clients that talk to it: srclient for our codecs, Confluent's for theirs.
type testRegistry struct {
	fake      *srfake.Registry
	client    *srclient.SchemaRegistryClient
	confluent schemaregistry.Client
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	cc, err := schemaregistry.NewClient(schemaregistry.NewConfig(fake.URL()))
	if err != nil {
		t.Fatalf("confluent client: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &testRegistry{fake: fake, client: srclient.NewSchemaRegistryClient(fake.URL()), confluent: cc}
}

// ctx returns a context bounded well under the test timeout.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
