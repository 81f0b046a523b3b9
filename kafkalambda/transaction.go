package kafkalambda

import (
	"context"
	"errors"
	"fmt"
)

// ErrTransaction: in exactly-once mode (WithExactlyOnce), a transaction of
// the invocation (one per input partition) could not begin, its partition's
// progress could not be read or claimed, or it was not committed (the
// commit failed, was not done before the deadline, or the transaction was
// aborted). The invocation fails as a whole, and nothing a transaction that
// did not commit sent is visible to read_committed consumers unless its
// commit reached the brokers after all — in which case its progress is
// committed too, and the retry, which waits for it, skips what it did.
var ErrTransaction = errors.New("kafkalambda: transaction")

// Transactor is a Producer that can also write an invocation's sends as
// Kafka transactions, one per input partition, with how far the invocation
// got through that partition committed in the same transaction: what
// WithExactlyOnce needs. It is an optional interface: a Producer that does
// not have it cannot be used in exactly-once mode.
//
// Implementations: packages kafkalambda/librdkafka (a pool of
// transactional librdkafka producers) and kafkalambda/franz (a pool of
// transactional franz-go clients, pure Go), and kafkalambdatest.MemProducer
// (in memory, with fault controls).
type Transactor interface {
	Producer

	// BeginTxn begins a transaction for owner — the records of one input
	// partition in one invocation — and returns it. The handler calls it
	// at the start of each invocation for each partition of the event, and
	// ends each transaction before the invocation returns: Commit, or Abort
	// (always Abort after a Commit that failed).
	//
	// A transaction claims its owner as it begins: until it ends, the
	// Progress of any later transaction of the same owner — an attempt
	// that follows this one, in this process or another — waits for it
	// (an OffsetFetch with require_stable waiting on pending offsets). So
	// an earlier attempt that gave up on its transaction (a commit still
	// under way at its deadline, an execution environment frozen or timed
	// out mid-commit) is seen by the next whole or not at all: it commits,
	// and the next skips what it did, or it aborts (at the latest at the
	// brokers' transaction timeout), and the next does it. Progress returns
	// the owner's progress as read before the claim. Transactions of
	// different owners are independent. A transaction that could not be
	// finished (an abort cut short by the deadline) must be finished, or
	// its producer replaced, before that producer begins another.
	//
	// Errors say their class (Classify): the brokers refusing the
	// transactional id (authorization) is the operator's fault; brokers
	// down or slow, the environment's.
	BeginTxn(ctx context.Context, owner TxnOwner) (Txn, error)
}

// TxnOwner is what a transaction is for: the records of one input
// partition, processed by one function, whose progress is in Group.
type TxnOwner struct {
	Group     string // the partition's progress group (ProgressGroup)
	Topic     string // the input partition
	Partition int32
}

// String returns owner as group/topic-partition.
func (o TxnOwner) String() string {
	return fmt.Sprintf("%s/%s-%d", o.Group, o.Topic, o.Partition)
}

// Txn is one input partition's Kafka transaction in one invocation, from
// Transactor.BeginTxn. Its Produce and Purge may be called from several
// goroutines at once; Progress, Commit and Abort are called by the handler
// alone, one at a time.
type Txn interface {
	// Produce queues m in the transaction, with Producer.Produce's
	// contract. d.Done(nil) means the brokers have written m, not that it is
	// committed: read_committed consumers see it only once Commit has
	// returned nil, and never if the transaction aborts.
	Produce(ctx context.Context, m *Message, d Delivery) error

	// Purge gives up what the transaction's producer holds, queued or in
	// flight, as Producer.Purge does. The transaction must then be aborted.
	Purge()

	// Progress returns, for each of parts, the offset committed for it in
	// the consumer group group — the next offset to process — or -1 when
	// there is none. It reads committed progress only: while another
	// transaction that commits progress for group is pending, it waits for
	// that one to end (or ctx to end), as a Kafka OffsetFetch with
	// require_stable does.
	Progress(ctx context.Context, group string, parts []PartitionOffset) ([]int64, error)

	// Commit commits the transaction: the messages produced in it, and for
	// group the offsets given (each the next offset to process in its
	// partition), atomically. It returns nil only when the brokers have
	// committed it. On an error the outcome may be unknown (a timeout, a
	// lost response); the handler then calls Abort and fails the
	// invocation, and the offsets, read back by the retry's Progress, say
	// which way it went.
	Commit(ctx context.Context, group string, offsets []PartitionOffset) error

	// Abort aborts the transaction: nothing produced in it becomes visible
	// to read_committed consumers, and the deliveries still pending get an
	// error. It returns the transaction's producer for another invocation,
	// whatever its result: a producer whose abort did not finish within ctx
	// finishes it (or is replaced) before its next transaction begins.
	Abort(ctx context.Context) error
}

