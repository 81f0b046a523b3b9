package librdkafka

import (
	"errors"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// named is a Delivery that knows its name.
type named string

func (named) Done(error) {}

func TestSlots(t *testing.T) {
	var s slots
	a, b, c := s.put(named("a")), s.put(named("b")), s.put(named("c"))
	if a == 0 || a == b || b == c || a == c {
		t.Fatalf("ids %d %d %d: want distinct and not 0 (librdkafka's opaque of a message without one)", a, b, c)
	}
	if d := s.take(b); d != named("b") {
		t.Fatalf("take(b) = %v", d)
	}
	if d := s.take(b); d != nil {
		t.Fatalf("take(b) again = %v, want nil: a report is counted once", d)
	}
	if d := s.put(named("d")); d != b {
		t.Errorf("put after take = id %d, want %d reused (the table grows to what is in flight, not to what was sent)", d, b)
	}
	for _, id := range []uintptr{0, 99} {
		if d := s.take(id); d != nil {
			t.Errorf("take(%d) = %v, want nil", id, d)
		}
	}
	ds := make([]kafkalambda.Delivery, 4)
	s.takeAll([]uintptr{c, a, b, 0}, ds)
	if ds[0] != named("c") || ds[1] != named("a") || ds[2] != named("d") || ds[3] != nil {
		t.Errorf("takeAll = %v", ds)
	}
	if n := s.held(); n != 0 {
		t.Errorf("held = %d after every take, want 0", n)
	}
}

func TestConfigString(t *testing.T) {
	for _, tt := range []struct {
		v    kafka.ConfigValue
		want string
	}{
		{true, "true"}, {false, "false"}, {42, "42"}, {"all", "all"},
		{[]kafka.ConfigValue{"a", 1, true}, "a,1,true"},
		{kafka.ErrInvalidArg, kafka.ErrInvalidArg.String()}, // a fmt.Stringer
	} {
		if got, err := configString("k", tt.v); err != nil || got != tt.want {
			t.Errorf("configString(%#v) = %q, %v; want %q", tt.v, got, err, tt.want)
		}
	}
	// A JSON number: confluent-kafka-go refuses it too, and says which key.
	_, err := configString("linger.ms", 5.0)
	var ke kafka.Error
	if !errors.As(err, &ke) || ke.Code() != kafka.ErrInvalidArg || !strings.Contains(err.Error(), "linger.ms") {
		t.Errorf("configString(5.0) error = %v, want ErrInvalidArg naming the key", err)
	}
}

// TestNewRDClientConfig: a default.topic.config map (as a ConfigMap or as
// a map decoded from JSON) configures topics and is checked the same way;
// another key with a map value, or a property librdkafka does not know,
// is refused naming it; confluent-kafka-go's own go.* keys are ignored.
func TestNewRDClientConfig(t *testing.T) {
	base := func(extra kafka.ConfigMap) kafka.ConfigMap {
		cm := kafka.ConfigMap{"bootstrap.servers": "127.0.0.1:1", "go.events.channel.size": 5}
		for k, v := range extra {
			cm[k] = v
		}
		return cm
	}
	for _, ok := range []kafka.ConfigMap{
		base(nil),
		base(kafka.ConfigMap{"default.topic.config": kafka.ConfigMap{"message.timeout.ms": 1000}}),
		base(kafka.ConfigMap{"default.topic.config": map[string]any{"message.timeout.ms": "1000"}}),
	} {
		c, err := newRDClient(ok)
		if err != nil {
			t.Errorf("newRDClient(%v) = %v", ok, err)
			continue
		}
		go c.serve(clientEvents{reports: func([]report) {}, err: func(kafka.Error) {}, log: func(int, string, string) {}, token: func() {}})
		c.close()
	}
	for _, tt := range []struct {
		cm   kafka.ConfigMap
		name string
	}{
		{base(kafka.ConfigMap{"no.such.property": "x"}), "no.such.property"},
		{base(kafka.ConfigMap{"default.topic.config": kafka.ConfigMap{"no.such.topic.property": 1}}), "no.such.topic.property"},
		{base(kafka.ConfigMap{"sasl.jaas": kafka.ConfigMap{"x": "y"}}), "sasl.jaas"},
		{base(kafka.ConfigMap{"acks": 1.0}), "acks"},
	} {
		c, err := newRDClient(tt.cm)
		if err == nil {
			c.close()
			t.Errorf("newRDClient(%v) succeeded", tt.cm)
			continue
		}
		var ke kafka.Error
		if !errors.As(err, &ke) || ke.Code() != kafka.ErrInvalidArg || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("newRDClient(%v) = %v, want ErrInvalidArg naming %s", tt.cm, err, tt.name)
		}
	}
}

