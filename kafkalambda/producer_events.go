package kafkalambda

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// events reads everything the librdkafka producer reports, for as long as
// it lives: delivery reports go to the tracker of the invocation that sent
// the message; errors are logged, and a fatal or authentication error
// breaks the generation so that the next send builds a new producer;
// token refresh requests are answered.
func (p *Producer) events(g *generation) {
	defer close(g.done)
	for ev := range g.p.Events() {
		switch e := ev.(type) {
		case *kafka.Message:
			g.lastUsed.Store(time.Now().UnixNano())
			g.outstanding.Add(-1)
			if ref, ok := e.Opaque.(*sendRef); ok {
				ref.tr.report(ref, e.TopicPartition.Error)
			}
			g.poke()
		case kafka.Error:
			p.onError(g, e)
		case kafka.OAuthBearerTokenRefresh:
			p.refreshToken(g)
		default:
			p.log.Debug("kafkalambda: producer event", "event", ev.String())
		}
	}
}

func (p *Producer) onError(g *generation, e kafka.Error) {
	var last error = e
	g.lastErr.Store(&last)
	switch {
	case e.IsFatal():
		err := fmt.Errorf("%w: fatal error: %w", ErrProducer, e)
		if g.breakWith(err) {
			p.log.Error("kafkalambda: producer failed fatally; it will be replaced", "generation", g.id, "error", e.Error())
			// Fail what is still queued now rather than at the deadline.
			_ = g.p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
		}
	case isAuthFailure(e) || isCertificateFailure(e):
		what := "authentication failed"
		if isCertificateFailure(e) {
			what = "broker certificate not trusted"
		}
		err := fmt.Errorf("%w: %s: %w", ErrProducer, what, e)
		if g.breakWith(err) {
			p.log.Error("kafkalambda: brokers rejected the producer's credentials or certificate; it will be rebuilt from a fresh config",
				"generation", g.id, "error", e.Error())
			if p.authFailed != nil {
				p.authFailed()
			}
			_ = g.p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
		}
	default:
		// Transient: all brokers down, a connection reset after a thaw,
		// timeouts. librdkafka retries; undelivered messages surface in
		// the invocations' flushes.
		p.log.Warn("kafkalambda: producer error", "generation", g.id, "code", e.Code().String(), "error", e.Error())
	}
}

// isAuthFailure reports a broker rejecting the credentials. Brokers answer
// a bad SASL handshake with SASL_AUTHENTICATION_FAILED, or close the
// connection, which librdkafka reports as a transport failure whose message
// begins its SASL state's "SASL authentication error".
// secrets.IsAuthFailure is the same test for users: the two packages may
// not import each other (design: secrets imports nothing of ours), so a
// change here goes there too.
func isAuthFailure(e kafka.Error) bool {
	switch e.Code() {
	case kafka.ErrAuthentication, kafka.ErrSaslAuthenticationFailed:
		return true
	case kafka.ErrTransport:
		return strings.Contains(e.Error(), "SASL authentication error")
	}
	return false
}

// isCertificateFailure reports a broker certificate that does not verify:
// waiting does not help, so the producer is rebuilt from a fresh config
// (the CA may come with the secret) and what it holds fails at once.
func isCertificateFailure(e kafka.Error) bool {
	return (e.Code() == kafka.ErrSsl || e.Code() == kafka.ErrTransport) &&
		strings.Contains(e.Error(), "certificate verify failed")
}

func (p *Producer) refreshToken(g *generation) {
	if p.tokens == nil {
		_ = g.p.SetOAuthBearerTokenFailure("kafkalambda: no OAUTHBEARER token source (WithOAuthBearerTokens)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := p.tokens(ctx)
	if err != nil {
		p.log.Error("kafkalambda: OAUTHBEARER token refresh failed", "error", err.Error())
		_ = g.p.SetOAuthBearerTokenFailure(err.Error())
		return
	}
	if err := g.p.SetOAuthBearerToken(tok); err != nil {
		p.log.Error("kafkalambda: OAUTHBEARER token rejected by librdkafka", "error", err.Error())
	}
}

// logs forwards librdkafka's log lines to the logger at their syslog level.
func (p *Producer) logs(g *generation) {
	ch := g.p.Logs()
	if ch == nil {
		return
	}
	for l := range ch {
		level := slog.LevelDebug
		switch {
		case l.Level <= 3:
			level = slog.LevelError
		case l.Level == 4:
			level = slog.LevelWarn
		case l.Level <= 6:
			level = slog.LevelInfo
		}
		if !p.log.Enabled(context.Background(), level) {
			continue
		}
		// The record keeps librdkafka's own time: lines reach this
		// goroutine in batches.
		r := slog.NewRecord(l.Timestamp, level, "librdkafka: "+l.Message, 0)
		r.AddAttrs(slog.String("facility", l.Tag), slog.String("client", l.Name), slog.Int64("generation", g.id))
		_ = p.log.Handler().Handle(context.Background(), r)
	}
}
