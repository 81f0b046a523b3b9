package kafkalambda

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// LambdaLogger returns the logger a Handler uses when WithLogger is not
// given: log/slog writing to w in the format Lambda's advanced logging
// controls ask for, read from getenv (os.Getenv in a function):
//
//   - AWS_LAMBDA_LOG_FORMAT "JSON": one JSON object per line with the keys
//     "timestamp" (RFC 3339), "level" (DEBUG, INFO, WARN, ERROR) and
//     "message", which Lambda reads for log-level filtering; anything else
//     (unset, "Text"): slog's text format.
//   - AWS_LAMBDA_LOG_LEVEL: the least level written (TRACE and DEBUG mean
//     DEBUG, FATAL means ERROR); INFO when unset or unknown.
//
// The handler logs each failed record once (coordinates, stage, failure
// class, what was done with it; never the record's contents) and one line
// per invocation that did not simply succeed.
func LambdaLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lambdaLevel(getenv("AWS_LAMBDA_LOG_LEVEL"))}
	if !strings.EqualFold(getenv("AWS_LAMBDA_LOG_FORMAT"), "JSON") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.TimeKey:
			a.Key = "timestamp"
			if t, ok := a.Value.Any().(time.Time); ok {
				a.Value = slog.StringValue(t.UTC().Format(time.RFC3339Nano))
			}
		case slog.MessageKey:
			a.Key = "message"
		}
		return a
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func lambdaLevel(s string) slog.Level {
	switch strings.ToUpper(s) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// requestAttrs returns the Lambda request id of ctx as log attributes, or
// none outside Lambda.
func requestAttrs(ctx context.Context) []any {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return []any{"requestId", lc.AwsRequestID}
	}
	return nil
}

// action is what the handler did with a failed record.
type action string

const (
	actionFailBatch  action = "batch failed"
	actionReport     action = "reported"
	actionDeadLetter action = "dead-lettered"
)

// maxRecordLines bounds the per-record failure lines of one invocation;
// the outcome line counts the rest.
const maxRecordLines = 10

// failureLog writes the failure lines of one invocation: one per failed
// record, up to maxRecordLines, then only counts.
type failureLog struct {
	ctx     context.Context
	log     *slog.Logger
	req     []any
	mu      sync.Mutex
	lines   int
	unshown int
}

func (l *failureLog) init(ctx context.Context, log *slog.Logger) {
	l.ctx, l.log = ctx, log
	l.req = requestAttrs(ctx)
}

// record logs one failed record: ERROR when the failure is not the
// record's (it fails the invocation, or is reported though the record is
// good), WARN when it is the record's.
//
// ctx is the record's (its span's trace and span ids go in the line), or
// the invocation's.
func (l *failureLog) record(ctx context.Context, topic string, partition int32, offset int64, err error, class FailureClass, act action) {
	level := slog.LevelWarn
	if class != ClassRecord || act == actionFailBatch {
		level = slog.LevelError
	}
	if !l.log.Enabled(l.ctx, level) {
		return
	}
	l.mu.Lock()
	show := l.lines < maxRecordLines
	if show {
		l.lines++
	} else {
		l.unshown++
	}
	l.mu.Unlock()
	if !show {
		return
	}
	attrs := append(l.req[:len(l.req):len(l.req)], "topic", topic, "partition", partition,
		"offset", offset)
	attrs = traceAttrs(ctx, attrs)
	var re *RecordError
	if errors.As(err, &re) {
		attrs = append(attrs, "stage", string(re.Stage))
		if re.SchemaID != "" {
			attrs = append(attrs, "schema_id", re.SchemaID)
		}
	}
	attrs = append(attrs, "class", string(class), "action", string(act), "error", err.Error())
	l.log.Log(l.ctx, level, "kafkalambda: record failed", attrs...)
}

func (l *failureLog) unshownLines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unshown
}

// logOutcome writes the invocation's line: ERROR when it failed, or when
// its response reports records for a reason that is not theirs; WARN when
// it reports or dead-letters records; DEBUG when everything succeeded.
// Its figures are those of the response.
func (inv *invocation) logOutcome(ev *Event, sent int, failures []sendFailure, out outcome, took time.Duration) {
	log := inv.eng.cfg.logger
	ctx := inv.log.ctx
	dead, envItems := 0, false
	for i := range inv.runs {
		r := &inv.runs[i]
		dead += r.dead
		if r.stopped() && Classify(r.err) != ClassRecord {
			envItems = true
		}
	}
	for _, f := range failures {
		if Classify(f.err) != ClassRecord {
			envItems = true
		}
	}
	level, msg := slog.LevelDebug, "kafkalambda: invocation succeeded"
	switch {
	case out.err != nil:
		level, msg = slog.LevelError, "kafkalambda: invocation failed"
	case out.items > 0 && envItems:
		level, msg = slog.LevelError, "kafkalambda: invocation reported item failures"
	case out.items > 0:
		level, msg = slog.LevelWarn, "kafkalambda: invocation reported item failures"
	case dead > 0:
		level, msg = slog.LevelWarn, "kafkalambda: invocation dead-lettered records"
	}
	if !log.Enabled(ctx, level) {
		return // nothing would be written: build no attributes
	}
	attrs := append(inv.log.req[:len(inv.log.req):len(inv.log.req)],
		"records", ev.Len(), "partitions", len(ev.Partitions), "sent", sent, "undelivered", len(failures),
		"dead_lettered", dead, "item_failures", out.items, "failed_partitions", out.partitions,
		"duration_ms", float64(took.Microseconds())/1000)
	attrs = traceAttrs(ctx, attrs)
	if n := inv.log.unshownLines(); n > 0 {
		attrs = append(attrs, "failures_not_logged", n)
	}
	if len(failures) > 0 {
		attrs = append(attrs, "first_undelivered", failures[0].err.Error())
	}
	if out.err != nil {
		attrs = append(attrs, "error", out.err.Error())
	}
	log.Log(ctx, level, msg, attrs...)
}
