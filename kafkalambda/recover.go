package kafkalambda

import (
	"runtime/debug"
)

// safely runs fn and turns a panic into a *PanicError, so that a panic in
// Process or a deserializer is one record's failure and never brings the
// runtime down.
func safely(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}
