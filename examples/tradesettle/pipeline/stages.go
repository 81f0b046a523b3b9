package pipeline

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Stage is where the function's time went in one kind of span, over a run
// (Config.Stages): the invocation, each record's processing (deserializing
// it and Process, sends included), each output record's send (queuing it
// in the producer) and the flush (waiting for the brokers'
// acknowledgements at the end of an invocation).
type Stage struct {
	Name                 string
	Count                int
	Total, P50, P99, Max time.Duration
}

// Mean is the stage's mean duration.
func (s Stage) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Total / time.Duration(s.Count)
}

// The stages, in the order WriteStages prints them.
const (
	StageInvocation = "invocation"
	StageRecord     = "record (deserialize + Process)"
	StageSend       = "send (queue an output)"
	StageFlush      = "flush (wait for acks)"
)

// stageRecorder is a span processor of the OpenTelemetry SDK that keeps the
// duration of every span of the function's tracing (kafkalambda.WithTracing)
// by stage.
type stageRecorder struct {
	mu sync.Mutex
	d  map[string][]time.Duration
}

var _ sdktrace.SpanProcessor = (*stageRecorder)(nil)

func newStageRecorder() *stageRecorder { return &stageRecorder{d: map[string][]time.Duration{}} }

// stageOf names the stage of a span of the handler's.
func stageOf(s sdktrace.ReadOnlySpan) string {
	switch {
	case s.SpanKind() == trace.SpanKindServer:
		return StageInvocation
	case s.SpanKind() == trace.SpanKindConsumer && strings.HasPrefix(s.Name(), "process "):
		return StageRecord
	case s.SpanKind() == trace.SpanKindProducer && strings.HasPrefix(s.Name(), "send "):
		return StageSend
	case s.Name() == "kafkalambda flush":
		return StageFlush
	}
	return ""
}

func (r *stageRecorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (r *stageRecorder) OnEnd(s sdktrace.ReadOnlySpan) {
	name := stageOf(s)
	if name == "" {
		return
	}
	d := s.EndTime().Sub(s.StartTime())
	r.mu.Lock()
	r.d[name] = append(r.d[name], d)
	r.mu.Unlock()
}

func (r *stageRecorder) Shutdown(context.Context) error   { return nil }
func (r *stageRecorder) ForceFlush(context.Context) error { return nil }

// stages returns the figures of each stage seen, in WriteStages' order.
func (r *stageRecorder) stages() []Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Stage
	for _, name := range []string{StageInvocation, StageRecord, StageSend, StageFlush} {
		ds := slices.Clone(r.d[name])
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		s := Stage{Name: name, Count: len(ds), Max: ds[len(ds)-1],
			P50: ds[len(ds)/2], P99: ds[min(len(ds)-1, len(ds)*99/100)]}
		for _, d := range ds {
			s.Total += d
		}
		out = append(out, s)
	}
	return out
}

// WriteStages writes where the function's time went (Config.Stages): per
// stage, its count and durations, and its total as a share of the
// invocations' total.
func (res *Result) WriteStages(w io.Writer) error {
	if len(res.Stages) == 0 {
		_, err := fmt.Fprintln(w, "no stage timings: the function ran without Config.Stages, or out of process")
		return err
	}
	var inv time.Duration
	for _, s := range res.Stages {
		if s.Name == StageInvocation {
			inv = s.Total
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tcount\tmean\tp50\tp99\tmax\ttotal\tof invocations\t")
	for _, s := range res.Stages {
		share := "-"
		if inv > 0 {
			share = fmt.Sprintf("%.1f%%", 100*float64(s.Total)/float64(inv))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, s.Count, round(s.Mean()), round(s.P50),
			round(s.P99), round(s.Max), round(s.Total), share)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "(sends happen inside Process, so inside the record stage; the rest of an invocation is parsing the event and answering)")
	return err
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}
