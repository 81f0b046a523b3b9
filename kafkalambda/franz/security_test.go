package franz_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/franz"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// SASL/SCRAM over TLS, as a secret sets it (the CA as PEM), gets through;
// the same brokers with a CA that did not sign their certificate fail the
// invocation as the operator's fault, without waiting for the deadline.
func TestSCRAMOverTLS(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTLS(), kafkalambdatest.WithKafkaOptions(
		kfake.SeedTopics(1, "out"), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "app", "s3cret")))
	other := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTLS())
	for _, tt := range []struct {
		name  string
		ca    []byte
		class kafkalambda.FailureClass
	}{
		{"trusted CA", c.CACertPEM(), ""},
		{"another CA", other.CACertPEM(), kafkalambda.ClassConfiguration},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := franz.NewProducer(func(context.Context) (map[string]any, error) {
				return map[string]any{"bootstrap.servers": c.BootstrapServers(), "security.protocol": "SASL_SSL",
					"sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "app", "sasl.password": "s3cret",
					"ssl.ca.pem": string(tt.ca)}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			h := producertest.EchoHandler(t, p, "out", nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = h.Invoke(ctx, producertest.InputEvent(t, 3, "in-0"))
			if got := kafkalambda.Classify(err); got != tt.class {
				t.Fatalf("Invoke = %v (class %q), want class %q", err, got, tt.class)
			}
			if err != nil && !errors.Is(err, kafkalambda.ErrUndelivered) {
				t.Errorf("Invoke = %v, want ErrUndelivered", err)
			}
			if dl, _ := ctx.Deadline(); err != nil && time.Until(dl) < 30*time.Second {
				t.Error("the untrusted certificate failed the invocation only at its deadline")
			}
		})
	}
}
