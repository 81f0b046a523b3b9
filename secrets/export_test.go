package secrets

import "time"

// SetClock replaces the loader's clock. Tests only; call before first use.
func SetClock(l *Loader, now func() time.Time) { l.now = now }
