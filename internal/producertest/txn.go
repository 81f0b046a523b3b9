package producertest

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// droppingListener is a broker's listener whose accepted connections can
// all be closed at once, as a network failure closes them; new connections
// work.
type droppingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *droppingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// drop closes every connection accepted so far.
func (l *droppingListener) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

// TransactionAfterAnUnsureWrite checks a Transactor against the way the
// franz-go producer lost a record in the soak (CI, 2026-12-03). A
// transaction's produce request is held at the broker while the client's
// connections drop, so the client cannot know whether it was written; it
// sends the batch again, and the broker answers that retry with a
// retriable error (NOT_LEADER_FOR_PARTITION); then the held request is
// written. The deadline purges the send and the transaction aborts. The
// next transaction's send must be written and committed, not taken by the
// brokers' deduplication (producer id, epoch, sequence number) for the
// aborted write: kgo took the retry's answer for the batch's outcome,
// failed the batch at the abort and sent the next transaction's record
// under its sequence number; read_committed then saw nothing.
//
// newTransactor returns the Transactor under test for the cluster, closed
// when the test ends; its transactions take at most the 5 s the test gives
// them.
func TransactionAfterAnUnsureWrite(t *testing.T, newTransactor func(testing.TB, *kafkalambdatest.Cluster) kafkalambda.Transactor) {
	t.Helper()
	lis := &droppingListener{}
	c := NewCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(1, "in"),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			l, err := net.Listen(network, addr)
			lis.Listener = l
			return lis, err
		}))
	release, reached := make(chan struct{}), make(chan struct{})
	var held atomic.Pointer[kmsg.ProduceRequest]
	c.Kafka().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		if held.CompareAndSwap(nil, req.(*kmsg.ProduceRequest)) {
			close(reached)
			c.Kafka().SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	var refuse atomic.Bool
	refused := make(chan struct{}, 1)
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.NotLeaderForPartition, Count: -1,
		When: func(req kmsg.Request) bool {
			if !refuse.Load() || req == kmsg.Request(held.Load()) {
				return false
			}
			select {
			case refused <- struct{}{}:
			default:
			}
			return true
		}})
	p := newTransactor(t, c)
	ctx, cancel := WithDeadline(30 * time.Second)
	defer cancel()
	owner := kafkalambda.TxnOwner{Group: kafkalambda.ProgressGroup("unsure", "in", 0), Topic: "in", Partition: 0}

	txn, err := p.BeginTxn(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	first := make(deliveries, 1)
	if err := txn.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("aborted")}, first); err != nil {
		t.Fatal(err)
	}
	<-reached
	refuse.Store(true)
	lis.drop() // the request in flight, its answer lost
	<-refused  // the batch sent again, and answered NOT_LEADER_FOR_PARTITION
	close(release)
	for len(ReadTopic(t, c, "out")) == 0 { // the held request is written
	}
	txn.Purge() // the deadline
	if err := <-first; err == nil {
		t.Fatal("a purged send reported delivered")
	}
	abortCtx, cancelAbort := context.WithTimeout(ctx, 5*time.Second)
	_ = txn.Abort(abortCtx) // aborted here, or by the replaced producer's successor
	cancelAbort()
	refuse.Store(false)

	next, err := p.BeginTxn(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	d := make(deliveries, 1)
	if err := next.Produce(ctx, &kafkalambda.Message{Topic: "out", Value: []byte("committed")}, d); err != nil {
		t.Fatal(err)
	}
	if err := <-d; err != nil {
		t.Fatal(err)
	}
	if err := next.Commit(ctx, owner.Group, []kafkalambda.PartitionOffset{{Topic: "in", Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	readCtx, cancelRead := context.WithTimeout(ctx, 10*time.Second)
	defer cancelRead()
	recs, err := c.ReadCommitted(readCtx, "out")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	if !slices.Equal(got, []string{"committed"}) {
		t.Errorf("read_committed sees %q, want [committed]: the next transaction's send was taken for the aborted one", got)
	}
}
