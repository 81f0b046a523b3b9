package serde

import "testing"

// TestIDCache: the entry found last is returned for its id only, ids that
// alternate each get their own value, an unknown id is a miss, and a
// lookup allocates nothing.
func TestIDCache(t *testing.T) {
	var c idCache[string]
	a, b := schemaRef{id: 1}, schemaRef{id: 2}
	if _, ok := c.load(a); ok {
		t.Fatal("an empty cache found id 1")
	}
	c.store(a, "one")
	c.store(b, "two")
	for range 3 {
		for ref, want := range map[schemaRef]string{a: "one", b: "two"} {
			if got, ok := c.load(ref); !ok || got != want {
				t.Fatalf("load(%v) = %q, %v; want %q", ref, got, ok, want)
			}
		}
	}
	if _, ok := c.load(schemaRef{id: 3}); ok {
		t.Fatal("found id 3, never stored")
	}
	if n := testing.AllocsPerRun(100, func() { c.load(a); c.load(b) }); n != 0 {
		t.Fatalf("%v allocations per pair of lookups, want 0", n)
	}
}
