// Package holds counts the users of a resource that its owner may retire
// (a producer's client that is being replaced): once retirement starts no
// new user gets in, and the owner waits for the current ones to leave
// before it closes the resource.
//
// Acquire raises the count before it reads the retiring flag, and Retire
// sets the flag before it reads the count, so a resource is never closed
// under a user that holds it.
package holds

import (
	"sync/atomic"
	"time"
)

// Holds is the count of users of one resource. Make it with New; the zero
// value is not usable.
//
// Users come in on one counter and leave on another, each on its own cache
// line: the goroutine that acquires (a send) and the one that releases (a
// delivery report) run on different threads, and a single counter written
// by both would move between their cores on every message.
type Holds struct {
	in       atomic.Int64
	_        [56]byte
	out      atomic.Int64
	_        [56]byte
	retiring atomic.Bool
	left     chan struct{} // poked when the last holder leaves while retiring
}

// New returns a count with no holders, not retiring.
func New() *Holds { return &Holds{left: make(chan struct{}, 1)} }

// Acquire counts one more holder, unless the resource is being retired:
// then it returns false and the caller must not use the resource.
func (h *Holds) Acquire() bool {
	h.in.Add(1)
	if h.retiring.Load() {
		h.Release()
		return false
	}
	return true
}

// Release ends one hold taken by a successful Acquire.
func (h *Holds) Release() {
	if out := h.out.Add(1); h.retiring.Load() && out == h.in.Load() {
		select {
		case h.left <- struct{}{}:
		default:
		}
	}
}

// Held returns how many holders there are now.
func (h *Holds) Held() int64 {
	// out first: a holder that comes in and leaves between the two loads
	// makes the count too high, never too low.
	out := h.out.Load()
	return h.in.Load() - out
}

// Retire stops new holders and waits until the current ones have left, or
// for at most wait. It returns how many still hold the resource: the
// caller gives up what they hold before closing it.
func (h *Holds) Retire(wait time.Duration) int64 {
	h.retiring.Store(true)
	if h.Held() > 0 {
		t := time.NewTimer(wait)
		select {
		case <-h.left:
		case <-t.C:
		}
		t.Stop()
	}
	return h.Held()
}
