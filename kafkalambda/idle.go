package kafkalambda

import "sync"

// idle holds what a Handler keeps from one invocation for the next — its
// Parsers, its sendMems — so that a warm function works in memory it
// already has. An invocation takes one (a new T when none is kept) and
// gives it back when it is done with it. Invocations that overlap (a local
// mapping invoking one handler for several partitions at once; Lambda
// itself never does) each take their own; at most maxIdle are kept.
type idle[T any] struct {
	mu   sync.Mutex
	kept []*T
}

const maxIdle = 4

func (l *idle[T]) get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.kept); n > 0 {
		x := l.kept[n-1]
		l.kept[n-1] = nil
		l.kept = l.kept[:n-1]
		return x
	}
	return new(T)
}

func (l *idle[T]) put(x *T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.kept) < maxIdle {
		l.kept = append(l.kept, x)
	}
}
