package esm_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// The commit after an invocation is in flight while the partition's next
// batch is invoked: the function gets offset 1 while the broker still holds
// the commit of offset 0. Each invocation is reported once its commit is
// acknowledged, with what it covered, in order; a partition's batches stay
// one at a time, in offset order.
func TestCommitOverlapsNextInvocation(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	produceN(t, c, "in", 0, 3, "")
	second, released := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	c.Kafka().ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		if held.CompareAndSwap(false, true) {
			// Hold the first commit, off the broker's loop, until the
			// function has the next batch (or the test ends).
			c.Kafka().SleepControl(func() {
				select {
				case <-second:
				case <-released:
				}
			})
		}
		return nil, nil, false // then the broker handles it
	})
	t.Cleanup(func() { close(released) })
	var inFlight atomic.Int32 // invocations running: never more than one
	mapping := make(chan *esm.Mapping, 1)
	fn := &recorder{respond: func(_ context.Context, ev *kafkalambda.Event, _ int) ([]byte, error) {
		defer inFlight.Add(-1)
		if inFlight.Add(1) != 1 {
			t.Error("two invocations of one partition at once")
		}
		if ev.Partitions[0].Records[0].Offset == 1 {
			// A mapping that waited for the commit would get here only
			// once the client, timing out, had sent it again and it was
			// acknowledged, and counted.
			m := <-mapping
			if n := m.Stats().RecordsCommitted; n != 0 {
				t.Errorf("offset 1 invoked after %d records were committed, want it before the commit of offset 0 is acknowledged", n)
			}
			close(second)
		}
		return nil, nil
	}}
	var mu sync.Mutex
	var reports []esm.BatchResult
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(1), esm.WithBatchingWindow(0), esm.WithOnBatch(func(b esm.BatchResult) {
			mu.Lock()
			reports = append(reports, b)
			mu.Unlock()
		}))
	mapping <- r.m
	r.await(t, time.Minute, "3 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 3 })
	if got := fn.seen()["in-0"]; !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("invoked with offsets %v, want 0, 1, 2 in order", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 3 {
		t.Fatalf("%d invocations reported, want 3", len(reports))
	}
	for i, b := range reports {
		if b.Partitions[0].First != int64(i) || b.Committed != 1 || b.Outcome != esm.OutcomeSuccess {
			t.Fatalf("report %d: offset %d, committed %d, %s; want offset %d, committed 1, success",
				i, b.Partitions[0].First, b.Committed, b.Outcome, i)
		}
	}
	if got := committed(t, c, t.Name(), "in"); got[0] != 3 {
		t.Fatalf("committed %v, want 3", got)
	}
}
