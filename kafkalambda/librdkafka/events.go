package librdkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// serve reads everything the shared librdkafka producer reports, for as
// long as it lives: delivery reports go to the Delivery the message was
// produced with; errors are logged, and a fatal or authentication error
// breaks the generation so that the next send builds a new producer;
// token refresh requests are answered; log lines are logged.
func (p *Producer) serve(g *generation) {
	defer close(g.done)
	g.c.serve(clientEvents{
		reports: func(rs []report) {
			g.touch(time.Now().UnixNano())
			for _, r := range rs {
				if r.d != nil {
					r.d.Done(g.failure(p.deliveryError(g, r.err, r.offset, r.partition)))
					g.holds.Release()
				}
			}
			g.poke()
		},
		err: func(e kafka.Error) { p.onError(g, e) },
		log: func(level int, facility, message string) {
			p.logLine(g, level, facility, g.c.name, message, time.Now())
		},
		token: func() { p.refreshToken(g) },
	})
}

// events is serve for a transactional producer, from confluent-kafka-go's
// events channel.
func (p *Producer) events(g *generation) {
	defer close(g.done)
	events := g.p.Events()
	for ev := range events {
		switch e := ev.(type) {
		case *kafka.Message:
			if len(events) == 0 { // the last report of a burst
				g.touch(time.Now().UnixNano())
			}
			if d, ok := e.Opaque.(kafkalambda.Delivery); ok {
				d.Done(g.failure(p.deliveryError(g, e.TopicPartition.Error, int64(e.TopicPartition.Offset), e.TopicPartition.Partition)))
				g.holds.Release()
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

// errNotConfirmed: librdkafka reported a message delivered that no broker
// acknowledged. See deliveryError.
var errNotConfirmed = errors.New("delivery inferred by librdkafka, not acknowledged by the broker (no offset): it may not have been written")

// deliveryError returns the error of a delivery report: librdkafka's, or
// errNotConfirmed for a success that carries no offset.
//
// A broker that acknowledges a write says at which offset it wrote it.
// librdkafka also reports success without an acknowledgement: when a
// produce request of its idempotent producer fails and a later one to the
// same partition succeeds, it infers that the failed one was written too
// ("implicit ack", rd_kafka_dr_implicit_ack) and reports its messages
// delivered, with no offset. The inference is wrong when the failed
// request was refused unwritten (e.g. NOT_LEADER_OR_FOLLOWER) and the
// broker had no state yet for the producer id on that partition — a new
// producer, or one whose epoch was just bumped: brokers (Kafka 2.5+,
// KIP-360; kfake) accept a producer's first batch on a partition at any
// sequence number, so the later request is written and the failed one's
// messages are lost while reported delivered. Counting such a report as a
// failure (the environment's) retries the record that sent it: at worst a
// duplicate, never a loss. This is what the soak lost a record to under
// CPU load (issue 20).
func (p *Producer) deliveryError(g *generation, err error, offset int64, partition int32) error {
	if err != nil || !g.acked || offset >= 0 {
		return err
	}
	p.log.Warn("kafkalambda: a delivery report without an acknowledgement from the broker; the record that sent it fails",
		"generation", g.id, "partition", partition)
	return errNotConfirmed
}

func (p *Producer) onError(g *generation, e kafka.Error) {
	var last error = e
	g.lastErr.Store(&last)
	if e.Code() != kafka.ErrAllBrokersDown {
		g.lastCause.Store(&last)
	}
	switch {
	case e.IsFatal():
		// The event's code is ErrFatal; the producer keeps the one behind it.
		cause := e
		if g.c != nil {
			if code, msg := g.c.fatalError(); code != kafka.ErrNoError {
				cause = kafka.NewError(code, msg, true)
			}
		} else if fe, ok := g.p.GetFatalError().(kafka.Error); ok {
			cause = fe
		}
		err := kafkalambda.Classified(fatalClass(cause), kafkalambda.ErrProducer, fmt.Errorf("fatal error: %w", e))
		if g.breakWith(err) {
			p.log.Error("kafkalambda: producer failed fatally; it will be replaced", "generation", g.id, "error", e.Error())
			// Fail what is still queued now rather than at the deadline.
			g.purgeNow()
		}
	case IsAuthFailure(e) || isCertificateFailure(e):
		what := "authentication failed"
		if isCertificateFailure(e) {
			what = "broker certificate not trusted"
		}
		err := kafkalambda.Classified(kafkalambda.ClassConfiguration, kafkalambda.ErrProducer, fmt.Errorf("%s: %w", what, e))
		if g.breakWith(err) {
			p.log.Error("kafkalambda: brokers rejected the producer's credentials or certificate; it will be rebuilt from a fresh config",
				"generation", g.id, "error", e.Error())
			if p.authFailed != nil {
				p.authFailed()
			}
			g.purgeNow()
		}
	default:
		// Transient: all brokers down, a connection reset after a thaw,
		// timeouts. librdkafka retries; undelivered messages surface in
		// the invocations' flushes.
		p.log.Warn("kafkalambda: producer error", "generation", g.id, "code", e.Code().String(), "error", e.Error())
	}
}

// isCertificateFailure reports a broker certificate that does not verify:
// waiting does not help, so the producer is rebuilt from a fresh config
// (the CA may come with the secret) and what it holds fails at once.
func isCertificateFailure(e kafka.Error) bool {
	return (e.Code() == kafka.ErrSsl || e.Code() == kafka.ErrTransport) &&
		strings.Contains(e.Error(), "certificate verify failed")
}

func (p *Producer) refreshToken(g *generation) {
	fail := func(why string) {
		if g.c != nil {
			g.c.setTokenFailure(why)
		} else {
			_ = g.p.SetOAuthBearerTokenFailure(why)
		}
	}
	if p.tokens == nil {
		fail("kafkalambda: no OAUTHBEARER token source (WithOAuthBearerTokens)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, exp, err := p.tokens(ctx)
	if err != nil {
		p.log.Error("kafkalambda: OAUTHBEARER token refresh failed", "error", err.Error())
		fail(err.Error())
		return
	}
	if g.c != nil {
		err = g.c.setToken(tok, exp)
	} else {
		err = g.p.SetOAuthBearerToken(kafka.OAuthBearerToken{TokenValue: tok, Expiration: exp})
	}
	if err != nil {
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
		// The record keeps librdkafka's own time: lines reach this
		// goroutine in batches.
		p.logLine(g, l.Level, l.Tag, l.Name, l.Message, l.Timestamp)
	}
}

// logLine logs one of librdkafka's log lines at its syslog level.
func (p *Producer) logLine(g *generation, syslogLevel int, facility, client, message string, at time.Time) {
	level := slog.LevelDebug
	switch {
	case syslogLevel <= 3:
		level = slog.LevelError
	case syslogLevel == 4:
		level = slog.LevelWarn
	case syslogLevel <= 6:
		level = slog.LevelInfo
	}
	if !p.log.Enabled(context.Background(), level) {
		return
	}
	r := slog.NewRecord(at, level, "librdkafka: "+message, 0)
	r.AddAttrs(slog.String("facility", facility), slog.String("client", client), slog.Int64("generation", g.id))
	_ = p.log.Handler().Handle(context.Background(), r)
}

// produceClass is the class of an error librdkafka's Produce returned
// synchronously, before the message was queued: a message larger than the
// producer's message.max.bytes is the record's fault (it is the same on
// every retry); an unknown topic or partition, the operator's; anything
// else, the environment's.
func produceClass(err error) kafkalambda.FailureClass {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return kafkalambda.ClassEnvironment
	}
	switch ke.Code() {
	case kafka.ErrMsgSizeTooLarge:
		return kafkalambda.ClassRecord
	case kafka.ErrUnknownTopic, kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownPartition, kafka.ErrInvalidArg:
		return kafkalambda.ClassConfiguration
	}
	return kafkalambda.ClassEnvironment
}

// fatalClass is the class of a fatal error, by the error behind it: the
// brokers refusing the producer the right to write idempotently
// (CLUSTER_AUTHORIZATION_FAILED when it asks for a producer id: Kafka's
// IdempotentWrite ACL, MSK IAM's kafka-cluster:WriteDataIdempotently) is
// the operator's fault — every new producer fails the same way; the rest
// (sequence desynchronization and other idempotence errors) the
// environment's: the producer is replaced and the batch retried.
func fatalClass(ke kafka.Error) kafkalambda.FailureClass {
	switch ke.Code() {
	case kafka.ErrClusterAuthorizationFailed, kafka.ErrTransactionalIDAuthorizationFailed,
		kafka.ErrTopicAuthorizationFailed:
		return kafkalambda.ClassConfiguration
	}
	return kafkalambda.ClassEnvironment
}

// deliveryClass is the class of a failed delivery report. It is never the
// record's: a produce request carries a batch of records, and a broker's
// rejection of the batch (INVALID_RECORD, MESSAGE_TOO_LARGE against the
// topic's max.message.bytes) reaches every record in it, so a good record
// must not be dead-lettered for a neighbour. Rejections that the topic's or
// the cluster's settings cause are the operator's fault; the rest
// (timeouts, purges at the deadline, brokers down, fatal idempotence
// errors) the environment's.
func deliveryClass(ke kafka.Error, broken error) kafkalambda.FailureClass {
	if broken != nil && kafkalambda.Classify(broken) == kafkalambda.ClassConfiguration {
		return kafkalambda.ClassConfiguration
	}
	switch ke.Code() {
	case kafka.ErrUnknownTopic, kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownPartition,
		kafka.ErrTopicAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTransactionalIDAuthorizationFailed, kafka.ErrTopicException,
		kafka.ErrPolicyViolation, kafka.ErrMsgSizeTooLarge, kafka.ErrInvalidRecord,
		kafka.ErrRecordListTooLarge, kafka.ErrInvalidRequiredAcks,
		kafka.ErrAuthentication, kafka.ErrSaslAuthenticationFailed:
		return kafkalambda.ClassConfiguration
	}
	return kafkalambda.ClassEnvironment
}

// failure is what done gets for a delivery report: nil when it was
// delivered; otherwise the error, classified (deliveryClass), with what
// made the producer break or the last broker error behind a purge or a
// timeout ("Connect to ... failed: Connection refused", an authentication
// failure, an unknown topic), which "Local: Purged in queue" alone does not
// say.
func (g *generation) failure(err error) error {
	if err == nil {
		return nil
	}
	var ke kafka.Error
	errors.As(err, &ke)
	var broken error
	if b := g.broken.Load(); b != nil {
		broken = *b
		err = fmt.Errorf("%w (%w)", err, broken)
	} else if c := g.lastCause.Load(); c != nil {
		err = fmt.Errorf("%w (last broker error: %w)", err, *c)
	} else if c := g.lastErr.Load(); c != nil {
		err = fmt.Errorf("%w (last broker error: %w)", err, *c)
	}
	return kafkalambda.Classified(deliveryClass(ke, broken), nil, err)
}
