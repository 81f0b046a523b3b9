package kafkalambdatest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// ClusterOption configures [StartCluster] and [NewCluster].
type ClusterOption func(*clusterConfig)

type clusterConfig struct {
	brokers      int
	partitions   int32
	topics       map[string]int32
	saslUser     string
	saslPass     string
	registryUser string
	registryPass string
	tls          bool
	kafkaOpts    []kfake.Opt
}

// WithBrokers sets the number of brokers (default 1).
func WithBrokers(n int) ClusterOption {
	return func(c *clusterConfig) { c.brokers = n }
}

// WithTopic creates topic with the given number of partitions when the
// cluster starts. Topics that are not created up front are created on first
// use with WithDefaultPartitions partitions.
func WithTopic(topic string, partitions int32) ClusterOption {
	return func(c *clusterConfig) { c.topics[topic] = partitions }
}

// WithDefaultPartitions sets the partition count of auto-created topics
// (default 1).
func WithDefaultPartitions(n int32) ClusterOption {
	return func(c *clusterConfig) { c.partitions = n }
}

// WithSASLPlain makes the broker require SASL/PLAIN with this user, a
// superuser. [Cluster.ClientOptions] then authenticate as it.
func WithSASLPlain(user, pass string) ClusterOption {
	return func(c *clusterConfig) { c.saslUser, c.saslPass = user, pass }
}

// WithRegistryAuth makes the registry require HTTP basic auth with this
// user and password.
func WithRegistryAuth(user, pass string) ClusterOption {
	return func(c *clusterConfig) { c.registryUser, c.registryPass = user, pass }
}

// WithKafkaOptions passes options through to kfake.NewCluster, after the
// ones this package sets (so they win).
func WithKafkaOptions(opts ...kfake.Opt) ClusterOption {
	return func(c *clusterConfig) { c.kafkaOpts = append(c.kafkaOpts, opts...) }
}

// Cluster is an embedded Kafka broker (kfake) and Schema Registry (srfake),
// both listening on 127.0.0.1, with a client for the helpers. Its methods are
// safe for concurrent use. Close it when done ([NewCluster] does so in
// t.Cleanup).
type Cluster struct {
	kafka     *kfake.Cluster
	registry  *srfake.Registry
	cl        *kgo.Client
	adm       *kadm.Client
	brokers   []string
	cfg       clusterConfig
	clientTLS *tls.Config
	caPEM     []byte
}

// NewCluster starts a Cluster for the test and closes it in t.Cleanup. It
// calls t.Fatal if the cluster cannot start.
func NewCluster(t testing.TB, opts ...ClusterOption) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// StartCluster starts a broker and a registry and creates the topics given
// with WithTopic. ctx bounds the topic creation. The caller must Close the
// cluster.
func StartCluster(ctx context.Context, opts ...ClusterOption) (*Cluster, error) {
	cfg := clusterConfig{brokers: 1, partitions: 1, topics: map[string]int32{}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.brokers < 1 || cfg.partitions < 1 {
		return nil, fmt.Errorf("kafkalambdatest: %w: %d brokers, %d default partitions", ErrInvalidOption, cfg.brokers, cfg.partitions)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(cfg.brokers),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(cfg.partitions)),
	}
	if cfg.saslUser != "" {
		kopts = append(kopts, kfake.EnableSASL(), kfake.Superuser("PLAIN", cfg.saslUser, cfg.saslPass))
	}
	var clientTLS *tls.Config
	var caPEM []byte
	if cfg.tls {
		server, client, ca, err := selfSigned()
		if err != nil {
			return nil, err
		}
		kopts = append(kopts, kfake.TLS(server))
		clientTLS, caPEM = client, ca
	}
	kf, err := kfake.NewCluster(append(kopts, cfg.kafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkalambdatest: start broker: %w", err)
	}
	var ropts []srfake.Option
	if cfg.registryUser != "" {
		ropts = append(ropts, srfake.WithAuth("Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.registryUser+":"+cfg.registryPass))))
	}
	c := &Cluster{kafka: kf, registry: srfake.New(ropts...), brokers: kf.ListenAddrs(), cfg: cfg, clientTLS: clientTLS, caPEM: caPEM}
	c.cl, err = kgo.NewClient(append(c.ClientOptions(),
		kgo.RecordPartitioner(manualOrKeyPartitioner()),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kafkalambdatest: client: %w", err)
	}
	c.adm = kadm.NewClient(c.cl)
	for _, topic := range slices.Sorted(maps.Keys(cfg.topics)) {
		if err := c.CreateTopic(ctx, topic, cfg.topics[topic]); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close stops the client, the registry and the broker. It is safe to call
// more than once.
func (c *Cluster) Close() {
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
	}
	if c.registry != nil {
		c.registry.Close()
		c.registry = nil
	}
	if c.kafka != nil {
		c.kafka.Close()
		c.kafka = nil
	}
}

// Brokers returns the brokers' host:port addresses.
func (c *Cluster) Brokers() []string { return slices.Clone(c.brokers) }

// BootstrapServers returns the brokers' addresses joined with commas, as in
// a Kafka client's bootstrap.servers setting.
func (c *Cluster) BootstrapServers() string { return strings.Join(c.brokers, ",") }

// ClientOptions returns the franz-go options that connect a client to this
// cluster: the seed brokers, SASL/PLAIN when WithSASLPlain is set, TLS
// trusting the cluster's CA when WithTLS is.
func (c *Cluster) ClientOptions() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.brokers...)}
	if c.clientTLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.clientTLS.Clone()))
	}
	if c.cfg.saslUser != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: c.cfg.saslUser, Pass: c.cfg.saslPass}.AsMechanism()))
	}
	return opts
}

