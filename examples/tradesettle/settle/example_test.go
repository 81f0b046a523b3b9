package settle_test

import (
	"fmt"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
)

// The rules in order: no user, large, the random draw, completed. The draw
// is fixed here; in the function it is DrawByID.
func ExampleRules_Settle() {
	draws := []float64{0.12, 0.87}
	rules := settle.Rules{Draw: func(settle.Trade) float64 {
		d := draws[0]
		draws = draws[1:]
		return d
	}}
	at := time.Date(2025, 6, 2, 14, 30, 0, 0, time.UTC)
	for _, t := range []settle.Trade{
		{User: "", Value: &tradepb.UserTrade{Symbol: "ZVV", Quantity: 10, Price: 20}, Time: at},
		{User: "User_1", Value: &tradepb.UserTrade{Symbol: "ZTEST", Quantity: 500, Price: 300}, Time: at},
		{User: "User_2", Value: &tradepb.UserTrade{Symbol: "ZBZX", Quantity: 40, Price: 25}, Time: at},
		{User: "User_3", Value: &tradepb.UserTrade{Symbol: "ZXZZT", Quantity: 7, Price: 700}, Time: at},
	} {
		s := rules.Settle(t)
		fmt.Printf("%-7s %-6s %8.0f  %-11s  %s\n", s.GetUser(), s.GetSymbol(), s.GetAmount(), s.GetDisposition(), s.GetReason())
	}
	// Output:
	// NO USER ZVV         200  Rejected     No user account specified
	// User_1  ZTEST    150000  Pending      Large trade
	// User_2  ZBZX       1000  SEC Flagged  Flagged for SEC review
	// User_3  ZXZZT      4900  Completed    Trade settled
}

// DrawByID gives a redelivered trade the same draw, hence the same
// settlement.
func ExampleDrawByID() {
	first := settle.DrawByID(settle.Trade{ID: "user_trades/2/1207"})
	again := settle.DrawByID(settle.Trade{ID: "user_trades/2/1207"})
	fmt.Println(first == again, first >= 0 && first < 1)
	// Output: true true
}
