package esm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// Progress reports, per assigned partition, the end offset the fetches
// saw, the processed position and the commit, so that the lag is what is
// left: all ten records while the first batch is invoked, none once they
// are committed; unknown in a partition nothing was fetched from. After
// Run, it is where they were when it stopped.
func TestProgress(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("orders", 2))
	produceN(t, c, "orders", 0, 10, "v")
	entered, release := make(chan struct{}), make(chan struct{})
	fn := &recorder{respond: func(ctx context.Context, _ *kafkalambda.Event, n int) ([]byte, error) {
		if n == 1 {
			close(entered)
			<-release
		}
		return nil, nil
	}}
	r := start(t, c, esm.Config{Topics: []string{"orders"}}, &esm.HandlerTarget{Handler: fn},
		esm.WithBatchSize(4), esm.WithBatchingWindow(0))
	select {
	case <-entered:
	case <-time.After(time.Minute): // bounds a failing test only
		t.Fatal("no invocation")
	}
	ps := r.m.Progress()
	if len(ps) != 2 {
		t.Fatalf("Progress = %+v, want both partitions", ps)
	}
	p0, p1 := ps[0], ps[1]
	if p0.Topic != "orders" || p0.Partition != 0 || p0.HighWatermark != 10 || p0.Position != 0 || p0.Committed != -1 ||
		!p0.InFlight || p0.Buffered > 6 || p0.Lag() != 10 {
		t.Errorf("orders-0 while its first batch is invoked: %+v, lag %d", p0, p0.Lag())
	}
	if p1.Partition != 1 || p1.HighWatermark != -1 || p1.Position != -1 || p1.InFlight || p1.Lag() != -1 {
		t.Errorf("orders-1, never fetched: %+v, lag %d", p1, p1.Lag())
	}
	close(release)
	r.await(t, time.Minute, "orders-0 committed to its end", func() bool {
		p := r.m.Progress()[0]
		return p.Committed == 10
	})
	p0 = r.m.Progress()[0]
	if p0.Position != 10 || p0.Lag() != 0 || p0.InFlight || p0.Buffered != 0 {
		t.Errorf("orders-0 once committed: %+v, lag %d", p0, p0.Lag())
	}

	// Once Run has returned, the group has released the partitions; Progress
	// still says where they were, for a summary.
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if ps := r.m.Progress(); len(ps) != 2 || ps[0].Committed != 10 || ps[0].Lag() != 0 || ps[1].Lag() != -1 {
		t.Errorf("Progress after Run = %+v", ps)
	}
}

func TestPartitionProgressLag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    esm.PartitionProgress
		want int64
	}{
		{"behind", esm.PartitionProgress{HighWatermark: 120, Position: 20}, 100},
		{"caught up", esm.PartitionProgress{HighWatermark: 20, Position: 20}, 0},
		{"stale end offset", esm.PartitionProgress{HighWatermark: 20, Position: 25}, 0},
		{"nothing fetched", esm.PartitionProgress{HighWatermark: -1, Position: -1}, -1},
		{"no position", esm.PartitionProgress{HighWatermark: 5, Position: -1}, -1},
	} {
		if got := tc.p.Lag(); got != tc.want {
			t.Errorf("%s: Lag() = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func ExamplePartitionProgress_Lag() {
	// As (*Mapping).Progress reports a partition: the last fetch saw its
	// end at offset 1500; every record before 1200 was handled.
	p := esm.PartitionProgress{Topic: "orders", Partition: 3, HighWatermark: 1500, Position: 1200, Committed: 1000}
	fmt.Printf("%s-%d: %d records behind, %d not committed\n", p.Topic, p.Partition, p.Lag(), p.Position-p.Committed)
	// Output: orders-3: 300 records behind, 200 not committed
}
