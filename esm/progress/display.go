package progress

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/term"
)

// Intervals Run is used with: a terminal's frame is redrawn every
// TerminalEvery; plain lines come further apart.
const (
	TerminalEvery = 250 * time.Millisecond
	PlainEvery    = 10 * time.Second
)

// defaultWidth is a terminal's width when it cannot be read.
const defaultWidth = 100

// Terminal reports whether w is a terminal a frame can be redrawn on, and
// its width in columns: w is an *os.File (or has an Fd method) on a
// terminal device, and TERM, read through getenv, is not "dumb". A file,
// a pipe or a buffer is not.
func Terminal(w io.Writer, getenv func(string) string) (ok bool, width int) {
	f, isFile := w.(interface{ Fd() uintptr })
	if !isFile || getenv("TERM") == "dumb" {
		return false, 0
	}
	fd := int(f.Fd()) //nolint:gosec // a file descriptor fits in an int
	if !term.IsTerminal(fd) {
		return false, 0
	}
	if width, _, err := term.GetSize(fd); err == nil && width > 0 {
		return true, width
	}
	return true, defaultWidth
}

// Display draws frames on a terminal, each in place of the one before
// (ANSI cursor movement, one write per frame). Lines that others write to
// the same terminal, such as log lines, go through Writer so that they
// appear above the frame instead of through it. Its methods are safe for
// concurrent use.
type Display struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	last  []string // the frame on screen, redrawn after a log line
	buf   bytes.Buffer
}

// NewDisplay returns a Display drawing on w, a terminal width columns wide
// (0: lines are not clipped).
func NewDisplay(w io.Writer, width int) *Display {
	return &Display{w: w, width: width}
}

// Show draws s in place of the frame on screen.
func (d *Display) Show(s Snapshot) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf.Reset()
	d.erase()
	// One column fewer than the terminal's: a line that fills it wraps on
	// some terminals, and the frame would move.
	d.last = Frame(s, max(0, d.width-1))
	d.draw()
	_, _ = d.w.Write(d.buf.Bytes())
}

// Finish draws s, the final snapshot, and leaves it on screen: later
// writes go below it.
func (d *Display) Finish(s Snapshot) {
	d.Show(s)
	d.mu.Lock()
	d.last = nil
	d.mu.Unlock()
}

// Writer returns an io.Writer that writes above the frame: it erases the
// frame, writes p (which should end with a newline, as a log line does)
// and draws the frame again, in one write.
func (d *Display) Writer() io.Writer { return displayWriter{d} }

type displayWriter struct{ d *Display }

func (w displayWriter) Write(p []byte) (int, error) {
	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf.Reset()
	d.erase()
	d.buf.Write(p)
	d.draw()
	if _, err := d.w.Write(d.buf.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// erase moves the cursor to the first line of the frame on screen and
// clears from there to the end of the screen; d.mu is held.
func (d *Display) erase() {
	if len(d.last) > 0 {
		fmt.Fprintf(&d.buf, "\r\x1b[%dA\x1b[J", len(d.last))
	}
}

// draw writes d.last, each line cleared to its end; d.mu is held.
func (d *Display) draw() {
	for _, l := range d.last {
		d.buf.WriteString(l)
		d.buf.WriteString("\x1b[K\n")
	}
}

// Meter turns a growing count into a rate over a sliding window of time:
// records per second over the last few seconds, steadier than between two
// ticks. The zero value uses a window of 2 s. It is not safe for
// concurrent use.
type Meter struct {
	// Window is how far back the rate looks (default 2 s).
	Window  time.Duration
	samples []sample
}

type sample struct {
	at time.Duration
	n  int64
}

// Rate records that the count was n at time at (since any fixed start;
// calls in increasing order of at) and returns the rate per second since
// the oldest sample within the window, or, when there is none that old,
// since the oldest sample kept; 0 on the first call.
func (m *Meter) Rate(at time.Duration, n int64) float64 {
	window := m.Window
	if window <= 0 {
		window = 2 * time.Second
	}
	m.samples = append(m.samples, sample{at, n})
	// Keep one sample at or before the window's start, as the base.
	drop := 0
	for drop+1 < len(m.samples) && m.samples[drop+1].at <= at-window {
		drop++
	}
	m.samples = m.samples[drop:]
	base := m.samples[0]
	if dt := at - base.at; dt > 0 {
		return float64(n-base.n) / dt.Seconds()
	}
	return 0
}

// Run calls snap every interval and passes what it returns to show, until
// ctx is done; then it calls snap once more, marks that snapshot Done and
// passes it to final. It sets each snapshot's Rate from Handled with a
// Meter. It returns once final has returned.
func Run(ctx context.Context, every time.Duration, snap func() Snapshot, show, final func(Snapshot)) {
	var m Meter
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s := snap()
			s.Done = true
			final(s)
			return
		case <-t.C:
		}
		s := snap()
		s.Rate = m.Rate(s.Elapsed, Handled(s.Stats))
		show(s)
	}
}
