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

// idCache is a cowMap of what is derived from a schema id (a writer
// schema's decoder), which never changes once made. It keeps the entry it
// found last apart: a topic's records mostly carry one schema id, and
// comparing an id is cheaper than hashing it (3-4 % of a whole invocation
// with Avro or Protobuf values). Entries are made once, by store, so that a
// lookup allocates nothing even when ids alternate.
type idCache[V any] struct {
	m    cowMap[schemaRef, *idEntry[V]]
	last atomic.Pointer[idEntry[V]]
}

type idEntry[V any] struct {
	ref schemaRef
	v   V
}

func (c *idCache[V]) load(ref schemaRef) (V, bool) {
	if e := c.last.Load(); e != nil && e.ref == ref {
		return e.v, true
	}
	if e, ok := c.m.load(ref); ok {
		c.last.Store(e)
		return e.v, true
	}
	var zero V
	return zero, false
}

func (c *idCache[V]) store(ref schemaRef, v V) {
	c.m.store(ref, &idEntry[V]{ref: ref, v: v})
}
