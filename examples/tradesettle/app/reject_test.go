package app_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/riferrei/srclient"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// deadLetter is a record of the dead-letter topic: its key, the offset or
// source its headers name, and its value.
type deadLetter struct {
	key, source string
	value       []byte
}

// isolation runs one event through a function built with cfg over a
// registry that refuses the function's credentials (the operator's fault,
// never the records'): partition 0 holds a poison record (bad magic byte)
// then two good trades, partition 1 one good trade. It returns the item
// failures of the response, sorted, the records of topic dlq and the number
// of settlements.
func isolation(t *testing.T, cfg app.Config, dlq string) ([]kafkalambda.ItemIdentifier, []deadLetter, int) {
	t.Helper()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithRegistryAuth("sr", "right"),
		kafkalambdatest.WithTopic(app.InputTopic, 2), kafkalambdatest.WithTopic(app.OutputTopic, 2), kafkalambdatest.WithTopic(dlq, 1))
	p, err := newTestProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": c.BootstrapServers()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	wrong := srclient.NewSchemaRegistryClient(c.RegistryURL())
	wrong.SetCredentials("sr", "wrong")
	cfg.Registry, cfg.Producer = serde.Confluent(wrong), p
	fn, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := fn.Handler()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	trades, err := serde.Protobuf[*tradepb.UserTrade](c.RegistryClient())
	if err != nil {
		t.Fatal(err)
	}
	good := func(i int32) []byte {
		b, err := trades.Serialize(ctx, serde.Target{Topic: app.InputTopic}, ut("User_1", "ZVV", 1, i))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type rec = kafkalambdatest.Record[string, []byte]
	payload, err := kafkalambdatest.NewEvent(serde.String(), serde.Bytes()).
		Add(app.InputTopic, 0, rec{Key: "User_1", Value: poison()}, rec{Key: "User_1", Value: good(1)}, rec{Key: "User_1", Value: good(2)}).
		Add(app.InputTopic, 1, rec{Key: "User_1", Value: good(3)}).
		Payload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke: %v; want the failures reported as item failures", err)
	}
	var resp kafkalambda.ItemFailures
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	var items []kafkalambda.ItemIdentifier
	for _, f := range resp.BatchItemFailures {
		items = append(items, f.ItemIdentifier)
	}
	slices.SortFunc(items, func(a, b kafkalambda.ItemIdentifier) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	recs, err := c.ReadTopic(ctx, dlq)
	if err != nil {
		t.Fatal(err)
	}
	var dead []deadLetter
	for _, kr := range recs {
		d := deadLetter{key: string(kr.Key), value: kr.Value}
		for _, hd := range kr.Headers {
			if hd.Key == kafkalambda.HeaderSourceOffset || hd.Key == app.HeaderSource {
				d.source = string(hd.Value)
			}
		}
		dead = append(dead, d)
	}
	settled, err := c.ReadTopic(ctx, app.OutputTopic)
	if err != nil {
		t.Fatal(err)
	}
	return items, dead, len(settled)
}

// poison returns a user_trades value whose first byte is not the
// Confluent magic byte.
func poison() []byte { return []byte{1, 0, 0, 0, 1, 0, 0x0a, 0x01, 'U'} }

// FAILURE_POLICY=ISOLATE_POISON: the poison record is dead-lettered once;
// the good records, which fail only because the registry refuses the
// function, are reported back to be retried and never dead-lettered.
func TestIsolatePoison(t *testing.T) {
	t.Parallel()
	const dlq = "user_trades-dlq"
	wantItems := []kafkalambda.ItemIdentifier{
		{Partition: "user_trades-0", Offset: 1}, {Partition: "user_trades-0", Offset: 2}, {Partition: "user_trades-1", Offset: 0},
	}

	t.Run("raw", func(t *testing.T) {
		t.Parallel()
		items, dead, settled := isolation(t, app.Config{Policy: kafkalambda.DeadLetter(dlq), ReportEnvironmentFailures: true}, dlq)
		if !slices.Equal(items, wantItems) {
			t.Errorf("item failures %v, want the good records %v", items, wantItems)
		}
		if len(dead) != 1 || dead[0].key != "User_1" || dead[0].source != "0" || !bytes.Equal(dead[0].value, poison()) {
			t.Fatalf("%d dead letters %+v, want the poison record alone, as it came, from offset 0", len(dead), dead)
		}
		if settled != 0 {
			t.Errorf("%d settlements without a usable registry", settled)
		}
	})

	t.Run("rejection", func(t *testing.T) {
		t.Parallel()
		items, dead, settled := isolation(t, app.Config{RejectedTopic: dlq, ReportEnvironmentFailures: true}, dlq)
		if !slices.Equal(items, wantItems) {
			t.Errorf("item failures %v, want the good records %v", items, wantItems)
		}
		if len(dead) != 1 || dead[0].key != "User_1" || dead[0].source != "user_trades/0/0" {
			t.Fatalf("%d dead letters %+v, want one rejection of user_trades/0/0 keyed User_1", len(dead), dead)
		}
		var rej app.SettlementRejected
		if err := json.Unmarshal(dead[0].value, &rej); err != nil {
			t.Fatalf("rejection %s: %v", dead[0].value, err)
		}
		if rej.Source != "user_trades/0/0" || rej.Topic != app.InputTopic || rej.Partition != 0 || rej.Offset != 0 ||
			rej.Stage != string(kafkalambda.StageValue) || rej.Reason == "" || string(rej.Key) != "User_1" || !bytes.Equal(rej.Value, poison()) {
			t.Errorf("rejection %+v", rej)
		}
		if settled != 0 {
			t.Errorf("%d settlements without a usable registry", settled)
		}
	})
}

// Reject is only the policy of a function with a RejectedTopic, and a
// RejectedTopic replaces the policy, so the two cannot be set together.
func TestRejectedTopicConfig(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t)
	p, err := newTestProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": c.BootstrapServers()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	_, err = app.New(app.Config{Registry: c.RegistryClient(), Producer: p, RejectedTopic: "r", Policy: kafkalambda.ReportItemFailures()})
	if !errors.Is(err, app.ErrConfig) {
		t.Errorf("RejectedTopic with ReportItemFailures: %v, want ErrConfig", err)
	}
	fn, err := app.New(app.Config{Registry: c.RegistryClient(), Producer: p})
	if err != nil {
		t.Fatal(err)
	}
	err = fn.Reject(context.Background(), &kafkalambda.Failure{Record: &kafkalambda.RawRecord{Topic: app.InputTopic}})
	if !errors.Is(err, app.ErrConfig) || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration {
		t.Errorf("Reject without a RejectedTopic: %v (class %s), want ErrConfig of class configuration", err, kafkalambda.Classify(err))
	}
}
