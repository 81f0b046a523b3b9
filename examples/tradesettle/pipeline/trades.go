package pipeline

import (
	"math/rand/v2"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
)

// Trade is one generated user_trades record: Key is the user id, "" for a
// record with a null key.
type Trade struct {
	Key   string
	Value *tradepb.UserTrade
}

// tradeGen makes trades as ksqlDB's user_trades stream would hold them,
// from a seeded source so that a run can be repeated: one in noKeyEvery has
// no key (at least one when there are that many trades), one in largeEvery
// is above settle.LargeTrade, the rest at or below it.
type tradeGen struct {
	rng        *rand.Rand
	n          int
	noKeyEvery int
	largeEvery int
	// The values the Datagen connector's STOCK_TRADES quickstart draws from
	// (the source of ksql/pipeline.sql).
	symbols, accounts, sides []string
}

func newTradeGen(seed uint64) *tradeGen {
	return &tradeGen{
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		noKeyEvery: 97,
		largeEvery: 10,
		symbols:    []string{"ZBZX", "ZJZZT", "ZTEST", "ZVV", "ZVZZT", "ZWZZT", "ZXZZT"},
		accounts:   []string{"ABC123", "LMN456", "XYZ789"},
		sides:      []string{"BUY", "SELL"},
	}
}

func (g *tradeGen) next() Trade {
	r := g.rng
	g.n++
	user := "User_" + string(rune('1'+r.IntN(9)))
	ut := &tradepb.UserTrade{
		Userid:   user,
		Regionid: "Region_" + string(rune('1'+r.IntN(9))),
		Symbol:   g.symbols[r.IntN(len(g.symbols))],
		Account:  g.accounts[r.IntN(len(g.accounts))],
		Side:     g.sides[r.IntN(len(g.sides))],
	}
	if g.n%g.largeEvery == 0 {
		// quantity × price above the limit.
		ut.Quantity = int32(200 + r.IntN(4801))
		minPrice := settle.LargeTrade/int(ut.Quantity) + 1
		ut.Price = int32(minPrice + r.IntN(1000-minPrice+1))
	} else {
		ut.Quantity = int32(1 + r.IntN(1000))
		maxPrice := min(1000, settle.LargeTrade/int(ut.Quantity))
		ut.Price = int32(5 + r.IntN(max(1, maxPrice-4)))
	}
	if g.n%g.noKeyEvery == 0 {
		// A trade with no user: no key, and no user id in the value.
		ut.Userid = ""
		return Trade{Value: ut}
	}
	return Trade{Key: user, Value: ut}
}

// generatedShares returns how many of the first n trades of seed have no
// key, and how many have a key and are large: the trades the rules reject,
// and those they leave pending.
func generatedShares(seed uint64, n int) (noKey, largeWithKey int) {
	g := newTradeGen(seed)
	for range n {
		tr := g.next()
		switch {
		case tr.Key == "":
			noKey++
		case int64(tr.Value.GetQuantity())*int64(tr.Value.GetPrice()) > settle.LargeTrade:
			largeWithKey++
		}
	}
	return noKey, largeWithKey
}