// RegistryURL returns the Schema Registry's base URL.
func (c *Cluster) RegistryURL() string { return c.registry.URL() }

// RegistryClient returns the registry as serde's registry codecs take it:
// serde.Confluent over a new srclient client (with basic auth when
// WithRegistryAuth is set). Each call makes a new client, so codecs built
// on different calls share no srclient cache.
func (c *Cluster) RegistryClient() serde.Registry {
	rc := srclient.NewSchemaRegistryClient(c.registry.URL())
	if c.cfg.registryUser != "" {
		rc.SetCredentials(c.cfg.registryUser, c.cfg.registryPass)
	}
	return serde.Confluent(rc)
}

// Kafka returns the embedded broker, for kfake's fault injection
// (Control, ControlKey, SleepControl) and administration.
func (c *Cluster) Kafka() *kfake.Cluster { return c.kafka }

// FakeRegistry returns the embedded registry, for srfake's interceptors and
// seeding.
func (c *Cluster) FakeRegistry() *srfake.Registry { return c.registry }

// CreateTopic creates topic with the given number of partitions. A topic
// that already exists with that many partitions is not an error.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	resp, err := c.adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		details, derr := c.adm.ListTopics(ctx, topic)
		if derr == nil && details.Has(topic) && len(details[topic].Partitions) == int(partitions) {
			return nil
		}
		return fmt.Errorf("kafkalambdatest: create topic %s: %w", topic, err)
	}
	return nil
}

// AnyPartition as a record's Partition in [Cluster.ProduceRecords] lets the
// key choose the partition, as Kafka's Java producer does (murmur2).
const AnyPartition int32 = -1

// ProduceRecords produces recs and waits until the broker acknowledged all
// of them (acks=all). Each record goes to its Partition, or is partitioned
// by key when Partition is AnyPartition. The error joins every record's
// failure.
func (c *Cluster) ProduceRecords(ctx context.Context, recs ...*kgo.Record) error {
	var errs []error
	for _, res := range c.cl.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("kafkalambdatest: produce to %s-%d: %w", res.Record.Topic, res.Record.Partition, res.Err))
		}
	}
	return errors.Join(errs...)
}

// Produce serializes recs with keys and values and produces them to topic,
// partitioned by key like Kafka's Java producer. It returns once the broker
// acknowledged every record.
func Produce[K, V any](ctx context.Context, c *Cluster, topic string, keys serde.Serializer[K], values serde.Serializer[V], recs ...Record[K, V]) error {
	return ProduceTo(ctx, c, topic, AnyPartition, keys, values, recs...)
}

// ProduceTo is Produce into one partition (or by key with AnyPartition).
func ProduceTo[K, V any](ctx context.Context, c *Cluster, topic string, partition int32, keys serde.Serializer[K], values serde.Serializer[V], recs ...Record[K, V]) error {
	out := make([]*kgo.Record, 0, len(recs))
	for i, r := range recs {
		key, value, err := serialize(ctx, keys, values, topic, r)
		if err != nil {
			return fmt.Errorf("kafkalambdatest: record %d for %s: %w", i, topic, err)
		}
		kr := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		out = append(out, kr)
	}
	return c.ProduceRecords(ctx, out...)
}

// ReadTopic returns every record of topic from the start of each partition
// up to its end offset at the time of the call, in offset order within each
// partition and partitions in ascending order, as a read_uncommitted
// consumer sees them: records of aborted and open transactions included,
// control records left out. A topic that does not exist has no records.
// ctx bounds the read.
func (c *Cluster) ReadTopic(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.readTopic(ctx, topic, false)
}

// ReadCommitted returns the records of topic that a consumer reading with
// isolation.level=read_committed sees: those written outside transactions
// and those of committed transactions, from the start of each partition up
// to its last stable offset at the time of the call (what a transaction
// still open holds is after it), in offset order within each partition and
// partitions in ascending order. Records of aborted transactions and the
// transactions' control records are left out. ctx bounds the read.
func (c *Cluster) ReadCommitted(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.readTopic(ctx, topic, true)
}

func (c *Cluster) readTopic(ctx context.Context, topic string, committed bool) ([]*kgo.Record, error) {
	starts, err := c.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kafkalambdatest: read %s: start offsets: %w", topic, err)
	}
	// Control records (a transaction ends with one) are read, not
	// returned, so that the read knows when it reached the end.
	list, opts := c.adm.ListEndOffsets, []kgo.Opt{kgo.KeepControlRecords()}
	if committed {
		list = c.adm.ListCommittedOffsets // the last stable offset
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	ends, err := list(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafkalambdatest: read %s: end offsets: %w", topic, err)
	}
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > start.Offset {
			want[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().At(start.Offset)
		}
	})
	if len(want) == 0 {
		return nil, nil
	}
	rd, err := kgo.NewClient(append(append(c.ClientOptions(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(200*time.Millisecond),
	), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkalambdatest: read %s: %w", topic, err)
	}
	defer rd.Close()
	byPart := map[int32][]*kgo.Record{}
	for len(want) > 0 {
		fetches := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("kafkalambdatest: read %s: %d partitions unfinished: %w", topic, len(want), err)
		}
		for _, fe := range fetches.Errors() {
			return nil, fmt.Errorf("kafkalambdatest: read %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	var out []*kgo.Record
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		out = append(out, byPart[p]...)
	}
	return out, nil
}

// manualOrKeyPartitioner sends a record to its Partition, or partitions it
// by key (Kafka's murmur2) when Partition is AnyPartition.
func manualOrKeyPartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		byKey := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Partition >= 0 {
				return int(r.Partition)
			}
			return byKey.Partition(r, n)
		}
	})
}
