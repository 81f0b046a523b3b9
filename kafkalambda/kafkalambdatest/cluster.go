package kafkalambdatest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riferrei/srclient"
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
	client    *Client
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
	c.client, err = dial(c.brokers, c.ClientOptions())
	if err != nil {
		c.Close()
		return nil, err
	}
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
	if c.client != nil {
		c.client.Close()
		c.client = nil
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

// CreateTopic creates topic with the given number of partitions; see
// [Client.CreateTopic].
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	return c.client.CreateTopic(ctx, topic, partitions)
}

// ProduceRecords produces recs and waits until the broker acknowledged all
// of them; see [Client.ProduceRecords].
func (c *Cluster) ProduceRecords(ctx context.Context, recs ...*kgo.Record) error {
	return c.client.ProduceRecords(ctx, recs...)
}

// ReadTopic returns every record of topic up to its end offsets at the time
// of the call; see [Client.ReadTopic]. The generic [ReadTopic] decodes
// them.
func (c *Cluster) ReadTopic(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.client.ReadTopic(ctx, topic)
}

// ReadWithMarkers returns every record of topic with the transactions'
// control records; see [Client.ReadWithMarkers].
func (c *Cluster) ReadWithMarkers(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.client.ReadWithMarkers(ctx, topic)
}

// ReadCommitted returns the records of topic that a read_committed
// consumer sees; see [Client.ReadCommitted].
func (c *Cluster) ReadCommitted(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.client.ReadCommitted(ctx, topic)
}
