package txntimeout_test

import (
	"context"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/txntimeout"
)

func TestFor(t *testing.T) {
	for _, c := range []struct {
		left time.Duration
		want time.Duration
	}{
		{3 * time.Second, txntimeout.Min},                        // 3 s + 5 s, raised to the minimum
		{60 * time.Second, 65 * time.Second},                     // the function's timeout and the slack
		{20 * time.Minute, txntimeout.Max},                       // capped at the brokers' default maximum
		{898*time.Second + 400*time.Millisecond, txntimeout.Max}, // rounded, then capped
	} {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(c.left))
		got, ok := txntimeout.For(ctx)
		cancel()
		if !ok || got != c.want {
			t.Errorf("%v left: %v %v, want %v", c.left, got, ok, c.want)
		}
	}
	if got, ok := txntimeout.For(context.Background()); ok || got != txntimeout.Default {
		t.Errorf("no deadline: %v %v, want the default", got, ok)
	}
}
