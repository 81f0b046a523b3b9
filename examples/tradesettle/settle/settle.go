// Package settle holds the trade settlement rules of the example: which
// disposition a trade gets, and why. It is plain Go over the generated
// messages, with no Kafka or Lambda in it, so that the rules can be tested
// and reused on their own (the function in package app applies them to each
// Kafka record).
//
// # Rules
//
// In order, the first that applies:
//
//  1. no user (the record has no key, or an empty one): user "NO USER",
//     Rejected, "No user account specified";
//  2. quantity × price > 100000: Pending, "Large trade";
//  3. a random 30 % of the rest: SEC Flagged, "Flagged for SEC review";
//  4. otherwise: Completed, "Trade settled".
//
// # The random draw
//
// The draw is injectable (Rules.Draw) so that tests are deterministic. The
// default, DrawByID, is not a fresh random number but a uniform number
// derived from the trade's identity (topic, partition, offset): Kafka
// delivers at least once, and a trade that is delivered again must not be
// flagged one time and completed the next. With it, a redelivered trade
// produces the same settlement as the first time.
package settle

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
)

// Dispositions, as written to TradeSettlement.disposition.
const (
	Completed  = "Completed"
	Pending    = "Pending"
	SECFlagged = "SEC Flagged"
	Rejected   = "Rejected"
)

// Reasons, as written to TradeSettlement.reason.
const (
	ReasonNoUser    = "No user account specified"
	ReasonLarge     = "Large trade"
	ReasonFlagged   = "Flagged for SEC review"
	ReasonCompleted = "Trade settled"
)

// NoUser is the user of the settlement of a trade without one.
const NoUser = "NO USER"

// LargeTrade is the amount (quantity × price) above which a trade is
// Pending.
const LargeTrade = 100000

// FlagRate is the share of the remaining trades that are SEC Flagged: those
// whose draw is below it.
const FlagRate = 0.3

// Dispositions lists the dispositions in the order reports show them.
func Dispositions() []string { return []string{Completed, Pending, SECFlagged, Rejected} }

// Trade is one trade to settle.
type Trade struct {
	// User is the user id (the record key); "" means there is none.
	User string
	// Value is the trade as ksqlDB wrote it; nil reads as an empty trade.
	Value *tradepb.UserTrade
	// Time is when the trade happened (the record timestamp).
	Time time.Time
	// ID identifies the trade across redeliveries, e.g. "user_trades/3/1207"
	// (topic/partition/offset); DrawByID derives the draw from it.
	ID string
}

// Rules applies the settlement rules. The zero value is ready to use, with
// DrawByID as the draw. A Rules is safe for concurrent use if its Draw is.
type Rules struct {
	// Draw returns a number in [0, 1) for a trade that reaches the random
	// rule; the trade is SEC Flagged when it is below FlagRate. It is not
	// called for rejected or large trades. Nil means DrawByID.
	Draw func(t Trade) float64
}

// Settle returns the settlement of t: the first rule that applies decides
// its disposition and reason (see the package documentation). Amount is
// quantity × price, computed in 64 bits; Timestamp is t.Time in
// milliseconds.
func (r Rules) Settle(t Trade) *tradepb.TradeSettlement {
	amount := int64(t.Value.GetQuantity()) * int64(t.Value.GetPrice())
	s := &tradepb.TradeSettlement{
		User:      t.User,
		Symbol:    t.Value.GetSymbol(),
		Amount:    float64(amount),
		Timestamp: t.Time.UnixMilli(),
	}
	switch {
	case t.User == "":
		s.User, s.Disposition, s.Reason = NoUser, Rejected, ReasonNoUser
	case amount > LargeTrade:
		s.Disposition, s.Reason = Pending, ReasonLarge
	case r.draw(t) < FlagRate:
		s.Disposition, s.Reason = SECFlagged, ReasonFlagged
	default:
		s.Disposition, s.Reason = Completed, ReasonCompleted
	}
	return s
}

func (r Rules) draw(t Trade) float64 {
	if r.Draw == nil {
		return DrawByID(t)
	}
	return r.Draw(t)
}

// DrawByID returns a number in [0, 1) derived from t.ID alone (the first 53
// bits of its SHA-256): uniform over distinct ids, and the same every time
// for one id, in every process.
func DrawByID(t Trade) float64 {
	sum := sha256.Sum256([]byte(t.ID))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}
