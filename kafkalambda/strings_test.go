package kafkalambda_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// TestStringKeysAndValuesAreKept: keys and values decoded by serde.String
// are made in blocks shared by the strings of a partition (not one
// allocation each), and stay what they were after their invocation, across
// blocks, while the next events are parsed into the same memory: short
// ones, empty ones, and ones too long for a block.
func TestStringKeysAndValuesAreKept(t *testing.T) {
	type kept struct{ key, value, wantKey, wantValue string }
	var all []kept
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
			all = append(all, kept{key: r.Key, value: r.Value})
			return nil
		}, kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tag := range "abc" {
		// Enough records for several blocks per partition, on two
		// partitions.
		ev := kafkalambdatest.NewEvent(serde.String(), serde.String())
		var want []kept
		for i := range 400 {
			k := strings.Repeat(string(tag), 1+i%40)
			v := strings.Repeat(string(tag), []int{0, 3, 100, 256, 257, 1000}[i%6])
			ev.Add("orders", int32(i%2), kafkalambdatest.Record[string, string]{Key: k, Value: v})
			want = append(want, kept{wantKey: k, wantValue: v})
		}
		payload, err := ev.Payload(ctx)
		if err != nil {
			t.Fatal(err)
		}
		first := len(all)
		if _, err := h.Invoke(ctx, payload); err != nil {
			t.Fatal(err)
		}
		if len(all)-first != len(want) {
			t.Fatalf("%d records processed, want %d", len(all)-first, len(want))
		}
		// Partition 0's records come first, then partition 1's.
		for i := range want {
			j := first + i/2
			if i%2 == 1 {
				j = first + len(want)/2 + i/2
			}
			all[j].wantKey, all[j].wantValue = want[i].wantKey, want[i].wantValue
		}
	}
	for i, k := range all {
		if k.key != k.wantKey || k.value != k.wantValue {
			t.Fatalf("record %d: key %.20q value %.20q (%d bytes) after later invocations, want %.20q and %.20q (%d)",
				i, k.key, k.value, len(k.value), k.wantKey, k.wantValue, len(k.wantValue))
		}
	}
}

// shortStrings returns an event of 1,000 records on orders-0 with short
// String keys and values, and a Handler that decodes them and does nothing.
func shortStrings(tb testing.TB) ([]byte, *kafkalambda.Handler[string, string]) {
	tb.Helper()
	ev := kafkalambdatest.NewEvent(serde.String(), serde.String())
	for i := range 1000 {
		ev.Add("orders", 0, kafkalambdatest.Record[string, string]{Key: "user-" + strings.Repeat("x", i%10), Value: "value"})
	}
	payload, err := ev.Payload(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, r *kafkalambda.Record[string, string]) error { return nil })
	if err != nil {
		tb.Fatal(err)
	}
	return payload, h
}

// TestStringKeysShareBlocks: 1,000 short String keys and values take a
// few block allocations, not one each.
func TestStringKeysShareBlocks(t *testing.T) {
	payload, h := shortStrings(t)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := h.Invoke(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 {
		t.Fatalf("%.0f allocations for 1,000 records with String keys and values, want a few blocks' worth", allocs)
	}
}

// BenchmarkStringKeys measures a record's decoding with serde.String keys
// and values, which the handler makes in shared blocks: about one
// allocation per 4 KiB of strings rather than one per string.
func BenchmarkStringKeys(b *testing.B) {
	payload, h := shortStrings(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}
