package flight_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/kafkalambda/kafka-lambda-go/internal/flight"
)

type ctxKey struct{}

// held is an fn that counts its runs and returns its run number when
// release is closed, or its context's error when that ends first.
type held struct {
	runs     atomic.Int32
	release  chan struct{}
	canceled atomic.Int32
}

func newHeld() *held { return &held{release: make(chan struct{})} }

func (h *held) fn(ctx context.Context) (int, error) {
	n := int(h.runs.Add(1))
	select {
	case <-h.release:
		return n, nil
	case <-ctx.Done():
		h.canceled.Add(1)
		return 0, ctx.Err()
	}
}

func TestConcurrentCallersShareOneCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g flight.Group[int]
		h := newHeld()
		ctx := context.WithValue(t.Context(), ctxKey{}, "first")
		var seen atomic.Value
		var wg sync.WaitGroup
		got := make([]int, 16)
		for i := range got {
			wg.Go(func() {
				v, err := g.Do(ctx, "k", func(ctx context.Context) (int, error) {
					seen.Store(ctx.Value(ctxKey{}))
					return h.fn(ctx)
				})
				if err != nil {
					t.Errorf("caller %d: %v", i, err)
				}
				got[i] = v
			})
		}
		synctest.Wait()
		close(h.release)
		wg.Wait()
		if h.runs.Load() != 1 {
			t.Fatalf("%d runs for 16 concurrent callers, want 1", h.runs.Load())
		}
		for i, v := range got {
			if v != 1 {
				t.Errorf("caller %d got %d, want 1", i, v)
			}
		}
		if seen.Load() != "first" {
			t.Errorf("fn saw value %v, want the caller's", seen.Load())
		}
	})
}

// The caller that started the call gives up; the call goes on for the
// caller still waiting, whose result it is.
func TestOneCallerGivingUpDoesNotEndTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g flight.Group[int]
		h := newHeld()
		first, cancel := context.WithCancel(t.Context())
		firstErr := make(chan error, 1)
		go func() {
			_, err := g.Do(first, "k", h.fn)
			firstErr <- err
		}()
		synctest.Wait()
		second := make(chan int, 1)
		go func() {
			v, err := g.Do(t.Context(), "k", h.fn)
			if err != nil {
				t.Error(err)
			}
			second <- v
		}()
		synctest.Wait()
		cancel()
		if err := <-firstErr; !errors.Is(err, context.Canceled) {
			t.Fatalf("first caller: %v, want context.Canceled", err)
		}
		synctest.Wait()
		if h.canceled.Load() != 0 {
			t.Fatal("the call was canceled while a caller still waited for it")
		}
		close(h.release)
		if v := <-second; v != 1 || h.runs.Load() != 1 {
			t.Fatalf("second caller got %d after %d runs, want 1 from the one call", v, h.runs.Load())
		}
	})
}

// When every caller has given up the call is canceled, and a later caller
// starts a new call instead of joining the one being stopped.
func TestEveryCallerGivingUpCancelsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g flight.Group[int]
		h := newHeld()
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if _, err := g.Do(ctx, "k", h.fn); !errors.Is(err, context.Canceled) {
					t.Errorf("got %v, want context.Canceled", err)
				}
			})
		}
		synctest.Wait()
		cancel()
		wg.Wait()
		synctest.Wait()
		if h.canceled.Load() != 1 {
			t.Fatalf("%d calls canceled after every caller gave up, want 1", h.canceled.Load())
		}
		close(h.release)
		if v, err := g.Do(t.Context(), "k", h.fn); err != nil || v != 2 {
			t.Fatalf("a later caller got %d, %v; want 2 from a new call", v, err)
		}
	})
}

// After Forget a caller starts a new call; the one running still answers
// the caller that waits for it.
func TestForgetStartsANewCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g flight.Group[int]
		old := newHeld()
		oldVal := make(chan int, 1)
		go func() {
			v, _ := g.Do(t.Context(), "k", old.fn)
			oldVal <- v
		}()
		synctest.Wait()
		g.Forget("k")
		fresh := newHeld()
		close(fresh.release)
		if v, err := g.Do(t.Context(), "k", fresh.fn); err != nil || v != 1 || fresh.runs.Load() != 1 {
			t.Fatalf("after Forget: %d, %v after %d runs; want a new call", v, err, fresh.runs.Load())
		}
		close(old.release)
		if v := <-oldVal; v != 1 {
			t.Fatalf("the forgotten call answered %d, want 1", v)
		}
	})
}
