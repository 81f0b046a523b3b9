package samtemplate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
)

// MaxFunctionTimeout is the largest Timeout Lambda takes (900 s).
const MaxFunctionTimeout = 900 * time.Second

// Handler is what the template cannot say about the function: how its
// handler answers and how long it takes. A zero field is unknown and not
// checked.
type Handler struct {
	// ReportsItemFailures says whether the handler answers with
	// batchItemFailures (kafkalambda's ReportItemFailures or DeadLetter
	// policies with a mapping that reads them) rather than failing the
	// whole batch (FailBatch). nil: unknown.
	ReportsItemFailures *bool
	// DeadlineMargin is how long before the function's deadline the
	// handler stops processing and flushing (kafkalambda's
	// WithDeadlineMargin; its default is 500 ms).
	DeadlineMargin time.Duration
	// Timeout is the longest the handler needs for one batch, its flush
	// included.
	Timeout time.Duration
}

// Check returns what would not deploy, or would behave differently, on
// AWS, each at its path in the template, in a fixed order:
//
//   - a handler that reports batch item failures under a mapping without
//     ReportBatchItemFailures (AWS ignores the response: every record of
//     the batch counts as processed), or the reverse (the template reads
//     a response the handler never sends, and the local run is told
//     otherwise);
//   - the handler's DeadlineMargin plus its Timeout not within the
//     function's Timeout (not checked when that Timeout is unresolved:
//     neither the Globals' nor the default stands in for it), and a
//     Timeout over 900 s;
//   - no topic, or more than one (AWS takes one per mapping);
//   - BatchSize, MaximumBatchingWindowInSeconds, MaximumRetryAttempts or
//     MaximumRecordAgeInSeconds out of AWS's limits, or a ConsumerGroupId
//     AWS refuses;
//   - StartingPosition missing (required for MSK and self-managed Kafka)
//     or unknown, and AT_TIMESTAMP without StartingPositionTimestamp;
//   - a self-managed mapping without KafkaBootstrapServers, and a SAM
//     SelfManagedKafka event without SourceAccessConfigurations (SAM
//     refuses it);
//   - a Kafka on-failure topic that is the source topic;
//   - what needs provisioned mode without a ProvisionedPollerConfig: the
//     error handling controls, a Kafka on-failure topic and the schema
//     registry (as package esm reports in Mapping.Warnings). An SQS, SNS
//     or S3 on-failure destination is not among them: Kafka mappings had
//     those before provisioned mode existed.
//
// Values that could not be resolved are not checked; Notes say why.
func (m *Mapping) Check(h Handler) []Finding {
	var out []Finding
	add := func(prop, format string, args ...any) {
		path := m.Path
		if prop != "" {
			path += "." + prop
		}
		out = append(out, Finding{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	frt := "FunctionResponseTypes"
	if h.ReportsItemFailures != nil && !m.unresolved[frt] {
		switch reports, reads := *h.ReportsItemFailures, m.ReportBatchItemFailures(); {
		case reports && !reads:
			add(frt, "lacks ReportBatchItemFailures but the handler reports batch item failures: AWS ignores its response, and the records it reports failed count as processed")
		case reads && !reports:
			add(frt, "has ReportBatchItemFailures but the handler does not report batch item failures: the local run is told otherwise than AWS's")
		}
	}
	tpath := m.functionTimeoutPath
	if m.FunctionTimeout > MaxFunctionTimeout {
		out = append(out, Finding{Path: tpath, Message: fmt.Sprintf("%v is over Lambda's limit of %v", m.FunctionTimeout, MaxFunctionTimeout)})
	}
	if need := h.DeadlineMargin + h.Timeout; need > 0 && need >= m.FunctionTimeout && !m.unresolved[timeoutKey] {
		out = append(out, Finding{Path: tpath, Message: fmt.Sprintf("the function's timeout %v leaves no time: the handler's deadline margin %v plus its %v per batch is %v; the function would time out on AWS before it answers", m.FunctionTimeout, h.DeadlineMargin, h.Timeout, need)})
	}
	if !m.unresolved["Topics"] {
		switch n := len(m.Topics); {
		case n == 0:
			add("Topics", "no topic: AWS needs exactly one")
		case n > 1:
			add("Topics", "%d topics %v: AWS takes one per mapping", n, m.Topics)
		}
	}
	if b := m.BatchSize; b != nil && (*b < 1 || *b > esm.MaxBatchSize) {
		add("BatchSize", "%d not in [1, %d]", *b, esm.MaxBatchSize)
	}
	if w := m.MaximumBatchingWindowInSeconds; w != nil && (*w < 0 || *w > int(esm.MaxBatchingWindow/time.Second)) {
		add("MaximumBatchingWindowInSeconds", "%d not in [0, %d]", *w, int(esm.MaxBatchingWindow/time.Second))
	}
	if r := m.MaximumRetryAttempts; r != nil && (*r < -1 || *r > esm.MaxRetryAttemptsLimit) {
		add("MaximumRetryAttempts", "%d not -1 or in [0, %d]", *r, esm.MaxRetryAttemptsLimit)
	}
	if a := m.MaximumRecordAgeInSeconds; a != nil && *a != -1 && (*a < int(esm.MinRecordAge/time.Second) || *a > int(esm.MaxRecordAge/time.Second)) {
		add("MaximumRecordAgeInSeconds", "%d not -1 or in [%d, %d]", *a, int(esm.MinRecordAge/time.Second), int(esm.MaxRecordAge/time.Second))
	}
	switch m.StartingPosition {
	case "":
		if !m.unresolved["StartingPosition"] {
			add("StartingPosition", "missing: AWS requires one for MSK and self-managed Kafka (the local mapping starts at TRIM_HORIZON)")
		}
	case string(esm.TrimHorizon), string(esm.Latest):
	case string(esm.AtTimestamp):
		if m.StartingPositionTimestamp.IsZero() && !m.unresolved["StartingPositionTimestamp"] {
			add("StartingPositionTimestamp", "missing: AT_TIMESTAMP needs it")
		}
	default:
		add("StartingPosition", "%q is not TRIM_HORIZON, LATEST or AT_TIMESTAMP", m.StartingPosition)
	}
	if m.Type == SelfManagedKafka {
		bs := "SelfManagedEventSource.Endpoints.KafkaBootstrapServers"
		sam := m.sam
		if sam {
			bs = "KafkaBootstrapServers"
		}
		if len(m.BootstrapServers) == 0 && !m.unresolved[bs] {
			add(bs, "missing: a self-managed Kafka mapping needs its bootstrap servers")
		}
		if sam && len(m.SourceAccess) == 0 && !m.unresolved["SourceAccessConfigurations"] {
			add("SourceAccessConfigurations", "missing: SAM refuses a SelfManagedKafka event without one")
		}
	}
	if g := m.ConsumerGroupID; g != "" && !validGroup(g) {
		add("ConsumerGroupId", "%q: AWS takes 1 to 200 characters of [a-zA-Z0-9-/*:_+=.@]", g)
	}
	if d := m.OnFailure; d != nil && d.Kind == DestinationKafka && slices.Contains(m.Topics, d.Topic) {
		add("DestinationConfig.OnFailure.Destination", "the on-failure topic %q is the source topic: AWS refuses it", d.Topic)
	}
	out = append(out, m.esmWarnings()...)
	return out
}

// esmWarnings are package esm's warnings for the mapping: what needs
// provisioned mode without it. What esm refuses that Check reports itself
// (limits, the group, the topics) is taken out first; anything else esm
// refuses (a filter that does not compile, a schema registry format it
// does not support) is a finding.
func (m *Mapping) esmWarnings() []Finding {
	c := *m
	c.Topics = []string{"topic"}
	if len(m.Topics) > 0 {
		c.Topics = m.Topics[:1]
	}
	if len(c.BootstrapServers) == 0 {
		c.BootstrapServers = []string{"localhost:9092"} // an MSK mapping's come from elsewhere
	}
	if !validGroup(c.ConsumerGroupID) {
		c.ConsumerGroupID = ""
	}
	if b := c.BatchSize; b != nil && (*b < 1 || *b > esm.MaxBatchSize) {
		c.BatchSize = nil
	}
	if w := c.MaximumBatchingWindowInSeconds; w != nil && (*w < 0 || *w > int(esm.MaxBatchingWindow/time.Second)) {
		c.MaximumBatchingWindowInSeconds = nil
	}
	if r := c.MaximumRetryAttempts; r != nil && (*r < -1 || *r > esm.MaxRetryAttemptsLimit) {
		c.MaximumRetryAttempts = nil
	}
	if a := c.MaximumRecordAgeInSeconds; a != nil && *a != -1 && (*a < int(esm.MinRecordAge/time.Second) || *a > int(esm.MaxRecordAge/time.Second)) {
		c.MaximumRecordAgeInSeconds = nil
	}
	switch esm.StartingPosition(c.StartingPosition) {
	case esm.TrimHorizon, esm.Latest:
	case esm.AtTimestamp:
		if c.StartingPositionTimestamp.IsZero() {
			c.StartingPosition = ""
		}
	default:
		c.StartingPosition = ""
	}
	if d := c.OnFailure; d != nil && d.Kind == DestinationKafka && slices.Contains(m.Topics, d.Topic) {
		c.OnFailure = nil
	}
	mp, err := esm.New(c.Config(), noTarget{}, c.Options()...)
	if err != nil {
		return []Finding{{Path: m.Path, Message: err.Error()}}
	}
	var out []Finding
	for _, w := range mp.Warnings() {
		out = append(out, Finding{Path: m.Path, Message: w})
	}
	return out
}

// validGroup reports whether g is a ConsumerGroupId AWS takes: 1 to 200
// characters of [a-zA-Z0-9-/*:_+=.@].
func validGroup(g string) bool {
	if g == "" || len(g) > 200 {
		return false
	}
	for _, c := range g {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-/*:_+=.@", c)
		if !ok {
			return false
		}
	}
	return true
}

// noTarget lets esm.New validate a mapping that is never run.
type noTarget struct{}

func (noTarget) Invoke(context.Context, []byte) (esm.Result, error) { return esm.Result{}, nil }
