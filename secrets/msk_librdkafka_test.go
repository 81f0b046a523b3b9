//go:build cgo

package secrets_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// librdkafka asks for a token as soon as the client exists (an
// OAuthBearerTokenRefresh event) and accepts what Token returns.
func TestMSKIAMTokenAcceptedByLibrdkafka(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // nothing answers: no broker needed
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	m := newMSK(t, secrets.WithBootstrapServers(ln.Addr().String()))
	cfg, _ := m.KafkaConfig(context.Background())
	cm := kafka.ConfigMap{"log_level": 0}
	for k, v := range cfg {
		cm[k] = v
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	timeout := time.After(time.Minute) // a guard: the event is what is waited for
	for {
		select {
		case ev := <-p.Events():
			if _, ok := ev.(kafka.OAuthBearerTokenRefresh); !ok {
				continue
			}
			tok, exp, err := m.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := p.SetOAuthBearerToken(kafka.OAuthBearerToken{TokenValue: tok, Expiration: exp}); err != nil {
				t.Fatalf("librdkafka refused the token: %v", err)
			}
			return
		case <-timeout:
			t.Fatal("no OAuthBearerTokenRefresh event")
		}
	}
}
