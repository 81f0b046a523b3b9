package kafkalambda

import "context"

// Producer is the seam between the handler and a Kafka client: what
// WithProducer takes. The handler owns the delivery accounting of each
// invocation — which record sent what, what is acknowledged, what to give
// up at the deadline — so a Producer only queues messages, reports each
// one's outcome, purges and closes.
//
// Implementations: package kafkalambda/librdkafka (confluent-kafka-go, the
// default), package kafkalambda/franz (franz-go, pure Go), and
// kafkalambdatest.MemProducer (in memory, with fault controls) for tests.
// The two Kafka producers pass the same tests (internal/producertest). A Producer must be safe for concurrent use: several
// invocations and partitions send at once.
type Producer interface {
	// Produce queues m for delivery and returns; d.Done is then called
	// exactly once, from any goroutine, with nil when the brokers have
	// acknowledged m, or with the reason it was not delivered. An error from
	// Produce means m was not queued, and d.Done is never called.
	//
	// Produce may wait for room in a full local queue until ctx ends. Its
	// errors and Done's should say their class (see Classify), e.g. with
	// Permanent for a message too large to ever be accepted, Misconfigured
	// for a topic that does not exist, and otherwise wrap ErrProducer (the
	// environment's fault); Done's error should carry the cause a purge or
	// a timeout hides (the last connection or authentication error).
	//
	// Produce may keep m (its key, value and headers) until it calls
	// d.Done, and must not after reporting it delivered: the handler
	// reuses that memory for a later invocation's messages once every
	// message of an invocation is acknowledged. (A message reported failed
	// may still be held by the client, as when a purge gives up on what is
	// in flight: an invocation with a failure leaves its memory alone.) A
	// Producer that keeps a message longer (a recording one) copies it,
	// header values included.
	Produce(ctx context.Context, m *Message, d Delivery) error

	// Purge gives up what the producer holds now, queued or in flight:
	// their Deliveries' Done are called soon with an error, so that nothing is
	// delivered after an invocation has reported it failed. The handler
	// calls it when an invocation's flush reaches its deadline. It does not
	// wait for the done calls.
	Purge()

	// Close flushes what is queued (briefly) and releases the client.
	// Produce after Close fails. Handler.Close calls it on SIGTERM.
	Close()
}

// Warmer is a Producer that can prepare its client ahead of the first
// send. Handler.Check (and so Start, at INIT) calls Warm when the producer
// has it: an error of ClassConfiguration there fails the function's INIT.
type Warmer interface {
	Warm(ctx context.Context) error
}

// Delivery receives the outcome of one message from a Producer. The
// handler's own implementation costs no allocation per message (an
// interface holding a pointer); a Producer must call Done exactly once.
type Delivery interface {
	Done(err error)
}

// Message is one record to send.
type Message struct {
	Topic string
	// Key and Value are the serialized bytes; a nil Value is a tombstone,
	// a nil Key a null key.
	Key, Value []byte
	// Headers are sent in order.
	Headers []Header
}
