package librdkafka_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// TestOAuthBearerTokens: with sasl.mechanism OAUTHBEARER (Amazon MSK IAM),
// librdkafka asks the producer for a token, which it takes from
// WithOAuthBearerTokens' source and gives back; the brokers see it in the
// SASL exchange, and the send is delivered. A source that fails leaves
// the producer unauthenticated: it shows the brokers no token, and its
// send is not delivered.
func TestOAuthBearerTokens(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	var mu sync.Mutex
	var seen []string
	kf := c.Kafka()
	kf.ControlKey(int16(kmsg.SASLHandshake), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		r := req.(*kmsg.SASLHandshakeRequest)
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{"OAUTHBEARER"}
		if r.Mechanism != "OAUTHBEARER" {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
		return resp, nil, true
	})
	kf.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		_, tok, _ := strings.Cut(string(r.SASLAuthBytes), "auth=Bearer ")
		tok, _, _ = strings.Cut(tok, "\x01")
		mu.Lock()
		seen = append(seen, tok)
		mu.Unlock()
		if tok != "token-1" {
			msg := "bad token"
			resp.ErrorCode, resp.ErrorMessage = kerr.SaslAuthenticationFailed.Code, &msg
		}
		return resp, nil, true
	})
	sasl := map[string]any{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER"}
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()

	good := newProducer(t, c, sasl, librdkafka.WithOAuthBearerTokens(func(context.Context) (string, time.Time, error) {
		return "token-1", time.Now().Add(time.Hour), nil
	}))
	if err := sendWithin(ctx, good, 10*time.Second); err != nil {
		t.Fatalf("send with a token: %v", err)
	}
	mu.Lock()
	if len(seen) == 0 || seen[0] != "token-1" {
		t.Errorf("the brokers saw tokens %q, want token-1", seen)
	}
	mu.Unlock()

	asked := make(chan struct{}, 1)
	bad := newProducer(t, c, sasl, librdkafka.WithOAuthBearerTokens(func(context.Context) (string, time.Time, error) {
		select {
		case asked <- struct{}{}:
		default:
		}
		return "", time.Time{}, errors.New("no credentials")
	}))
	done := make(doneChan, 1)
	if err := bad.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("v")}, done); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked: // the source failed: librdkafka has no token to connect with
	case <-ctx.Done():
		t.Fatal("librdkafka never asked for a token")
	}
	bad.Purge()
	if err := <-done; err == nil {
		t.Fatal("a send without a token was delivered")
	}
	mu.Lock()
	for _, tok := range seen {
		if tok != "token-1" {
			t.Errorf("the brokers saw tokens %q, want only the good producer's", seen)
			break
		}
	}
	mu.Unlock()
}

// sendWithin sends a message through p and returns its outcome, purged if
// it has none within d.
func sendWithin(ctx context.Context, p *librdkafka.Producer, d time.Duration) error {
	done := make(doneChan, 1)
	if err := p.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("v")}, done); err != nil {
		return err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		p.Purge()
		return <-done
	}
}
