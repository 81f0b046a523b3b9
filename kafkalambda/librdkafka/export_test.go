package librdkafka

import "github.com/confluentinc/confluent-kafka-go/v2/kafka"

// CurrentGeneration is the number of the librdkafka producer in use (0
// for none yet).
func CurrentGeneration(p *Producer) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.cur.Load(); g != nil {
		return g.id
	}
	return 0
}

// BreakCurrent raises a fatal error with code in the librdkafka producer
// in use, as a broker's answer would; it reports false when there is none.
func BreakCurrent(p *Producer, code kafka.ErrorCode) bool {
	p.mu.Lock()
	g := p.cur.Load()
	p.mu.Unlock()
	if g == nil {
		return false
	}
	g.c.testFatal(code, "injected by the test")
	return true
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
