package franz

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// logger adapts a slog.Logger to kgo.Logger: franz-go's lines go to it at
// their level, with the generation. Its debug lines (one or more per
// request: the volume of librdkafka's "debug" output) only with debug.
type logger struct {
	l     *slog.Logger
	level kgo.LogLevel
}

func newLogger(l *slog.Logger, gen int64, debug bool) *logger {
	lg := &logger{l: l.With("generation", gen), level: kgo.LogLevelNone}
	ctx := context.Background()
	for _, lv := range []struct {
		kgo  kgo.LogLevel
		slog slog.Level
	}{{kgo.LogLevelDebug, slog.LevelDebug}, {kgo.LogLevelInfo, slog.LevelInfo}, {kgo.LogLevelWarn, slog.LevelWarn}, {kgo.LogLevelError, slog.LevelError}} {
		if lv.kgo == kgo.LogLevelDebug && !debug {
			continue
		}
		if l.Enabled(ctx, lv.slog) {
			lg.level = lv.kgo
			break
		}
	}
	return lg
}

func (lg *logger) Level() kgo.LogLevel { return lg.level }

func (lg *logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	}
	lg.l.Log(context.Background(), lv, "franz-go: "+msg, keyvals...)
}
