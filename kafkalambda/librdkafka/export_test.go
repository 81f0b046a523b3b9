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

// OnPurgeWait has p call f whenever a send begins to wait for a deadline
// purge.
func OnPurgeWait(p *Producer, f func()) { p.purgeWaiting = f }

// HoldPurges makes the deadline purges of p's current librdkafka producer
// wait for gate before they purge: as when its broker threads have not yet
// served them.
func HoldPurges(p *Producer, gate <-chan struct{}) {
	g := p.cur.Load()
	purge := g.purge
	g.purge = func() {
		<-gate
		purge()
	}
}