// TestProduceAfterClose: a send that reaches a closed client (one that
// waited for room in its local queue past the producer's retirement) fails
// with librdkafka's "destroyed", rather than calling into a destroyed
// producer.
func TestProduceAfterClose(t *testing.T) {
	c, err := newRDClient(kafka.ConfigMap{"bootstrap.servers": "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	go c.serve(clientEvents{reports: func([]report) {}, err: func(kafka.Error) {}, log: func(int, string, string) {}, token: func() {}})
	c.close()
	err = c.produce(&kafkalambda.Message{Topic: "out", Value: []byte("v")}, named("late"))
	var ke kafka.Error
	if !errors.As(err, &ke) || ke.Code() != kafka.ErrDestroy {
		t.Fatalf("produce after close = %v, want ErrDestroy", err)
	}
	if n := c.slots.held(); n != 0 {
		t.Errorf("%d deliveries held after a refused send", n)
	}
}

// TestCloseWaitsForProduce: close while sends are in progress waits for
// them (under -race and with librdkafka's own checks, a send into the
// destroyed producer would crash the process), and every send either
// queued or was refused as destroyed.
func TestCloseWaitsForProduce(t *testing.T) {
	c, err := newRDClient(kafka.ConfigMap{"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 60000})
	if err != nil {
		t.Fatal(err)
	}
	go c.serve(clientEvents{reports: func([]report) {}, err: func(kafka.Error) {}, log: func(int, string, string) {}, token: func() {}})
	errs := make(chan error, 4)
	started := make(chan struct{}, 4)
	for range 4 {
		go func() {
			m := &kafkalambda.Message{Topic: "out", Key: []byte("k"), Value: []byte("v"),
				Headers: []kafkalambda.Header{{Key: "h", Value: []byte("x")}}}
			started <- struct{}{}
			for {
				if err := c.produce(m, named("m")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 4 {
		<-started
	}
	c.purge(kafka.PurgeQueue | kafka.PurgeNonBlocking) // keep the local queue from filling
	c.close()
	for range 4 {
		var ke kafka.Error
		if err := <-errs; !errors.As(err, &ke) || (ke.Code() != kafka.ErrDestroy && ke.Code() != kafka.ErrQueueFull) {
			t.Errorf("a send ended with %v, want ErrDestroy (or a full queue)", err)
		}
	}
}

// reported is a Delivery that sends its outcome on a channel.
type reported chan error

func (r reported) Done(err error) { r <- err }

// TestCloseReportsTheRest: a message still in librdkafka when its client
// closes (no broker took it) is reported failed — it may have been
// written, so it is retried, never counted delivered — and so is every
// Delivery left, exactly once.
func TestCloseReportsTheRest(t *testing.T) {
	c, err := newRDClient(kafka.ConfigMap{"bootstrap.servers": "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []report
	go c.serve(clientEvents{reports: func(rs []report) { got = append(got, rs...) },
		err: func(kafka.Error) {}, log: func(int, string, string) {}, token: func() {}})
	d := make(reported, 1)
	if err := c.produce(&kafkalambda.Message{Topic: "out", Value: []byte("v")}, d); err != nil {
		t.Fatal(err)
	}
	c.close()
	if len(got) != 1 || got[0].d != kafkalambda.Delivery(d) {
		t.Fatalf("close reported %v, want the one message", got)
	}
	var ke kafka.Error
	if !errors.As(got[0].err, &ke) || ke.Code() != kafka.ErrDestroy {
		t.Errorf("its error = %v, want ErrDestroy", got[0].err)
	}
	if n := c.slots.held(); n != 0 {
		t.Errorf("%d deliveries held after close", n)
	}
}

// TestProduceRefusesNoTopic: librdkafka would take an empty topic name (and
// ask the brokers for its metadata); it is refused before, as the
// operator's error.
func TestProduceRefusesNoTopic(t *testing.T) {
	c, err := newRDClient(kafka.ConfigMap{"bootstrap.servers": "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	go c.serve(clientEvents{reports: func([]report) {}, err: func(kafka.Error) {}, log: func(int, string, string) {}, token: func() {}})
	defer c.close()
	err = c.produce(&kafkalambda.Message{Value: []byte("v")}, named("none"))
	var ke kafka.Error
	if !errors.As(err, &ke) || ke.Code() != kafka.ErrInvalidArg || produceClass(err) != kafkalambda.ClassConfiguration {
		t.Fatalf("produce with no topic = %v, want ErrInvalidArg (configuration)", err)
	}
	if n := c.slots.held(); n != 0 {
		t.Errorf("%d deliveries held after a refused send", n)
	}
}
