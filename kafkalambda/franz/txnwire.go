package franz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// The requests a transaction sends itself, kgo's client routing each to
// its coordinator (and finding it again when it moves).

// read returns the offset committed in group for the partition (-1 for
// none), with an OffsetFetch that requires stable offsets (KIP-447): while
// a transaction with offsets for it is pending, the brokers answer
// UNSTABLE_OFFSET_COMMIT, and read asks again until it ends or ctx does. A
// group that does not exist has no progress.
func (t *txn) read(ctx context.Context, group, topic string, partition int32) (int64, error) {
	wait := 10 * time.Millisecond
	for {
		next, unstable, err := t.fetch(ctx, group, topic, partition)
		if err != nil && (!retriable(err) || ctx.Err() != nil) || err == nil && !unstable {
			return next, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return 0, kafkalambda.Classified(kafkalambda.ClassEnvironment, kafkalambda.ErrProducer,
				fmt.Errorf("franz: progress of group %s for %s-%d: a transaction with offsets for it is still pending: %w", group, topic, partition, ctx.Err()))
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// fetch reads the progress of one partition once; unstable reports
// offsets pending in a transaction.
func (t *txn) fetch(ctx context.Context, group, topic string, partition int32) (next int64, unstable bool, err error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.RequireStable = true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rt.Partitions = []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, t.g.cl)
	what := fmt.Sprintf("progress of group %s for %s-%d", group, topic, partition)
	if err != nil {
		return 0, false, txnError(what, err)
	}
	code, topics := resp.ErrorCode, resp.Topics
	if len(resp.Groups) > 0 { // v8+, as kgo may leave it
		code, topics = 0, nil
		for _, g := range resp.Groups {
			if g.Group == group {
				code = g.ErrorCode
				for _, gt := range g.Topics {
					ft := kmsg.NewOffsetFetchResponseTopic()
					ft.Topic = gt.Topic
					for _, gp := range gt.Partitions {
						fp := kmsg.NewOffsetFetchResponseTopicPartition()
						fp.Partition, fp.Offset, fp.ErrorCode = gp.Partition, gp.Offset, gp.ErrorCode
						ft.Partitions = append(ft.Partitions, fp)
					}
					topics = append(topics, ft)
				}
			}
		}
	}
	switch err := kerr.ErrorForCode(code); {
	case errors.Is(err, kerr.GroupIDNotFound):
		return -1, false, nil
	case errors.Is(err, kerr.UnstableOffsetCommit):
		return 0, true, nil
	case err != nil:
		return 0, false, txnError(what, err)
	}
	next = -1
	for _, rt := range topics {
		if rt.Topic != topic {
			continue
		}
		for _, rp := range rt.Partitions {
			if rp.Partition != partition {
				continue
			}
			switch err := kerr.ErrorForCode(rp.ErrorCode); {
			case errors.Is(err, kerr.UnstableOffsetCommit):
				unstable = true
			case errors.Is(err, kerr.GroupIDNotFound):
			case err != nil:
				return 0, false, txnError(what, err)
			case rp.Offset >= 0:
				next = rp.Offset
			}
		}
	}
	return next, unstable, nil
}

// addOffsets adds group's offsets to the transaction (AddOffsetsToTxn).
func (t *txn) addOffsets(ctx context.Context, group string) error {
	return retry(ctx, func() error {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID = t.s.id
		req.ProducerID, req.ProducerEpoch = t.pid, t.epoch
		req.Group = group
		resp, err := req.RequestWith(ctx, t.g.cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// commitOffsets sends offsets for group to the transaction, as a member
// of no generation (TxnOffsetCommit).
func (t *txn) commitOffsets(ctx context.Context, group string, offsets []kafkalambda.PartitionOffset) error {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID = t.s.id
	req.Group = group
	req.ProducerID, req.ProducerEpoch = t.pid, t.epoch
	req.Generation, req.MemberID = -1, ""
	for _, o := range offsets {
		i := 0
		for i < len(req.Topics) && req.Topics[i].Topic != o.Topic {
			i++
		}
		if i == len(req.Topics) {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = o.Topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = o.Partition, o.Offset, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	return retry(ctx, func() error {
		resp, err := req.RequestWith(ctx, t.g.cl)
		if err != nil {
			return err
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return fmt.Errorf("%s-%d: %w", rt.Topic, rp.Partition, err)
				}
			}
		}
		return nil
	})
}

// endTxn commits or aborts the transaction at the coordinator (EndTxn),
// at the producer epoch the transaction's offsets were sent under.
func (t *txn) endTxn(ctx context.Context, commit bool) error {
	return retry(ctx, func() error {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID = t.s.id
		req.ProducerID, req.ProducerEpoch = t.pid, t.epoch
		req.Commit = commit
		resp, err := req.RequestWith(ctx, t.g.cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// retry calls op until it succeeds, fails other than retriably
// (retriable), or ctx ends. kgo has already retried a request that failed
// on the way (a connection lost, a coordinator moved) as often as its
// settings allow; the brokers may be back before the deadline.
func retry(ctx context.Context, op func() error) error {
	wait := 10 * time.Millisecond
	for {
		err := op()
		if err == nil || !retriable(err) {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return err
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// retriable reports an error worth trying again while the invocation has
// time: a broker error Kafka marks retriable, CONCURRENT_TRANSACTIONS (the
// coordinator still finishing the previous transaction), or one that is no
// broker's answer (brokers unreachable, a connection lost) — not a ctx
// that ended, nor a closed client.
func retriable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
		return false
	}
	if ke := (*kerr.Error)(nil); errors.As(err, &ke) {
		return ke.Retriable || errors.Is(err, kerr.ConcurrentTransactions)
	}
	return true
}

// txnError wraps a transactional error with its class: the brokers
// refusing the transactional id, the group, the topic or the cluster
// (authorization) is the operator's fault; the rest (timeouts,
// coordinators moving, fencing, aborts) the environment's.
func txnError(op string, err error) error {
	class := kafkalambda.ClassEnvironment
	for _, e := range []error{kerr.TransactionalIDAuthorizationFailed, kerr.GroupAuthorizationFailed,
		kerr.ClusterAuthorizationFailed, kerr.TopicAuthorizationFailed} {
		if errors.Is(err, e) {
			class = kafkalambda.ClassConfiguration
		}
	}
	if c := kafkalambda.Classify(err); c == kafkalambda.ClassConfiguration {
		class = c
	}
	return kafkalambda.Classified(class, kafkalambda.ErrProducer, fmt.Errorf("franz: transaction: %s: %w", op, err))
}
