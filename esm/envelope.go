package esm

import "github.com/kafkalambda/kafka-lambda-go/kafkalambda"

// envelope is what every event of a mapping carries around its records: an
// Amazon MSK event when Config.EventSourceARN is set, a self-managed Kafka
// event otherwise. It is read-only once made.
type envelope struct {
	source  string
	arn     string
	brokers []string
	size    int  // bytes of an event with no partitions
	meta    bool // records get schema metadata: their sizes leave room for it
}

func newEnvelope(cfg *Config, meta bool) envelope {
	e := envelope{source: kafkalambda.SourceSelfManaged, arn: cfg.EventSourceARN, brokers: cfg.Brokers, meta: meta}
	if cfg.EventSourceARN != "" {
		e.source = kafkalambda.SourceMSK
	}
	e.size = len(e.event(nil).AppendJSON(nil))
	return e
}

// event returns an event carrying parts.
func (e *envelope) event(parts []kafkalambda.Partition) *kafkalambda.Event {
	return &kafkalambda.Event{
		Source:           e.source,
		SourceARN:        e.arn,
		BootstrapServers: e.brokers,
		Partitions:       parts,
	}
}

// sizeRec sets rc.size to an upper bound of the bytes rc takes in an event.
// With schema metadata to add, room for it is included.
//
// It encodes a one-record event into scratch only to learn the record's
// length: kafkalambda exports no way to compute it (RawRecord's encoder is
// unexported), and a bound worked out here from worst cases (escaped
// topics, headers as arrays of signed bytes) would be well above it,
// making batches smaller than the payload limit allows. An exported length
// function in kafkalambda would take this encoding off the fetch path.
func (e *envelope) sizeRec(scratch []byte, rc *rec) []byte {
	one := kafkalambda.Event{Partitions: []kafkalambda.Partition{{Key: "k", Records: []kafkalambda.RawRecord{rc.raw}}}}
	scratch = one.AppendJSON(scratch[:0])
	// The event around the record: {"eventSource":"","bootstrapServers":"","records":{"k":[]}}
	const around = len(`{"eventSource":"","bootstrapServers":"","records":{"k":[]}}`)
	rc.size = len(scratch) - around + 1
	if e.meta {
		rc.size += 2 * maxMetaBytes
	}
	return scratch
}
