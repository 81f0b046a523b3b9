package kafkalambda_test

// What the SDK's side of a send costs: an invocation whose Process sends
// 1,000 records through an Output (serde.Bytes keys and values, one
// header), to a Producer that reports each message delivered as soon as it
// is given it. No client and no broker: what is left is serializing, the
// invocation's tracking of each message for flush-at-end, and the wait.
// The comparison with raw clients is internal/bench's BenchmarkSendFlush.
// Run:
//
//	go test -run '^$' -bench 'SendPath' -benchmem ./kafkalambda/

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// instantProducer reports every message delivered from within Produce.
type instantProducer struct{}

func (instantProducer) Produce(_ context.Context, _ *kafkalambda.Message, d kafkalambda.Delivery) error {
	d.Done(nil)
	return nil
}
func (instantProducer) Purge() {}
func (instantProducer) Close() {}

// BenchmarkSendPath reports ns/send: the SDK's own time per record sent.
func BenchmarkSendPath(b *testing.B) {
	const sends = 1000
	var keys, values [][]byte
	for i := range sends {
		keys = append(keys, fmt.Appendf(nil, "key-%d", i))
		values = append(values, fmt.Appendf(nil, "settlement %d: ZVZZT Completed 1234.50", i))
	}
	from := kafkalambda.Header{Key: "from", Value: []byte("in")}
	out := kafkalambda.NewOutput("out", serde.Bytes(), serde.Bytes())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
			for i := range keys {
				if err := out.Send(ctx, keys[i], values[i], from); err != nil {
					return err
				}
			}
			return nil
		}, kafkalambda.WithProducer(instantProducer{}))
	if err != nil {
		b.Fatal(err)
	}
	payload := jsonEvent(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sends), "ns/send")
}
