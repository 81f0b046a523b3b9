package pipeline

import (
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
)

func TestTradeGen(t *testing.T) {
	t.Parallel()
	g := newTradeGen(7)
	noKey, large := 0, 0
	for range 10000 {
		tr := g.next()
		amount := int64(tr.Value.GetQuantity()) * int64(tr.Value.GetPrice())
		if tr.Value.GetPrice() < 5 || tr.Value.GetPrice() > 1000 || tr.Value.GetQuantity() < 1 || tr.Value.GetQuantity() > 5000 {
			t.Fatalf("trade out of range: %v", tr.Value)
		}
		if tr.Key == "" {
			noKey++
		}
		if amount > settle.LargeTrade {
			large++
		}
	}
	if noKey != 10000/97 || large != 1000 {
		t.Errorf("%d without key, %d large; want %d and %d", noKey, large, 10000/97, 1000)
	}
	a, b := newTradeGen(1).next(), newTradeGen(1).next()
	if a.Key != b.Key || a.Value.String() != b.Value.String() {
		t.Error("one seed, two sequences")
	}
}
