package esm_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// An in-process handler still running at its timeout has timed out, as
// Lambda says: a function error "Task timed out after N.NN seconds",
// whatever the handler returns once its context ends, success or error.
// One that returns in time is unaffected.
func TestHandlerTargetTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context) (string, error)
		want string // FunctionError
	}{
		{"returns success late", func(ctx context.Context) (string, error) { <-ctx.Done(); return "ok", nil }, "Unhandled"},
		{"returns its context's error", func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }, "Unhandled"},
		{"in time", func(context.Context) (string, error) { return "ok", nil }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				target := &esm.HandlerTarget{Handler: lambda.NewHandler(tc.fn), Timeout: 1500 * time.Millisecond}
				res, err := target.Invoke(context.Background(), []byte(`{}`))
				if err != nil || res.FunctionError != tc.want {
					t.Fatalf("function error %q (err %v), want %q", res.FunctionError, err, tc.want)
				}
				if tc.want == "" {
					return
				}
				var doc struct{ ErrorMessage, ErrorType string }
				if err := json.Unmarshal(res.Payload, &doc); err != nil {
					t.Fatal(err)
				}
				if doc.ErrorMessage != "Task timed out after 1.50 seconds" || doc.ErrorType != "Sandbox.Timedout" {
					t.Fatalf("error document %s", res.Payload)
				}
			})
		})
	}
}

// A batch whose invocation times out is retried as after any function
// error, and its records are committed once a retry succeeds.
func TestTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("in", 1))
	produceN(t, c, "in", 0, 3, "")
	fn := &recorder{respond: func(ctx context.Context, _ *kafkalambda.Event, n int) ([]byte, error) {
		if n == 1 {
			<-ctx.Done() // overrun the timeout, then claim success
		}
		return nil, nil
	}}
	var res batches
	r := start(t, c, esm.Config{Topics: []string{"in"}}, &esm.HandlerTarget{Handler: fn, Timeout: 50 * time.Millisecond},
		esm.WithBatchSize(3), esm.WithBatchingWindow(esm.MaxBatchingWindow), esm.WithOnBatch(res.add))
	r.await(t, time.Minute, "3 records committed", func() bool { return r.m.Stats().RecordsCommitted >= 3 })
	got := res.get()
	if len(got) != 2 || got[0].Outcome != esm.OutcomeFunctionError || !errors.Is(got[0].Err, esm.ErrFunction) ||
		got[1].Outcome != esm.OutcomeSuccess || got[1].Attempt != 2 {
		t.Fatalf("batches %+v, want a timed-out invocation then a successful retry", got)
	}
}
