package kafkalambda_test

// How a whole invocation (parse, deserialize, a no-op Process) with JSON
// values grows with the number of records. The comparison of an invocation
// against the hand-written handler is internal/bench's BenchmarkInvocation.
// Run:
//
//	go test -run '^$' -bench 'HandlerScaling' -benchmem ./kafkalambda/

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/benchkit"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

func jsonEvent(n int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	ev := &kafkalambda.Event{Source: kafkalambda.SourceMSK, SourceARN: "arn:aws:kafka:us-east-1:1:cluster/c/u",
		BootstrapServers: []string{"b-1:9098"}}
	for p := range 3 {
		ev.Partitions = append(ev.Partitions, kafkalambda.Partition{Key: fmt.Sprintf("user_trades-%d", p), Topic: "user_trades", Partition: int32(p)})
	}
	for i := range n {
		pt := &ev.Partitions[i%3]
		v, _ := json.Marshal(benchkit.Trade{UserID: fmt.Sprintf("User_%d", rng.IntN(9)), RegionID: "Region_3",
			Quantity: rng.Int32N(5000), Symbol: "ZVZZT", Price: rng.Int32N(1000), Account: "ABC123", Side: "BUY"})
		pt.Records = append(pt.Records, kafkalambda.RawRecord{Topic: pt.Topic, Partition: pt.Partition,
			Offset: int64(i / 3), Timestamp: time.UnixMilli(1700000000000), TimestampType: kafkalambda.TimestampCreateTime,
			Key: []byte(fmt.Sprintf("User_%d", i%9)), Value: v})
	}
	return ev.AppendJSON(nil)
}

func newBenchHandler(b *testing.B) *kafkalambda.Handler[string, benchkit.Trade] {
	h, err := kafkalambda.NewHandler(serde.String(), serde.JSON[benchkit.Trade](),
		func(ctx context.Context, r *kafkalambda.Record[string, benchkit.Trade]) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkHandlerScaling shows how time and memory grow with the number of
// records (they should grow linearly: ns/record and B/record flat), and the
// memory a 6 MB event takes: alloc/payload is the bytes allocated by one
// invocation per byte of payload, an upper bound on the heap it adds.
func BenchmarkHandlerScaling(b *testing.B) {
	for _, n := range []int{100, 1000, 10000, 20000} {
		payload := jsonEvent(n)
		h := newBenchHandler(b)
		name := fmt.Sprintf("records=%d", n)
		if len(payload) > 5<<20 {
			name += "/size=6MB"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if _, err := h.Invoke(context.Background(), payload); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			perOp := float64(after.TotalAlloc-before.TotalAlloc) / float64(b.N)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
			b.ReportMetric(perOp/float64(n), "B/record")
			b.ReportMetric(perOp/float64(len(payload)), "alloc/payload")
			b.ReportMetric(float64(len(payload))/(1<<20), "payload-MB")
		})
	}
}
