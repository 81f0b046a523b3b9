package esm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

var errNope = errors.New("nope")

// awaitRun waits for a mapping to stop on its own.
func (r *running) awaitRun(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-testCtx(t).Done():
		t.Fatal("Run did not stop once caught up")
		return nil
	}
}

// WithStopWhenCaughtUp: Run returns nil by itself once every partition is
// committed to the end offsets seen at the start, an empty partition
// included; records given up on the way are in Stats. A second run on the
// same group, with nothing new, stops at once and invokes nothing.
func TestStopWhenCaughtUp(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 3))
	produceN(t, c, "in", 0, 7, "")
	produceN(t, c, "in", 1, 4, "") // in-2 stays empty
	fn := &recorder{respond: func(_ context.Context, ev *kafkalambda.Event, _ int) ([]byte, error) {
		for _, p := range ev.Partitions {
			if p.Key == "in-1" && p.Records[0].Offset == 0 {
				return nil, errNope
			}
		}
		return nil, nil
	}}
	cfg := esm.Config{Topics: []string{"in"}, Group: "caught-up"}
	r := start(t, c, cfg, &esm.HandlerTarget{Handler: fn},
		esm.WithStopWhenCaughtUp(true), esm.WithMaxRetryAttempts(0), esm.WithBatchSize(4), esm.WithBatchingWindow(10*time.Millisecond))
	if err := r.awaitRun(t); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, c, "caught-up", "in"); got[0] != 7 || got[1] != 4 {
		t.Fatalf("committed %v, want in-0 at 7 and in-1 at 4", got)
	}
	if st := r.m.Stats(); st.RecordsCommitted != 11 || st.RecordsDiscarded == 0 {
		t.Fatalf("stats %+v: want 11 records committed, some discarded", st)
	}

	again := &recorder{}
	r2 := start(t, c, cfg, &esm.HandlerTarget{Handler: again}, esm.WithStopWhenCaughtUp(true))
	if err := r2.awaitRun(t); err != nil {
		t.Fatal(err)
	}
	if n := again.count(); n != 0 {
		t.Fatalf("a caught-up group invoked %d records", n)
	}
}
