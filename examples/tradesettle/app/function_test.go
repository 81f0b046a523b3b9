package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

type rig struct {
	cluster *kafkalambdatest.Cluster
	fn      *app.Function
	trades  serde.Codec[*tradepb.UserTrade]
	settled serde.Codec[*tradepb.TradeSettlement]
}

// newRig starts a broker and registry and builds the function over them,
// with a draw that flags the trades whose offset is odd.
func newRig(t *testing.T, policy kafkalambda.FailurePolicy) *rig {
	t.Helper()
	return newRigWith(t, app.Config{Policy: policy})
}

// newRigWith is newRig with the failure settings of cfg (Policy,
// RejectedTopic, ReportEnvironmentFailures) and, when cfg.Registry is set,
// that registry for the function instead of the cluster's.
func newRigWith(t *testing.T, cfg app.Config) *rig {
	t.Helper()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic(app.InputTopic, 2), kafkalambdatest.WithTopic(app.OutputTopic, 2))
	p, err := newTestProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": c.BootstrapServers()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if cfg.Registry == nil {
		cfg.Registry = c.RegistryClient()
	}
	cfg.Producer = p
	cfg.Rules = settle.Rules{Draw: func(tr settle.Trade) float64 {
		if strings.HasSuffix(tr.ID, "1") || strings.HasSuffix(tr.ID, "3") {
			return 0
		}
		return 0.99
	}}
	cfg.Logger = slog.New(slog.DiscardHandler)
	fn, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	trades, err := serde.Protobuf[*tradepb.UserTrade](c.RegistryClient())
	if err != nil {
		t.Fatal(err)
	}
	settled, err := serde.Protobuf[*tradepb.TradeSettlement](c.RegistryClient())
	if err != nil {
		t.Fatal(err)
	}
	return &rig{cluster: c, fn: fn, trades: trades, settled: settled}
}

func (r *rig) settlements(t *testing.T) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs, err := r.cluster.ReadTopic(ctx, app.OutputTopic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func ut(user, symbol string, q, p int32) *tradepb.UserTrade {
	return &tradepb.UserTrade{Userid: user, Regionid: "Region_2", Quantity: q, Symbol: symbol, Price: p, Account: "XYZ789", Side: "SELL"}
}

func TestProcessSettlesEachTrade(t *testing.T) {
	t.Parallel()
	r := newRig(t, kafkalambda.ReportItemFailures())
	h, err := r.fn.Handler()
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_750_000_000_000)
	type rec = kafkalambdatest.Record[string, *tradepb.UserTrade]
	ctx := context.Background()
	payload, err := kafkalambdatest.NewEvent(serde.String(), r.trades).
		Add(app.InputTopic, 0,
			rec{Key: "User_1", Value: ut("User_1", "ZVV", 10, 10), Timestamp: at},       // offset 0: completed
			rec{Key: "User_2", Value: ut("User_2", "ZTEST", 10, 10), Timestamp: at},     // offset 1: flagged
			rec{NullKey: true, Value: ut("", "ZVV", 10, 10), Timestamp: at},             // offset 2: rejected
			rec{Key: "User_3", Tombstone: true, Timestamp: at},                          // offset 3: skipped
			rec{Key: "User_4", Value: ut("User_4", "ZBZX", 1000, 1000), Timestamp: at}). // offset 4: pending
		Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("response %s (%v), want no item failures", out, err)
	}

	want := map[string]*tradepb.TradeSettlement{
		"user_trades/0/0": {User: "User_1", Symbol: "ZVV", Amount: 100, Disposition: settle.Completed, Reason: settle.ReasonCompleted, Timestamp: at.UnixMilli()},
		"user_trades/0/1": {User: "User_2", Symbol: "ZTEST", Amount: 100, Disposition: settle.SECFlagged, Reason: settle.ReasonFlagged, Timestamp: at.UnixMilli()},
		"user_trades/0/2": {User: settle.NoUser, Symbol: "ZVV", Amount: 100, Disposition: settle.Rejected, Reason: settle.ReasonNoUser, Timestamp: at.UnixMilli()},
		"user_trades/0/4": {User: "User_4", Symbol: "ZBZX", Amount: 1e6, Disposition: settle.Pending, Reason: settle.ReasonLarge, Timestamp: at.UnixMilli()},
	}
	recs := r.settlements(t)
	if len(recs) != len(want) {
		t.Fatalf("%d settlements, want %d", len(recs), len(want))
	}
	for _, kr := range recs {
		src, err := app.SourceHeader(kr.Headers)
		if err != nil {
			t.Fatalf("settlement at offset %d: %v", kr.Offset, err)
		}
		source := src.String()
		s, err := r.settled.Deserialize(ctx, serde.Message{Topic: kr.Topic, Data: kr.Value})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(s, want[source]) {
			t.Errorf("settlement of %q = %v, want %v", source, s, want[source])
		}
		if string(kr.Key) != s.GetSymbol() {
			t.Errorf("settlement of %q keyed %q, want the symbol %q", source, kr.Key, s.GetSymbol())
		}
	}
}

