package esm

// WithProgress calls fn after each invocation the mapping reports (after
// the WithOnBatch hook) and after each commit it tries, whether it
// committed anything or not: after every invocation, and every change of
// the records handled or committed, that a test may wait for. Tests wait
// on it instead of polling.
func WithProgress(fn func()) Option {
	return func(s *settings) { s.progress = fn }
}
