// Package retry runs an operation again after failures that may go away,
// with jittered exponential backoff, never sleeping past the context's
// deadline. It is the module's one retry loop: serde's registry calls, the
// secrets loader's fetches and the local event source mapping (esm: its
// connect, its on-failure writes, esm/rie's wait for the emulator) use it.
//
// It reads time through the time package only (time.Now, timers), so a
// testing/synctest bubble runs it on its fake clock.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy bounds the retries of one operation. The zero value runs the
// operation once.
type Policy struct {
	// Attempts is the most times the operation runs, the first one
	// included. Below 1 means 1.
	Attempts int
	// Initial is the backoff before the second attempt; it doubles for
	// every attempt after that, up to Max. Zero or less means no sleep.
	Initial time.Duration
	// Max caps the backoff. Below Initial means Initial.
	Max time.Duration
	// OnRetry, when not nil, is called before each sleep with the attempt
	// that failed (from 1), its error and the sleep about to start: the
	// place to log a retry. It is not called for the attempt Do gives up
	// after. It runs on Do's goroutine.
	OnRetry func(attempt int, err error, sleep time.Duration)
}

// Ceiling returns the backoff after the n-th failed attempt (n >= 1)
// without jitter: Initial doubled n-1 times, capped at Max; 0 when Initial
// is not positive. [Policy.Backoff] draws from [Ceiling(n)/2, Ceiling(n)].
// A schedule that must be exact (esm's documented batch retry backoff) uses
// Ceiling itself.
func (p Policy) Ceiling(n int) time.Duration {
	if p.Initial <= 0 {
		return 0
	}
	ceil := max(p.Max, p.Initial)
	b := p.Initial
	for i := 1; i < n && b < ceil; i++ {
		if b > ceil/2 {
			b = ceil // doubling would pass the cap (or overflow)
		} else {
			b *= 2
		}
	}
	return b
}

// Backoff returns how long to sleep after the n-th failed attempt (n >= 1)
// before the next one: a random duration in [b/2, b], where b is
// Ceiling(n), Initial doubled n-1 times and capped at Max ("equal jitter":
// the fixed half keeps retries spaced out, the random half keeps callers
// that failed together from retrying together). It is 0 when Initial is not
// positive.
func (p Policy) Backoff(n int) time.Duration {
	b := p.Ceiling(n)
	if b <= 0 {
		return 0
	}
	return b/2 + rand.N(b-b/2+1)
}

// The reasons Do gives up on a failure that may have gone away (see
// Error.Reason); the third is the context's own error.
var (
	// ErrAttempts: the operation ran Policy.Attempts times.
	ErrAttempts = errors.New("retry: attempts used up")
	// ErrNoTime: the next sleep would end at or after the context's
	// deadline, so there is no time left for another attempt.
	ErrNoTime = errors.New("retry: no time left before the context deadline")
)

// Error is what Do returns when it gives up although the last failure was
// one the operation called retryable. errors.Is matches both Reason and
// Last.
type Error struct {
	// Attempts is how many times the operation ran.
	Attempts int
	// Reason is why Do stopped: ErrAttempts, ErrNoTime, or the context's
	// error (context.Canceled or context.DeadlineExceeded) when it ended
	// before an attempt, during a sleep, or while an attempt ran.
	Reason error
	// Last is the operation's last failure other than the context's own
	// error; nil when there was none (the context ended first).
	Last error
}

// Error renders "retry: attempts used up (3 attempts): <last>".
func (e *Error) Error() string {
	if e.Last == nil {
		return fmt.Sprintf("%v (%d attempts)", e.Reason, e.Attempts)
	}
	return fmt.Sprintf("%v (%d attempts): %v", e.Reason, e.Attempts, e.Last)
}

// Unwrap returns Reason and Last (when not nil).
func (e *Error) Unwrap() []error {
	if e.Last == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Last}
}

// Do runs op until it succeeds, fails for good, or Do gives up:
//
//   - op returns a nil error: Do returns nil.
//   - op returns an error with retryable false: Do returns that error as it
//     is, even when ctx has ended meanwhile.
//   - op returns an error with retryable true: Do sleeps p.Backoff(n) and
//     runs op again, unless op has run p.Attempts times (*Error with
//     ErrAttempts), the sleep would end at or after ctx's deadline (*Error
//     with ErrNoTime, returned at once), or ctx has ended (*Error with
//     ctx.Err(); also when it ends during the sleep, which is then cut
//     short). p.OnRetry, if set, hears of each sleep before it starts.
//
// op gets ctx and should return when it ends; a retryable error it returns
// once ctx has ended, or once ctx's deadline has passed, is put down to the
// context (Reason is ctx.Err(); Do waits for ctx's timer to fire when op
// returned just before it did). Do checks ctx before the first attempt too: a ctx that has
// already ended runs op zero times. Do is safe for concurrent use (it keeps
// no state).
func Do(ctx context.Context, p Policy, op func(ctx context.Context) (retryable bool, err error)) error {
	attempts := max(p.Attempts, 1)
	var last error
	for n := 0; ; {
		if err := ctx.Err(); err != nil {
			return &Error{Attempts: n, Reason: err, Last: last}
		}
		n++
		retryable, err := op(ctx)
		switch {
		case err == nil:
			return nil
		case !retryable:
			return err
		}
		ctxErr := ctx.Err()
		if deadline, ok := ctx.Deadline(); ctxErr == nil && ok && !time.Now().Before(deadline) {
			// The deadline has passed but ctx's timer has not fired yet
			// (op may have been cut short by a timer of its own with the
			// same deadline): it is about to, and the failure is the
			// deadline's.
			<-ctx.Done()
			ctxErr = ctx.Err()
		}
		if ctxErr == nil || !errors.Is(err, ctxErr) {
			last = err
		}
		if ctxErr != nil {
			return &Error{Attempts: n, Reason: ctxErr, Last: last}
		}
		if n >= attempts {
			return &Error{Attempts: n, Reason: ErrAttempts, Last: last}
		}
		sleep := p.Backoff(n)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= sleep {
			return &Error{Attempts: n, Reason: ErrNoTime, Last: last}
		}
		if p.OnRetry != nil {
			p.OnRetry(n, err, sleep)
		}
		if sleep <= 0 {
			continue
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return &Error{Attempts: n, Reason: ctx.Err(), Last: last}
		case <-t.C:
		}
	}
}
