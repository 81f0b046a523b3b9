package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
)

var (
	errBusy = errors.New("busy")
	errGone = errors.New("gone")
)

// failing returns an op that fails retryably with errBusy the first n
// times, then succeeds, and records when each attempt started.
func failing(n int, starts *[]time.Time) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) {
		*starts = append(*starts, time.Now())
		if len(*starts) <= n {
			return true, errBusy
		}
		return false, nil
	}
}

// Each sleep is within [b/2, b] of its attempt's doubled, capped backoff:
// on synctest's clock the gaps between attempts are the sleeps exactly.
func TestDoRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{Attempts: 6, Initial: 100 * time.Millisecond, Max: 300 * time.Millisecond}
		var starts []time.Time
		if err := retry.Do(t.Context(), p, failing(5, &starts)); err != nil {
			t.Fatalf("Do = %v, want nil after five retryable failures", err)
		}
		if len(starts) != 6 {
			t.Fatalf("%d attempts, want 6", len(starts))
		}
		ceilings := []time.Duration{100, 200, 300, 300, 300}
		for i, c := range ceilings {
			c *= time.Millisecond
			if gap := starts[i+1].Sub(starts[i]); gap < c/2 || gap > c {
				t.Errorf("sleep %d = %v, want within [%v, %v]", i+1, gap, c/2, c)
			}
		}
	})
}

func TestDoPermanentFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		runs := 0
		err := retry.Do(t.Context(), retry.Policy{Attempts: 5, Initial: time.Second}, func(context.Context) (bool, error) {
			runs++
			return false, errGone
		})
		if err != errGone || runs != 1 {
			t.Fatalf("Do = %v after %d runs, want errGone as it is after 1", err, runs)
		}
		if el := time.Since(start); el != 0 {
			t.Fatalf("slept %v before giving up on a permanent failure", el)
		}
	})
}

func TestDoAttemptsUsedUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var starts []time.Time
		err := retry.Do(t.Context(), retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}, failing(100, &starts))
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 3 || re.Reason != retry.ErrAttempts || re.Last != errBusy {
			t.Fatalf("Do = %#v, want *Error{3, ErrAttempts, errBusy}", err)
		}
		if !errors.Is(err, retry.ErrAttempts) || !errors.Is(err, errBusy) || len(starts) != 3 {
			t.Fatalf("Do = %v after %d runs: want it to match ErrAttempts and errBusy after 3", err, len(starts))
		}
	})
}

// A sleep that would end at or after the deadline is not taken: Do returns
// at once, and the deadline is left for the caller.
func TestDoNoTimeBeforeDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		var starts []time.Time
		err := retry.Do(ctx, retry.Policy{Attempts: 10, Initial: 100 * time.Millisecond, Max: time.Second}, failing(100, &starts))
		// Attempt 1 at 0, a sleep in [50ms, 100ms], attempt 2; the next
		// sleep, in [100ms, 200ms], cannot end before the deadline.
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.ErrNoTime || re.Last != errBusy || re.Attempts != 2 || len(starts) != 2 {
			t.Fatalf("Do = %v after %d runs, want ErrNoTime with errBusy after 2", err, len(starts))
		}
		if el := time.Since(start); el < 50*time.Millisecond || el > 100*time.Millisecond {
			t.Fatalf("returned after %v, want right after the second attempt (50ms to 100ms)", el)
		}
	})
}

// The context ending during a sleep cuts it short.
func TestDoCanceledDuringSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		var starts []time.Time
		err := retry.Do(ctx, retry.Policy{Attempts: 5, Initial: time.Second, Max: time.Second}, failing(100, &starts))
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != context.Canceled || re.Last != errBusy || re.Attempts != 1 {
			t.Fatalf("Do = %v, want context.Canceled after 1 attempt, last errBusy", err)
		}
		if el := time.Since(start); el != 30*time.Millisecond {
			t.Fatalf("returned after %v, want at the cancellation (30ms)", el)
		}
	})
}

// An attempt that the context's end cut short is put down to the context:
// Last stays the failure before it.
func TestDoDeadlineDuringAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		runs := 0
		err := retry.Do(ctx, retry.Policy{Attempts: 5, Initial: time.Millisecond, Max: time.Millisecond}, func(ctx context.Context) (bool, error) {
			runs++
			if runs == 1 {
				return true, errBusy
			}
			<-ctx.Done() // hangs until the deadline
			return true, ctx.Err()
		})
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != context.DeadlineExceeded || re.Last != errBusy || re.Attempts != 2 {
			t.Fatalf("Do = %#v, want DeadlineExceeded after 2 attempts, last errBusy", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v does not match context.DeadlineExceeded", err)
		}
	})
}

