package kafkalambda

import (
	"context"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// EMF publishes a handler's metrics (WithMetrics(&EMF{...})) in
// CloudWatch's Embedded Metric Format: JSON log lines that CloudWatch Logs
// turns into metrics, with no agent and no API call. A function's stdout
// goes to its log group, which is where Writer writes by default.
//
// Each invocation writes, in one Write, one line per topic-partition of
// its event — an EMF object can hold one value per dimension, so a
// partition's figures need an object of their own — with the dimensions
// Service, Topic and Partition (and the roll-up Service, Topic):
//
//	RecordsIn, RecordsProcessed, RecordsDeadLettered        Count
//	RecordsFailedRecord, RecordsFailedEnvironment,
//	RecordsFailedConfiguration                               Count (by FailureClass)
//	OutputsSent, OutputsAcknowledged                         Count
//	RecordAgeMax                                             Milliseconds
//
// RecordAgeMax is the age (processing time − record timestamp) of the
// partition's oldest record when it was processed: how far behind the
// function is, as a Kafka user watches consumer lag. A record whose failure is counted is not counted
// processed; records left for a retry (after a failure stopped their
// partition, or at the deadline) are neither. An output that was queued
// but not acknowledged counts in OutputsSent and not in
// OutputsAcknowledged.
//
// The first line also holds the invocation's figures, with the dimension
// Service only (so that they are counted once per invocation):
//
//	BatchSize, ColdStart (1 or 0)                            Count
//	FlushWait, Duration                                      Milliseconds
//
// An invocation whose event cannot be parsed writes that line alone. Every
// line has the property "trace_id" when the handler traces (WithTracing),
// so that a metric's log line leads to its trace. Every object stays
// within the specification's limits (at most 100 metrics and 30 dimensions
// per object).
//
// An EMF is safe for concurrent use by several invocations: their lines
// never interleave.
type EMF struct {
	// Namespace is the CloudWatch namespace of the metrics (default
	// "KafkaLambda").
	Namespace string
	// Service is the value of the Service dimension (default the
	// function's name, AWS_LAMBDA_FUNCTION_NAME, or "kafkalambda" outside
	// Lambda).
	Service string
	// Writer receives the lines (default os.Stdout).
	Writer io.Writer

	mu  sync.Mutex
	buf []byte
}

var _ Metrics = (*EMF)(nil)

// The metric names of EMF, in one place.
const (
	metricRecordsIn        = "RecordsIn"
	metricRecordsProcessed = "RecordsProcessed"
	metricRecordsDead      = "RecordsDeadLettered"
	metricOutputsSent      = "OutputsSent"
	metricOutputsAcked     = "OutputsAcknowledged"
	metricRecordAgeMax     = "RecordAgeMax"
	metricBatchSize        = "BatchSize"
	metricColdStart        = "ColdStart"
	metricFlushWait        = "FlushWait"
	metricDuration         = "Duration"
	metricFailedPrefix     = "RecordsFailed" // + Record, Environment, Configuration
	emfDefaultNamespace    = "KafkaLambda"
	emfDefaultService      = "kafkalambda"
	emfDimService          = "Service"
	emfDimTopic            = "Topic"
	emfDimPartition        = "Partition"
	emfPropTraceID         = "trace_id"
	emfUnitCount           = "Count"
	emfUnitMilliseconds    = "Milliseconds"
)

// failedMetric names the failure count of each class (classIndex order).
var failedMetric = [numClasses]string{
	metricFailedPrefix + "Record", metricFailedPrefix + "Environment", metricFailedPrefix + "Configuration",
}

func (m *EMF) publish(_ context.Context, s *invocationStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ns, svc := m.Namespace, m.Service
	if ns == "" {
		ns = emfDefaultNamespace
	}
	if svc == "" {
		svc = lambdacontext.FunctionName
		if svc == "" {
			svc = emfDefaultService
		}
	}
	b := m.buf[:0]
	if len(s.Parts) == 0 {
		b = appendEMF(b, ns, svc, s, true, nil)
	}
	for i := range s.Parts {
		b = appendEMF(b, ns, svc, s, i == 0, &s.Parts[i])
	}
	m.buf = b
	w := m.Writer
	if w == nil {
		w = os.Stdout
	}
	_, _ = w.Write(b) // a metrics line that cannot be written is not the invocation's failure
}

// appendEMF appends one EMF object of invocation s and a newline: p's
// figures when p is not nil, and the invocation's own when withInv.
func appendEMF(b []byte, ns, svc string, s *invocationStats, withInv bool, p *partitionStats) []byte {
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, s.Start.UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[`...)
	if p != nil {
		b = append(b, `{"Namespace":`...)
		b = appendString(b, ns)
		b = append(b, `,"Dimensions":[["Service","Topic","Partition"],["Service","Topic"]],"Metrics":[`...)
		names := [...]string{metricRecordsIn, metricRecordsProcessed, failedMetric[0], failedMetric[1], failedMetric[2],
			metricRecordsDead, metricOutputsSent, metricOutputsAcked}
		for _, n := range names {
			b = appendMetricDef(b, n, emfUnitCount)
			b = append(b, ',')
		}
		b = appendMetricDef(b, metricRecordAgeMax, emfUnitMilliseconds)
		b = append(b, "]}"...)
		if withInv {
			b = append(b, ',')
		}
	}
	if withInv {
		b = append(b, `{"Namespace":`...)
		b = appendString(b, ns)
		b = append(b, `,"Dimensions":[["Service"]],"Metrics":[`...)
		b = appendMetricDef(b, metricBatchSize, emfUnitCount)
		b = append(b, ',')
		b = appendMetricDef(b, metricColdStart, emfUnitCount)
		b = append(b, ',')
		b = appendMetricDef(b, metricFlushWait, emfUnitMilliseconds)
		b = append(b, ',')
		b = appendMetricDef(b, metricDuration, emfUnitMilliseconds)
		b = append(b, "]}"...)
	}
	b = append(b, `]},"Service":`...)
	b = appendString(b, svc)
	if s.TraceID != "" {
		b = append(b, `,"`+emfPropTraceID+`":`...)
		b = appendString(b, s.TraceID)
	}
	if p != nil {
		b = append(b, `,"Topic":`...)
		b = appendString(b, p.Topic)
		b = append(b, `,"Partition":"`...)
		b = strconv.AppendInt(b, int64(p.Partition), 10)
		b = append(b, '"')
		b = appendMetric(b, metricRecordsIn, int64(p.In))
		b = appendMetric(b, metricRecordsProcessed, int64(p.Processed))
		for i, n := range failedMetric {
			b = appendMetric(b, n, int64(p.Failed[i]))
		}
		b = appendMetric(b, metricRecordsDead, int64(p.Dead))
		b = appendMetric(b, metricOutputsSent, int64(p.Sent))
		b = appendMetric(b, metricOutputsAcked, int64(p.Acked))
		b = appendMillis(b, metricRecordAgeMax, p.AgeMax.Microseconds())
	}
	if withInv {
		b = appendMetric(b, metricBatchSize, int64(s.BatchSize))
		cold := int64(0)
		if s.ColdStart {
			cold = 1
		}
		b = appendMetric(b, metricColdStart, cold)
		b = appendMillis(b, metricFlushWait, s.FlushWait.Microseconds())
		b = appendMillis(b, metricDuration, s.Duration.Microseconds())
	}
	return append(b, "}\n"...)
}

func appendMetricDef(b []byte, name, unit string) []byte {
	b = append(b, `{"Name":"`...)
	b = append(b, name...)
	b = append(b, `","Unit":"`...)
	b = append(b, unit...)
	return append(b, `"}`...)
}

func appendMetric(b []byte, name string, v int64) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return strconv.AppendInt(b, v, 10)
}

// appendMillis appends a duration given in microseconds as milliseconds
// with three decimals.
func appendMillis(b []byte, name string, us int64) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return strconv.AppendFloat(b, float64(us)/1000, 'f', -1, 64)
}
