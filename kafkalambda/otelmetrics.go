package kafkalambda

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The metric names of OTelMetrics, in one place.
const (
	otelRecordsIn       = "kafkalambda.records.in"
	otelRecordsDone     = "kafkalambda.records.processed"
	otelRecordsFailed   = "kafkalambda.records.failed" // error.type: the failure class
	otelRecordsDead     = "kafkalambda.records.dead_lettered"
	otelOutputsSent     = "kafkalambda.outputs.sent"
	otelOutputsAcked    = "kafkalambda.outputs.acknowledged"
	otelRecordAge       = "kafkalambda.record.age"
	otelBatchSize       = "kafkalambda.invocation.batch_size"
	otelFlushWait       = "kafkalambda.invocation.flush_wait"
	otelDuration        = "kafkalambda.invocation.duration"
	otelColdStarts      = "kafkalambda.invocation.cold_starts"
	otelUnitRecords     = "{record}"
	otelUnitMessages    = "{message}"
	otelUnitInvocations = "{invocation}"
)

// OTelMetrics returns Metrics (for WithMetrics) that record the figures
// EMF writes as OpenTelemetry instruments of a meter of mp:
//
//	kafkalambda.records.in, .processed, .dead_lettered   counters, {record}
//	kafkalambda.records.failed                           counter, with error.type: the FailureClass
//	kafkalambda.outputs.sent, .acknowledged              counters, {message}
//	kafkalambda.record.age                               histogram, ms: the oldest record's age per partition
//
// each with messaging.system, messaging.destination.name and
// messaging.destination.partition.id, and per invocation
// kafkalambda.invocation.batch_size ({record}), .flush_wait and .duration
// (ms) histograms and the .cold_starts counter.
//
// When mp has a ForceFlush method (the SDK's MeterProvider does), the
// handler calls it after each invocation, before answering, bounded like
// WithTracing's flush: Lambda may freeze the function right after.
func OTelMetrics(mp metric.MeterProvider) (Metrics, error) {
	if isNil(mp) {
		return nil, fmt.Errorf("kafkalambda: %w: nil MeterProvider", ErrInvalidOption)
	}
	m := mp.Meter(instrumentationName, metric.WithInstrumentationVersion(instrumentationVersion))
	o := &otelMetrics{}
	o.flusher, _ = mp.(flusher)
	var errs [11]error
	o.in, errs[0] = m.Int64Counter(otelRecordsIn, metric.WithUnit(otelUnitRecords), metric.WithDescription("Records in the invocation's event."))
	o.done, errs[1] = m.Int64Counter(otelRecordsDone, metric.WithUnit(otelUnitRecords), metric.WithDescription("Records processed without failure."))
	o.failed, errs[2] = m.Int64Counter(otelRecordsFailed, metric.WithUnit(otelUnitRecords), metric.WithDescription("Records that failed, by failure class."))
	o.dead, errs[3] = m.Int64Counter(otelRecordsDead, metric.WithUnit(otelUnitRecords), metric.WithDescription("Records dead-lettered."))
	o.sent, errs[4] = m.Int64Counter(otelOutputsSent, metric.WithUnit(otelUnitMessages), metric.WithDescription("Output records queued."))
	o.acked, errs[5] = m.Int64Counter(otelOutputsAcked, metric.WithUnit(otelUnitMessages), metric.WithDescription("Output records the brokers acknowledged."))
	o.age, errs[6] = m.Float64Histogram(otelRecordAge, metric.WithUnit("ms"), metric.WithDescription("Age of a partition's oldest record when processed."))
	o.batch, errs[7] = m.Int64Histogram(otelBatchSize, metric.WithUnit(otelUnitRecords), metric.WithDescription("Records per invocation."))
	o.flush, errs[8] = m.Float64Histogram(otelFlushWait, metric.WithUnit("ms"), metric.WithDescription("Wait for the brokers' acknowledgements."))
	o.duration, errs[9] = m.Float64Histogram(otelDuration, metric.WithUnit("ms"), metric.WithDescription("Invocation duration."))
	o.cold, errs[10] = m.Int64Counter(otelColdStarts, metric.WithUnit(otelUnitInvocations), metric.WithDescription("Invocations that were the handler's first."))
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("kafkalambda: OTelMetrics: %w", err)
		}
	}
	return o, nil
}

type otelMetrics struct {
	flusher                                   flusher
	in, done, failed, dead, sent, acked, cold metric.Int64Counter
	batch                                     metric.Int64Histogram
	age, flush, duration                      metric.Float64Histogram
}

func (o *otelMetrics) publish(ctx context.Context, s *invocationStats) {
	for i := range s.Parts {
		p := &s.Parts[i]
		attrs := metric.WithAttributeSet(attribute.NewSet(kvSystemKafka, attrDestinationName.String(p.Topic),
			attrDestinationPartition.String(strconv.Itoa(int(p.Partition)))))
		o.in.Add(ctx, int64(p.In), attrs)
		o.done.Add(ctx, int64(p.Processed), attrs)
		for c, n := range p.Failed {
			if n > 0 {
				o.failed.Add(ctx, int64(n), metric.WithAttributeSet(attribute.NewSet(kvSystemKafka,
					attrDestinationName.String(p.Topic), attrDestinationPartition.String(strconv.Itoa(int(p.Partition))),
					attrErrorType.String(string(classOf[c])))))
			}
		}
		o.dead.Add(ctx, int64(p.Dead), attrs)
		o.sent.Add(ctx, int64(p.Sent), attrs)
		o.acked.Add(ctx, int64(p.Acked), attrs)
		if p.AgeMax > 0 {
			o.age.Record(ctx, millis(p.AgeMax), attrs)
		}
	}
	o.batch.Record(ctx, int64(s.BatchSize))
	o.flush.Record(ctx, millis(s.FlushWait))
	o.duration.Record(ctx, millis(s.Duration))
	if s.ColdStart {
		o.cold.Add(ctx, 1)
	}
	if o.flusher != nil {
		_ = o.flusher.ForceFlush(ctx)
	}
}

// classOf is classIndex reversed.
var classOf = [numClasses]FailureClass{ClassRecord, ClassEnvironment, ClassConfiguration}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
