package serde

import (
	"sync"
	"sync/atomic"
)

// cowMap is a copy-on-write map: readers load an immutable map through an
// atomic pointer and take no lock; writers (rare: one per new schema id or
// subject) copy the map under a mutex and swap the pointer. This is the
// read path every Deserialize takes, so it must not contend.
type cowMap[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

func (c *cowMap[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *cowMap[K, V]) store(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	n := 1
	if old != nil {
		n += len(*old)
	}
	next := make(map[K]V, n)
	if old != nil {
		for ok, ov := range *old {
			next[ok] = ov
		}
	}
	next[k] = v
	c.m.Store(&next)
}
