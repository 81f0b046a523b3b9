package soak

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Kinds of input records.
const (
	kindGood          = "good"
	kindPanic         = "panic"          // Process panics on it, every time
	kindBadMagic      = "bad-magic"      // first byte 1 instead of 0
	kindUnknownSchema = "unknown-schema" // a schema id the registry does not know
	kindTruncated     = "truncated"      // the Protobuf body cut short
)

// poisonAccount marks the trades the soak's rules panic on.
const poisonAccount = "SOAK-PANIC"

// unknownSchemaID is a schema id no registry of the soak holds.
const unknownSchemaID = 999_999

// userTradeV2 returns the ksqlDB schema of user_trades with one more column, as
// after an ALTER: trades written with it carry a new schema id, which the
// function's deserializer meets (and fetches) in the middle of a run.
func userTradeV2() string {
	return strings.Replace(pipeline.KSQLUserTradeSchema, "  string SIDE = 7;\n", "  string SIDE = 7;\n  string VENUE = 8;\n", 1)
}

// input is one record of user_trades, before and after it was produced.
type input struct {
	kind      string
	key       []byte // nil: a null key (a trade without a user)
	value     []byte // the Confluent wire format (or a malformed copy)
	trade     *tradepb.UserTrade
	partition int32
	offset    int64
	timestamp time.Time
}

// want returns the settlement the rules give a good trade at its place in
// the topic.
func (in *input) want() *tradepb.TradeSettlement {
	return settle.Rules{}.Settle(settle.Trade{User: string(in.key), Value: in.trade, Time: in.timestamp, ID: in.source()})
}

// source returns the trade's app.HeaderSource value, which is also its
// settle.Trade.ID.
func (in *input) source() string { return ref{in.partition, in.offset}.String() }

// mix says how many records of each poison kind a run has, per thousand.
type mix map[string]int

// makeInputs draws n trades from rng and serializes them with the ksqlDB
// schema (the second half with its altered version); per mix, some are
// poison. Every draw comes from rng, so a seed gives the same input.
func makeInputs(ctx context.Context, rng *rand.Rand, n int, reg serde.Registry, poison mix) ([]*input, error) {
	v1, err := serde.Protobuf[*tradepb.UserTrade](reg, serde.WithSchema(pipeline.KSQLUserTradeSchema))
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	v2, err := serde.Protobuf[*tradepb.UserTrade](reg, serde.WithSchema(userTradeV2()))
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	symbols := []string{"ZBZX", "ZJZZT", "ZTEST", "ZVV", "ZVZZT", "ZWZZT", "ZXZZT"}
	kinds := []string{kindGood}
	weights := []int{1000}
	for _, k := range []string{kindPanic, kindBadMagic, kindUnknownSchema, kindTruncated} {
		if poison[k] > 0 {
			kinds = append(kinds, k)
			weights = append(weights, poison[k])
			weights[0] -= poison[k]
		}
	}
	ins := make([]*input, n)
	for i := range ins {
		in := &input{kind: pick(rng, kinds, weights)}
		user := fmt.Sprintf("User_%d", 1+rng.IntN(9))
		t := &tradepb.UserTrade{
			Userid:   user,
			Regionid: fmt.Sprintf("Region_%d", 1+rng.IntN(9)),
			Symbol:   symbols[rng.IntN(len(symbols))],
			Quantity: int32(1 + rng.IntN(1000)),
			Price:    int32(5 + rng.IntN(200)),
			Account:  []string{"ABC123", "LMN456", "XYZ789"}[rng.IntN(3)],
			Side:     []string{"BUY", "SELL"}[rng.IntN(2)],
		}
		switch {
		case in.kind == kindPanic:
			// The rules' draw panics on it; the draw is only reached by
			// trades with a user that are not large.
			t.Account, t.Quantity, t.Price = poisonAccount, 1, 5
		case rng.IntN(50) == 0:
			t.Userid = "" // no user: Rejected, with a null key
		case rng.IntN(10) == 0:
			t.Quantity, t.Price = int32(500+rng.IntN(500)), int32(300+rng.IntN(700)) // Pending
		}
		if t.Userid != "" {
			in.key = []byte(t.Userid)
		}
		codec := v1
		if i >= n/2 {
			codec = v2
		}
		if in.value, err = codec.Serialize(ctx, serde.Target{Topic: app.InputTopic}, t); err != nil {
			return nil, fmt.Errorf("soak: serialize trade %d: %w", i, err)
		}
		in.trade = t
		switch in.kind {
		case kindBadMagic:
			in.value[0] = 1
		case kindUnknownSchema:
			binary.BigEndian.PutUint32(in.value[1:5], unknownSchemaID)
		case kindTruncated:
			// The last field is SIDE, a string: cutting into it leaves a
			// length prefix longer than what follows.
			in.value = in.value[:len(in.value)-2]
		}
		ins[i] = in
	}
	return ins, nil
}

func pick(rng *rand.Rand, kinds []string, weights []int) string {
	n := rng.IntN(1000)
	for i, w := range weights {
		if n < w {
			return kinds[i]
		}
		n -= w
	}
	return kinds[0]
}

// produceInputs writes ins to user_trades, spread evenly over the
// partitions (record i to partition i mod partitions: nine users would
// spread unevenly by key), and records where each one landed.
func produceInputs(ctx context.Context, c *kafkalambdatest.Cluster, ins []*input, partitions int32) error {
	recs := make([]*kgo.Record, len(ins))
	for i, in := range ins {
		recs[i] = &kgo.Record{Topic: app.InputTopic, Partition: int32(i) % partitions, Key: in.key, Value: in.value}
	}
	const chunk = 500
	for from := 0; from < len(recs); from += chunk {
		if err := c.ProduceRecords(ctx, recs[from:min(from+chunk, len(recs))]...); err != nil {
			return fmt.Errorf("soak: produce the input: %w", err)
		}
	}
	for i, r := range recs {
		ins[i].partition, ins[i].offset, ins[i].timestamp = r.Partition, r.Offset, r.Timestamp
	}
	return nil
}

// panicRules are the settlement rules with a draw that panics on the
// trades marked poison: a panic in Process, on those records only, every
// time they are processed.
func panicRules() settle.Rules {
	return settle.Rules{Draw: func(t settle.Trade) float64 {
		if t.Value.GetAccount() == poisonAccount {
			panic("soak: injected panic in Process for " + t.ID)
		}
		return settle.DrawByID(t)
	}}
}
