package franz

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// errBroken is what the records a broken client held get: the reason it
// broke is added (see generation.failure).
var errBroken = errors.New("purged: the producer broke")

// IsAuthFailure reports whether err, an error from franz-go (a record's or
// a connection's, or an error wrapping one), says the broker refused the
// credentials (SASL_AUTHENTICATION_FAILED, or ILLEGAL_SASL_STATE): the case
// for a secret cache's invalidation (secrets.Loader.Invalidate) and a
// client rebuilt from a fresh config, which Producer does itself (see
// WithAuthFailureHook).
//
// A broker may also refuse a login by closing the connection during the
// SASL exchange (some proxies, and the kfake test broker, do), which kgo
// reports as a bare EOF: the Producer tells that case by the login it saw
// start and not finish, and counts it too. That can also be a network
// failure in the middle of the login, so the rebuilds it causes should be
// bounded by the caller's retries.
func IsAuthFailure(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState)
}

// isCertificateFailure reports a broker certificate that does not verify:
// waiting does not help, so the client is rebuilt from a fresh config (the
// CA may come with the secret) and what it holds fails at once.
func isCertificateFailure(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		he  x509.HostnameError
		tve *tls.CertificateVerificationError
	)
	return errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &tve)
}

// isFatal reports an error after which a client is replaced: the
// idempotent producer refused its producer id or its epoch, or its
// sequence numbers out of step with the broker's.
func isFatal(err error) bool {
	for _, e := range []error{kerr.ClusterAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed,
		kerr.InvalidProducerEpoch, kerr.ProducerFenced, kerr.InvalidProducerIDMapping,
		kerr.OutOfOrderSequenceNumber, kerr.UnknownProducerID} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// fatalClass is the class of a fatal error: the brokers refusing the
// producer the right to write idempotently (CLUSTER_AUTHORIZATION_FAILED
// when it asks for a producer id: Kafka's IdempotentWrite ACL, MSK IAM's
// kafka-cluster:WriteDataIdempotently) is the operator's fault — every new
// client fails the same way; the rest (sequence and epoch errors) the
// environment's: the client is replaced and the batch retried.
func fatalClass(err error) kafkalambda.FailureClass {
	if errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) {
		return kafkalambda.ClassConfiguration
	}
	return kafkalambda.ClassEnvironment
}

// configurationCodes are the broker errors that a topic's or the cluster's
// settings cause.
var configurationCodes = []error{
	kerr.UnknownTopicOrPartition, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
	kerr.TransactionalIDAuthorizationFailed, kerr.InvalidTopicException, kerr.PolicyViolation,
	kerr.MessageTooLarge, kerr.InvalidRecord, kerr.RecordListTooLarge, kerr.InvalidRequiredAcks,
	kerr.SaslAuthenticationFailed,
}

// deliveryClass is the class of a failed record. It is never the record's:
// a produce request carries a batch of records, and a broker's rejection
// of the batch (INVALID_RECORD, MESSAGE_TOO_LARGE against the topic's
// max.message.bytes) reaches every record in it, so a good record must not
// be dead-lettered for a neighbour. Rejections that the topic's or the
// cluster's settings cause are the operator's fault, as is a client broken
// by one; the rest (timeouts, purges at the deadline, brokers down, fatal
// idempotence errors) the environment's.
func deliveryClass(err, broken error) kafkalambda.FailureClass {
	if broken != nil && kafkalambda.Classify(broken) == kafkalambda.ClassConfiguration {
		return kafkalambda.ClassConfiguration
	}
	for _, e := range configurationCodes {
		if errors.Is(err, e) {
			return kafkalambda.ClassConfiguration
		}
	}
	return kafkalambda.ClassEnvironment
}
