// Package franz is the pure-Go kafkalambda.Producer: it sends a Lambda
// function's outputs through one franz-go client (github.com/twmb/franz-go,
// package kgo), behind the same seam, with the same guarantees and the same
// configuration as the librdkafka producer (package kafkalambda/librdkafka,
// the default), so that a function that sends builds with CGO_ENABLED=0:
//
//	p, err := franz.NewProducer(loader.KafkaConfig,
//		franz.WithAuthFailureHook(loader.Invalidate), franz.WithLogger(logger))
//	h, err := kafkalambda.NewHandler(keys, values, process, kafkalambda.WithProducer(p))
//
// # Guarantees
//
// As the librdkafka producer: the client is made lazily from the config
// func (librdkafka-style properties, as the secrets package maps them from
// a secret, translated to kgo options: see NewProducer), retried after a
// failed creation, replaced after a fatal error or an authentication
// failure; acks=all and idempotence by default; each record's outcome goes
// to the invocation that sent it; Purge, at an invocation's deadline, fails
// at once what is still unacknowledged; keys are partitioned with murmur2,
// as Java clients, ksqlDB and librdkafka's murmur2_random do, so a key
// lands on the same partition with either producer.
//
// # Exactly-once
//
// The Producer is a kafkalambda.Transactor, as the librdkafka producer is,
// with the same guarantees: a pool of transactional kgo clients, one per
// transaction in flight, with ids prefix-<random per environment>-<n>
// (WithTransactionalIDPrefix); each transaction claims its partition as it
// begins (its progress read with require_stable, then sent back into the
// transaction, so that a later attempt's read waits for it); the
// transaction timeout is the function's timeout plus 5 s unless the config
// sets transaction.timeout.ms; every call is bounded by the invocation's
// deadline; and a client that fails or cannot end its transaction is
// replaced by a new one under the same id, whose InitProducerId fences it
// and has the coordinator settle what it left open. As with librdkafka's, a
// client whose transaction sent records and aborted is replaced too, so
// that the next transaction's writes are never taken for the aborted ones
// (see Producer.BeginTxn).
//
// kgo sends transactional offsets only for a consumer group it is a member
// of, so the Producer sends the progress itself (AddOffsetsToTxn and
// TxnOffsetCommit as a member of generation -1, with the client's producer
// id and epoch), and ends a transaction that holds only progress with its
// own EndTxn. For that EndTxn not to move the epoch under kgo, the
// transactional clients speak the transaction protocol of Kafka before 4.0
// (KIP-890 part 2 off, as in librdkafka), which brokers of every version
// accept.
//
// # What differs from librdkafka
//
// Properties without a kgo counterpart are refused by name (see
// NewProducer); ssl.key.password (encrypted keys), Kerberos and
// librdkafka's own OIDC token fetching (sasl.oauthbearer.method oidc) are
// not supported: OAUTHBEARER tokens come from WithOAuthBearerTokens.
// Records without a key stick to one partition per batch (kgo's sticky
// partitioner) where librdkafka's murmur2_random picks one at random per
// record. A success is always the broker's acknowledgement: kgo does not
// infer deliveries as librdkafka's idempotent producer may.
//
// # Errors
//
// Every error says its class (kafkalambda.Classify): a message larger than
// message.max.bytes is the record's (ErrMessageTooLarge, refused at
// Produce); an unsupported property, refused credentials, an untrusted
// broker certificate, an unknown topic and the brokers' rejections of a
// batch are the operator's; the rest — brokers down, timeouts, a purge at
// the deadline — the environment's, with the last connection error behind
// it.
package franz
