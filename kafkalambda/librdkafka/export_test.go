package librdkafka

import "github.com/confluentinc/confluent-kafka-go/v2/kafka"

// CurrentProducer exposes the librdkafka producer in use and its
// generation number, for tests that inject fatal errors.
func CurrentProducer(p *Producer) (*kafka.Producer, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.cur.Load()
	if g == nil {
		return nil, 0
	}
	return g.p, g.id
}
