package settle_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
)

func trade(user string, quantity, price int32) settle.Trade {
	return settle.Trade{
		User: user,
		Value: &tradepb.UserTrade{Userid: user, Regionid: "Region_1", Quantity: quantity,
			Symbol: "ZVV", Price: price, Account: "ABC123", Side: "BUY"},
		Time: time.UnixMilli(1_700_000_000_123),
		ID:   "user_trades/0/42",
	}
}

// fixed returns a draw that always answers v and counts its calls.
func fixed(v float64, calls *int) func(settle.Trade) float64 {
	return func(settle.Trade) float64 { *calls++; return v }
}

func TestSettle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		trade       settle.Trade
		draw        float64
		wantUser    string
		wantDisp    string
		wantReason  string
		wantAmount  float64
		wantDrawUse bool
	}{
		{"no user", trade("", 10, 10), 0, settle.NoUser, settle.Rejected, settle.ReasonNoUser, 100, false},
		{"no user beats large", trade("", 1000, 1000), 0, settle.NoUser, settle.Rejected, settle.ReasonNoUser, 1e6, false},
		{"large", trade("User_1", 1000, 101), 0, "User_1", settle.Pending, settle.ReasonLarge, 101000, false},
		{"large beats flag", trade("User_1", 5000, 1000), 0.01, "User_1", settle.Pending, settle.ReasonLarge, 5e6, false},
		{"exactly the limit is not large", trade("User_2", 1000, 100), 0.99, "User_2", settle.Completed, settle.ReasonCompleted, 100000, true},
		{"flagged", trade("User_3", 10, 50), 0.1, "User_3", settle.SECFlagged, settle.ReasonFlagged, 500, true},
		{"draw just under the rate", trade("User_3", 10, 50), math.Nextafter(settle.FlagRate, 0), "User_3", settle.SECFlagged, settle.ReasonFlagged, 500, true},
		{"draw at the rate completes", trade("User_4", 10, 50), settle.FlagRate, "User_4", settle.Completed, settle.ReasonCompleted, 500, true},
		{"completed", trade("User_5", 1, 5), 0.9, "User_5", settle.Completed, settle.ReasonCompleted, 5, true},
		{"int32 product does not overflow", trade("User_6", math.MaxInt32, 2), 0.9, "User_6", settle.Pending, settle.ReasonLarge, 2 * math.MaxInt32, false},
		{"nil value", settle.Trade{User: "User_7", Time: time.UnixMilli(5)}, 0.9, "User_7", settle.Completed, settle.ReasonCompleted, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			got := settle.Rules{Draw: fixed(tc.draw, &calls)}.Settle(tc.trade)
			want := &tradepb.TradeSettlement{
				User: tc.wantUser, Symbol: tc.trade.Value.GetSymbol(), Amount: tc.wantAmount,
				Disposition: tc.wantDisp, Reason: tc.wantReason, Timestamp: tc.trade.Time.UnixMilli(),
			}
			if !proto.Equal(got, want) {
				t.Errorf("Settle = %v, want %v", got, want)
			}
			if used := calls > 0; used != tc.wantDrawUse {
				t.Errorf("draw called %d times, want used=%v", calls, tc.wantDrawUse)
			}
		})
	}
}

func TestDrawByID(t *testing.T) {
	t.Parallel()
	a := settle.DrawByID(settle.Trade{ID: "user_trades/0/1"})
	if b := settle.DrawByID(settle.Trade{ID: "user_trades/0/1", User: "other"}); a != b {
		t.Errorf("same id, different draws: %v, %v", a, b)
	}
	// Over consecutive offsets (what a partition delivers) the draw is
	// uniform enough that the flag rate holds.
	const n = 20000
	flagged := 0
	for i := range n {
		d := settle.DrawByID(settle.Trade{ID: fmt.Sprintf("user_trades/%d/%d", i%4, i)})
		if d < 0 || d >= 1 {
			t.Fatalf("draw %v out of [0, 1)", d)
		}
		if d < settle.FlagRate {
			flagged++
		}
	}
	if rate := float64(flagged) / n; math.Abs(rate-settle.FlagRate) > 0.02 {
		t.Errorf("flag rate over %d ids = %.3f, want %.2f ± 0.02", n, rate, settle.FlagRate)
	}
}

func TestZeroRulesUseDrawByID(t *testing.T) {
	t.Parallel()
	for i := range 200 {
		tr := trade("User_1", 1, 1)
		tr.ID = fmt.Sprintf("t/0/%d", i)
		want := settle.Completed
		if settle.DrawByID(tr) < settle.FlagRate {
			want = settle.SECFlagged
		}
		if got := (settle.Rules{}).Settle(tr).GetDisposition(); got != want {
			t.Fatalf("id %s: %s, want %s", tr.ID, got, want)
		}
	}
}