// A record that does not decode is never settled; what happens to it is
// the failure policy's.
func TestUndecodableTrade(t *testing.T) {
	t.Parallel()
	const dlq = "user_trades-dlq"
	tests := []struct {
		name      string
		policy    kafkalambda.FailurePolicy
		partition int32
		value     []byte // not a UserTrade in the Confluent wire format
		check     func(t *testing.T, r *rig, out []byte, err error)
	}{
		{
			name: "ReportItemFailures reports it back", policy: kafkalambda.ReportItemFailures(),
			partition: 1, value: []byte{1, 2, 3, 4, 5, 6}, // bad magic byte
			check: func(t *testing.T, _ *rig, out []byte, err error) {
				if err != nil {
					t.Fatal(err)
				}
				var resp kafkalambda.ItemFailures
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatal(err)
				}
				want := kafkalambda.ItemIdentifier{Partition: "user_trades-1", Offset: 0}
				if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != want {
					t.Fatalf("response %s, want one item failure at %+v", out, want)
				}
			},
		},
		{
			name: "the default fails the batch", policy: kafkalambda.FailurePolicy{},
			partition: 0, value: []byte{0, 0, 0, 0, 99}, // unknown schema id
			check: func(t *testing.T, _ *rig, _ []byte, err error) {
				var re *kafkalambda.RecordError
				if !errors.Is(err, kafkalambda.ErrBatchFailed) || !errors.As(err, &re) || re.Offset != 0 {
					t.Fatalf("Invoke error %v, want the batch failed at user_trades-0@0", err)
				}
			},
		},
		{
			name: "DeadLetter dead-letters it", policy: kafkalambda.DeadLetter(dlq),
			partition: 0, value: []byte{0, 0, 0, 0, 99}, // unknown schema id
			check: func(t *testing.T, r *rig, out []byte, err error) {
				if err != nil || string(out) != "null" {
					t.Fatalf("Invoke = %s, %v; want success with a null response", out, err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				dead, err := r.cluster.ReadTopic(ctx, dlq)
				if err != nil {
					t.Fatal(err)
				}
				if len(dead) != 1 || string(dead[0].Key) != "User_1" {
					t.Fatalf("dead letters %v, want the one record keyed User_1", dead)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tc.policy)
			h, err := r.fn.Handler()
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			payload, err := kafkalambdatest.NewEvent(serde.String(), serde.Bytes()).
				Add(app.InputTopic, tc.partition, kafkalambdatest.Record[string, []byte]{Key: "User_1", Value: tc.value}).
				Payload(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out, err := h.Invoke(ctx, payload)
			tc.check(t, r, out, err)
			if recs := r.settlements(t); len(recs) != 0 {
				t.Errorf("%d settlements for an undecodable trade", len(recs))
			}
		})
	}
}

// ParseSource reads back what Source.String writes, to the largest
// partition and offset, and nothing else.
func TestParseSource(t *testing.T) {
	t.Parallel()
	for _, src := range []app.Source{
		{Topic: app.InputTopic},
		{Topic: "a.b_c-d", Partition: math.MaxInt32, Offset: math.MaxInt64},
	} {
		if got, err := app.ParseSource(src.String()); err != nil || got != src {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", src.String(), got, err, src)
		}
	}
	for _, v := range []string{
		"", "user_trades", "user_trades/0", "/0/0", "user_trades//0", "user_trades/0/",
		"user_trades/0/0/0", "user_trades/+1/0", "user_trades/0/-1", "user_trades/ 1/0",
		"user_trades/2147483648/0", "user_trades/0/9223372036854775808", "user_trades/0x1/0",
	} {
		if got, err := app.ParseSource(v); err == nil {
			t.Errorf("ParseSource(%q) = %+v, want an error", v, got)
		}
	}
}

func TestNewNeedsRegistryAndProducer(t *testing.T) {
	t.Parallel()
	if _, err := app.New(app.Config{}); !errors.Is(err, app.ErrConfig) {
		t.Fatalf("New(Config{}) = %v, want ErrConfig", err)
	}
}
