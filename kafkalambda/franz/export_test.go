package franz

import "github.com/twmb/franz-go/pkg/kerr"

// Generation returns the number of the client in use, 0 when there is none.
func Generation(p *Producer) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.cur.Load(); g != nil {
		return g.id
	}
	return 0
}

// BreakCurrent makes the client in use fail as kgo's report of a lost
// idempotent sequence (OUT_OF_ORDER_SEQUENCE_NUMBER) makes it fail.
func BreakCurrent(p *Producer) {
	if g := p.cur.Load(); g != nil {
		g.observe(kerr.OutOfOrderSequenceNumber)
	}
}
