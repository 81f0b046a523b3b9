package failclass_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// txnGroup is the exactly-once rows' progress group.
const txnGroup = "orders-progress"

// txnSend runs sendValue in exactly-once mode against c, which has the
// input topic "orders" too (a transaction's progress names it).
func txnSend(t *testing.T, c *kafkalambdatest.Cluster, rn run) seen {
	t.Helper()
	rn.exactlyOnce = txnGroup
	return sendValue(t, newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers()}), "v", rn)
}

// txnRefused makes the broker answer every request of key with err.
func txnRefused(key kmsg.Key, err *kerr.Error) func(t *testing.T) seen {
	return func(t *testing.T) seen {
		c := cluster(t, kafkalambdatest.WithTopic("orders", 1))
		c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{key}, Err: err, Count: -1})
		return txnSend(t, c, run{})
	}
}

// txnInitLoading: the transaction coordinator answers every
// InitProducerId with COORDINATOR_LOAD_IN_PROGRESS (retriable): the new
// producer's init is still under way at the invocation's deadline.
func txnInitLoading(t *testing.T) seen {
	c := cluster(t, kafkalambdatest.WithTopic("orders", 1))
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.CoordinatorLoadInProgress, Count: -1})
	return txnSend(t, c, run{deadline: 3 * time.Second})
}

// txnCommitHangs: the transaction coordinator holds every EndTxn until the
// test ends.
func txnCommitHangs(t *testing.T) seen {
	c := cluster(t, kafkalambdatest.WithTopic("orders", 1))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c.Kafka().ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kafka().KeepControl()
		c.Kafka().SleepControl(func() { <-release })
		return nil, nil, false
	})
	return txnSend(t, c, run{deadline: 5 * time.Second})
}