// An attempt that ends at the deadline by a timer of its own, before the
// context's timer fires, is still the deadline's: Do reports it as such,
// once ctx has ended, not as ErrNoTime.
func TestDoAttemptEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for range 20 {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			deadline, _ := ctx.Deadline()
			err := retry.Do(ctx, retry.Policy{Attempts: 5, Initial: time.Millisecond}, func(context.Context) (bool, error) {
				<-time.After(time.Until(deadline))
				return true, errBusy
			})
			var re *retry.Error
			if !errors.As(err, &re) || re.Reason != context.DeadlineExceeded || re.Last != errBusy || re.Attempts != 1 {
				t.Fatalf("Do = %v, want DeadlineExceeded after 1 attempt, last errBusy", err)
			}
			if ctx.Err() == nil {
				t.Fatal("Do returned before ctx ended")
			}
			cancel()
		}
	})
}

func TestDoEndedContextRunsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	runs := 0
	err := retry.Do(ctx, retry.Policy{Attempts: 3}, func(context.Context) (bool, error) { runs++; return false, nil })
	var re *retry.Error
	if !errors.As(err, &re) || re.Reason != context.Canceled || re.Last != nil || re.Attempts != 0 || runs != 0 {
		t.Fatalf("Do = %v after %d runs, want context.Canceled and no run", err, runs)
	}
}

func TestDoZeroPolicyRunsOnce(t *testing.T) {
	runs := 0
	err := retry.Do(t.Context(), retry.Policy{}, func(context.Context) (bool, error) { runs++; return true, errBusy })
	if !errors.Is(err, retry.ErrAttempts) || runs != 1 {
		t.Fatalf("Do = %v after %d runs, want ErrAttempts after 1", err, runs)
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    retry.Policy
		n    int
		ceil time.Duration
	}{
		{"first", retry.Policy{Initial: 50 * time.Millisecond, Max: time.Second}, 1, 50 * time.Millisecond},
		{"doubled twice", retry.Policy{Initial: 50 * time.Millisecond, Max: time.Second}, 3, 200 * time.Millisecond},
		{"capped", retry.Policy{Initial: 50 * time.Millisecond, Max: time.Second}, 40, time.Second},
		{"max below initial", retry.Policy{Initial: time.Second, Max: time.Millisecond}, 5, time.Second},
		{"huge n does not overflow", retry.Policy{Initial: time.Nanosecond, Max: 1 << 62}, 200, 1 << 62},
		{"1ns", retry.Policy{Initial: time.Nanosecond, Max: time.Nanosecond}, 1, time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lo, hi := tc.ceil, time.Duration(0)
			for range 2000 {
				d := tc.p.Backoff(tc.n)
				lo, hi = min(lo, d), max(hi, d)
			}
			if lo < tc.ceil/2 || hi > tc.ceil {
				t.Fatalf("Backoff(%d) in [%v, %v], want within [%v, %v]", tc.n, lo, hi, tc.ceil/2, tc.ceil)
			}
			if tc.ceil >= time.Millisecond && lo == hi {
				t.Fatalf("Backoff(%d) = %v every time: no jitter", tc.n, lo)
			}
		})
	}
	if d := (retry.Policy{}).Backoff(3); d != 0 {
		t.Fatalf("zero policy: Backoff = %v, want 0", d)
	}
}

func TestCeiling(t *testing.T) {
	t.Parallel()
	p := retry.Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, p.Ceiling(n))
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Ceiling(1..6) = %v, want %v", got, want)
		}
	}
	if d := (retry.Policy{Max: time.Second}).Ceiling(3); d != 0 {
		t.Fatalf("no Initial: Ceiling = %v, want 0", d)
	}
}

// OnRetry hears of every sleep Do takes, with the failure before it, and
// of nothing else: not of the attempt Do gives up after.
func TestOnRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type call struct {
			n     int
			err   error
			sleep time.Duration
		}
		var calls []call
		p := retry.Policy{Attempts: 4, Initial: 100 * time.Millisecond, Max: time.Second,
			OnRetry: func(n int, err error, sleep time.Duration) { calls = append(calls, call{n, err, sleep}) }}
		var starts []time.Time
		err := retry.Do(t.Context(), p, failing(100, &starts))
		if !errors.Is(err, retry.ErrAttempts) || len(starts) != 4 {
			t.Fatalf("Do = %v after %d runs, want ErrAttempts after 4", err, len(starts))
		}
		if len(calls) != 3 {
			t.Fatalf("OnRetry called %d times, want 3 (not for the last attempt)", len(calls))
		}
		for i, c := range calls {
			if c.n != i+1 || c.err != errBusy || c.sleep != starts[i+1].Sub(starts[i]) {
				t.Errorf("call %d = %+v, want attempt %d, errBusy and the sleep taken (%v)", i, c, i+1, starts[i+1].Sub(starts[i]))
			}
		}
	})
}
