// Package flight shares one call among the concurrent callers that ask for
// the same key (singleflight), each caller waiting only as long as its own
// context allows. It is the module's one singleflight: serde's registry
// calls and the secrets loader's fetches use it, one attempt at a time
// (each caller retries through internal/retry around it).
package flight

import (
	"context"
	"sync"
)

// Group runs one call per key at a time. The zero Group is ready to use;
// it is safe for concurrent use.
type Group[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done    chan struct{} // closed when fn has returned and val, err are set
	val     T
	err     error
	waiters int                // callers waiting; guarded by Group.mu
	cancel  context.CancelFunc // ends the call's context
}

// Do runs fn for key, or joins the call for key already running, and
// returns its result.
//
// fn runs on its own goroutine with a context that carries the values of
// the first caller's ctx but neither its deadline nor its cancellation: one
// caller giving up never ends a call that another still waits for. The
// call's context is canceled when every caller waiting for it has given up
// (its ctx ended), and a caller that comes after that starts a new call
// rather than joining one that is being stopped. fn must return once its
// context is canceled; a result nobody waits for is dropped (fn may have
// kept it, in a cache).
//
// A caller whose ctx ends before the call returns gets ctx.Err() at once.
func (g *Group[T]) Do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	g.mu.Lock()
	c, ok := g.calls[key]
	if !ok {
		if g.calls == nil {
			g.calls = map[string]*call[T]{}
		}
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[T]{done: make(chan struct{}), cancel: cancel}
		g.calls[key] = c
		go g.run(cctx, key, c, fn)
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
			g.forget(key, c)
		}
		g.mu.Unlock()
		var zero T
		return zero, ctx.Err()
	}
}

func (g *Group[T]) run(ctx context.Context, key string, c *call[T], fn func(context.Context) (T, error)) {
	defer c.cancel()
	c.val, c.err = fn(ctx)
	g.mu.Lock()
	g.forget(key, c)
	g.mu.Unlock()
	close(c.done)
}

// forget drops c from the group if it is still key's call. g.mu is held.
func (g *Group[T]) forget(key string, c *call[T]) {
	if g.calls[key] == c {
		delete(g.calls, key)
	}
}

// Forget makes the callers that ask for key from now on start a new call
// instead of joining the one running, which still answers the callers
// already waiting for it.
func (g *Group[T]) Forget(key string) {
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
}