// PartitionOffset is an offset in a topic's partition.
type PartitionOffset struct {
	Topic     string
	Partition int32
	Offset    int64
}

// WithExactlyOnce makes each invocation's sends — the Outputs' and the
// dead-letter topic's — Kafka transactions, one per input partition of the
// event, committed only when the invocation succeeds, with the progress of
// the invocation through the partition committed in the same transaction
// to the partition's progress group, ProgressGroup(group, topic, partition)
// (groups used for nothing else: never the event source mapping's own). A
// transaction claims its partition as it begins (Transactor.BeginTxn): an
// attempt that timed out or gave up on its commit holds back the retry's
// progress read until its transaction ends, so the retry sees all it did
// or nothing of it.
// An invocation first reads that progress back and skips the records it
// says were done, so that a batch redelivered after it succeeded (a lost
// response, a restarted poller) sends nothing twice. Default: off
// (at-least-once). It needs a producer that is a Transactor (WithProducer;
// librdkafka.Producer and franz.Producer are). Consumers of the outputs must read with
// isolation.level=read_committed.
//
// In this mode the sends of a record are queued when its Process returns
// without an error (Output.Send buffers them until then; a record that
// fails sends nothing, and is dead-lettered or reported alone), and the
// answer is:
//
//   - success: every record processed (or dead-lettered), every send
//     acknowledged, and every transaction committed;
//   - item failures (ReportItemFailures, or WithEnvironmentItemFailures):
//     each partition's transaction commits the sends of the records before
//     its first failed record, and the progress up to it; the response
//     names that record and the rest of its partition, which the retry
//     processes again;
//   - failure (an error wrapping ErrBatchFailed): anything else — a record
//     failure under FailBatch, a send not acknowledged (a transaction
//     cannot commit part of its writes), the progress unreadable, a commit
//     that failed or did not finish before the deadline minus the margin
//     (wrapping ErrTransaction). The transactions still open are aborted;
//     one that committed before another failed is skipped by the retry
//     (its progress says so).
//
// See the README's "Exactly-once outputs" section for what it costs, the
// transactional ids and fencing, and what downstream consumers must set.
func WithExactlyOnce(group string) Option {
	return func(c *config) error {
		if group == "" {
			return fmt.Errorf("kafkalambda: %w: WithExactlyOnce needs a consumer group for the progress", ErrInvalidOption)
		}
		c.exactlyOnce = group
		return nil
	}
}

// checkExactlyOnce is NewHandler's check of WithExactlyOnce.
func (c *config) checkExactlyOnce() error {
	if c.exactlyOnce == "" {
		return nil
	}
	if c.producer == nil {
		return fmt.Errorf("kafkalambda: %w: WithExactlyOnce needs WithProducer", ErrInvalidOption)
	}
	if _, ok := c.producer.(Transactor); !ok {
		return fmt.Errorf("kafkalambda: %w: WithExactlyOnce needs a producer that is a Transactor; %T is not",
			ErrInvalidOption, c.producer)
	}
	return nil
}
