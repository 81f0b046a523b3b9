package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/progress"
)

// live is the command's progress display (-progress, on by default): on a
// terminal, a frame of a few lines on stderr redrawn in place every
// progress.TerminalEvery, with the log lines written above it, and left on
// screen at the end as the run's summary; elsewhere (a file, a pipe, CI),
// a "kafkalambda-esm: progress" log line (-log-format applies) every
// progress.PlainEvery when anything changed, and no summary of its own:
// the mapping logs one ("esm: stopped").
type live struct {
	on     bool
	disp   *progress.Display // on a terminal
	stderr io.Writer
	every  time.Duration
}

// newLive returns the display for stderr: a terminal's when stderr is one
// (progress.Terminal), plain log lines otherwise; nothing when on is
// false.
func newLive(on bool, stderr io.Writer, getenv func(string) string) *live {
	l := &live{on: on, stderr: stderr, every: progress.PlainEvery}
	if ok, width := progress.Terminal(stderr, getenv); on && ok {
		l.disp, l.every = progress.NewDisplay(stderr, width), progress.TerminalEvery
	}
	return l
}

// logWriter is where the logger writes: through the display on a
// terminal, so that log lines appear above the frame.
func (l *live) logWriter() io.Writer {
	if l.disp != nil {
		return l.disp.Writer()
	}
	return l.stderr
}

// eventWriter is where the print target (no -function-url) writes the
// events, given stdout and whether it is a terminal: stdout, except when
// the frame is redrawn on stderr (a terminal) and stdout is a terminal too,
// in practice the same one; then through the display, so that each event
// appears above the frame instead of being erased by its next redraw.
// Events then reach the terminal by stderr, which a terminal shows alike;
// stdout redirected to a file or a pipe still gets them all, undisturbed.
func (l *live) eventWriter(stdout io.Writer, stdoutTerminal bool) io.Writer {
	if l.disp != nil && stdoutTerminal {
		return l.disp.Writer()
	}
	return stdout
}

// start shows m's progress until the returned func is called, which shows
// the final frame (on a terminal) and returns once it is written.
func (l *live) start(m *esm.Mapping, logger *slog.Logger) (stop func()) {
	if !l.on {
		return func() {}
	}
	begin := time.Now()
	snap := func() progress.Snapshot {
		return progress.Snapshot{Title: "kafkalambda-esm", Elapsed: time.Since(begin), Stats: m.Stats(), Partitions: m.Progress()}
	}
	show, final := plainLines(logger), func(progress.Snapshot) {}
	if l.disp != nil {
		show, final = l.disp.Show, l.disp.Finish
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		progress.Run(ctx, l.every, snap, show, final)
	}()
	return func() {
		cancel()
		<-done
	}
}

// plainLines returns a show func that logs a snapshot at Info when its
// counters or partitions differ from the last one logged: a mapping with
// nothing to do stays quiet.
func plainLines(logger *slog.Logger) func(progress.Snapshot) {
	var last *progress.Snapshot
	return func(s progress.Snapshot) {
		if last != nil && last.Stats == s.Stats && slices.Equal(last.Partitions, s.Partitions) {
			return
		}
		last = &s
		logger.LogAttrs(context.Background(), slog.LevelInfo, "kafkalambda-esm: progress", progress.Attrs(s)...)
	}
}
