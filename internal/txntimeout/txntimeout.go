// Package txntimeout derives a transactional producer's transaction
// timeout from the invocation it first serves, the same way for every
// producer of the SDK, so that one secret means the same with either.
package txntimeout

import (
	"context"
	"time"
)

// The bounds: the brokers' transaction.max.timeout.ms is 15 min by default
// (Lambda's longest function timeout), and Slack is room past the
// invocation's deadline for a commit under way. Default is librdkafka's,
// for a first transaction without a deadline.
const (
	Min     = 10 * time.Second
	Max     = 15 * time.Minute
	Slack   = 5 * time.Second
	Default = time.Minute
)

// For returns the transaction timeout for a producer whose first
// transaction runs under ctx: the time left before ctx's deadline — the
// start of an invocation, so about the function's timeout — plus Slack,
// within [Min, Max]; Default, and false, when ctx has no deadline. A
// transaction lasts no longer than its invocation, so the coordinator never
// aborts a live one; one left open by an environment that Lambda stopped
// mid-transaction is aborted soon after the function's timeout, which is
// how long it holds back the next attempt of its partition.
func For(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return Default, false
	}
	return min(max(time.Until(d).Round(time.Second)+Slack, Min), Max), true
}
