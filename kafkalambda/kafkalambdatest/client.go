package kafkalambdatest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Client produces to and reads from a Kafka cluster at any address: the
// embedded [Cluster] uses one, and [Dial] makes one for a broker that runs
// elsewhere (a container, a shared test cluster). Its methods are safe for
// concurrent use. Close it when done.
type Client struct {
	cl      *kgo.Client
	adm     *kadm.Client
	opts    []kgo.Opt
	brokers []string
}

// Dial returns a Client for the brokers in bootstrapServers
// ("host:port,host:port"). opts are franz-go options added to every
// connection it makes (kgo.DialTLSConfig, kgo.SASL, …). Dial does not
// connect: the first call does, and its error says what failed. An empty
// bootstrapServers is an [ErrInvalidOption] error.
func Dial(bootstrapServers string, opts ...kgo.Opt) (*Client, error) {
	var brokers []string
	for b := range strings.SplitSeq(bootstrapServers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("kafkalambdatest: %w: Dial: no bootstrap servers", ErrInvalidOption)
	}
	return dial(brokers, append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...))
}

// dial makes the Client of brokers; opts hold the seed brokers.
func dial(brokers []string, opts []kgo.Opt) (*Client, error) {
	opts = slices.Clone(opts)
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.RecordPartitioner(manualOrKeyPartitioner()),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafkalambdatest: client: %w", err)
	}
	return &Client{cl: cl, adm: kadm.NewClient(cl), opts: opts, brokers: slices.Clone(brokers)}, nil
}

// Close closes the client's connections. It is safe to call more than once.
func (c *Client) Close() { c.cl.Close() }

// BootstrapServers returns the brokers' addresses joined with commas.
func (c *Client) BootstrapServers() string { return strings.Join(c.brokers, ",") }

// ClientOptions returns the franz-go options that connect a client to the
// same brokers the same way (seed brokers, TLS, SASL).
func (c *Client) ClientOptions() []kgo.Opt { return slices.Clone(c.opts) }

// CreateTopic creates topic with the given number of partitions. A topic
// that already exists with that many partitions is not an error.
func (c *Client) CreateTopic(ctx context.Context, topic string, partitions int32) error {
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

// AnyPartition as a record's Partition in [Client.ProduceRecords] lets the
// key choose the partition, as Kafka's Java producer does (murmur2).
const AnyPartition int32 = -1

// ProduceRecords produces recs and waits until the broker acknowledged all
// of them (acks=all). Each record goes to its Partition, or is partitioned
// by key when Partition is AnyPartition. The error joins every record's
// failure.
func (c *Client) ProduceRecords(ctx context.Context, recs ...*kgo.Record) error {
	var errs []error
	for _, res := range c.cl.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("kafkalambdatest: produce to %s-%d: %w", res.Record.Topic, res.Record.Partition, res.Err))
		}
	}
	return errors.Join(errs...)
}

// ReadTopic returns every record of topic from the start of each partition
// up to its end offset at the time of the call, in offset order within each
// partition and partitions in ascending order, as a read_uncommitted
// consumer sees them: records of aborted and open transactions included,
// control records left out. A topic that does not exist has no records.
// ctx bounds the read.
func (c *Client) ReadTopic(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.readTopic(ctx, topic, readUncommitted)
}

// ReadWithMarkers is ReadTopic with the transactions' control records
// (their COMMIT and ABORT markers, Attrs.IsControl) in their place in the
// log: what tells which transaction each record belongs to and how it
// ended.
func (c *Client) ReadWithMarkers(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.readTopic(ctx, topic, readMarkers)
}

// ReadCommitted returns the records of topic that a consumer reading with
// isolation.level=read_committed sees: those written outside transactions
// and those of committed transactions, from the start of each partition up
// to its last stable offset at the time of the call (what a transaction
// still open holds is after it), in offset order within each partition and
// partitions in ascending order. Records of aborted transactions and the
// transactions' control records are left out. ctx bounds the read.
func (c *Client) ReadCommitted(ctx context.Context, topic string) ([]*kgo.Record, error) {
	return c.readTopic(ctx, topic, readCommitted)
}

// readMode is what readTopic returns.
type readMode int

const (
	readUncommitted readMode = iota // every record, control records left out
	readCommitted                   // what read_committed sees
	readMarkers                     // every record, control records included
)

func (c *Client) readTopic(ctx context.Context, topic string, mode readMode) ([]*kgo.Record, error) {
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
	if mode == readCommitted {
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
			if mode == readMarkers || !r.Attrs.IsControl() {
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
