package failclass_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// cluster starts a broker with the topic "out", closed when the test ends.
func cluster(t *testing.T, opts ...kafkalambdatest.ClusterOption) *kafkalambdatest.Cluster {
	t.Helper()
	return kafkalambdatest.NewCluster(t, append([]kafkalambdatest.ClusterOption{kafkalambdatest.WithTopic("out", 1)}, opts...)...)
}

// produceFault makes the broker answer every produce request to "out"
// with err.
func produceFault(c *kafkalambdatest.Cluster, err *kerr.Error) {
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: err, Count: -1})
}

func sendTooLarge(t *testing.T) seen {
	c := cluster(t)
	p := newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers(), "message.max.bytes": 1000})
	return sendValue(t, p, strings.Repeat("x", 2000), run{})
}

func brokerRefused(t *testing.T) seen {
	p := newProducer(t, map[string]any{"bootstrap.servers": kafkalambdatest.ClosedAddr(t)})
	return sendValue(t, p, "v", run{deadline: 2 * time.Second})
}

func brokerSASLRejected(t *testing.T) seen {
	c := cluster(t, kafkalambdatest.WithSASLPlain("app", "the-password"))
	p := newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers(),
		"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
		"sasl.username": "app", "sasl.password": "an-old-password"})
	return sendValue(t, p, "v", run{})
}

func brokerCertUntrusted(t *testing.T) seen {
	c := cluster(t, kafkalambdatest.WithTLS())
	p := newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers(), "security.protocol": "SSL"})
	return sendValue(t, p, "v", run{})
}

// brokerNoTopic: a cluster that does not create topics on demand, as
// production clusters are set up.
func brokerNoTopic(propagation int) func(t *testing.T) seen {
	return func(t *testing.T) seen {
		kc, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kc.Close)
		config := map[string]any{"bootstrap.servers": strings.Join(kc.ListenAddrs(), ",")}
		rn := run{}
		if propagation > 0 {
			config["topic.metadata.propagation.max.ms"] = propagation
		} else {
			rn.deadline = 2 * time.Second
		}
		return sendValue(t, newProducer(t, config), "v", rn)
	}
}

// brokerRejects makes the broker answer every produce request with err.
func brokerRejects(err *kerr.Error) func(t *testing.T) seen {
	return func(t *testing.T) seen {
		c := cluster(t)
		produceFault(c, err)
		return sendValue(t, newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers()}), "v", run{})
	}
}

// brokerRetriable makes the broker answer every produce request with a
// retriable err, so that the record is still unacknowledged at the
// deadline and purged.
func brokerRetriable(err *kerr.Error) func(t *testing.T) seen {
	return func(t *testing.T) seen {
		c := cluster(t)
		produceFault(c, err)
		return sendValue(t, newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers()}), "v",
			run{deadline: 2500 * time.Millisecond})
	}
}

// brokerFatal: the broker answers the first produce request with
// OUT_OF_ORDER_SEQUENCE_NUMBER, which the idempotent producer cannot
// recover from: librdkafka raises a fatal error.
func brokerFatal(t *testing.T) seen {
	c := cluster(t)
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.OutOfOrderSequenceNumber})
	return sendValue(t, newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers()}), "v", run{})
}

// brokerNoIdempotentWrite: the broker refuses the idempotent producer its
// producer id, as Kafka does without the IdempotentWrite permission (MSK
// IAM: kafka-cluster:WriteDataIdempotently).
func brokerNoIdempotentWrite(t *testing.T) seen {
	c := cluster(t)
	c.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.ClusterAuthorizationFailed, Count: -1})
	return sendValue(t, newProducer(t, map[string]any{"bootstrap.servers": c.BootstrapServers()}), "v", run{})
}
