package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
)

// exitCheck is the exit status of -check when it found something.
const exitCheck = 4

// templateFlags are the flags that read the mapping from a SAM template.
type templateFlags struct {
	file, function, event string
	overrides             []string
	check                 bool
	margin, handlerTime   time.Duration
}

func (t *templateFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&t.file, "template", "", "SAM or CloudFormation template (YAML or JSON): run the Kafka event source mapping of -function as it says; flags given as well override it")
	fs.StringVar(&t.function, "function", "", "with -template, the function's logical id")
	fs.StringVar(&t.event, "event", "", "with -template, which Kafka event source when the function has several: the SAM event's name or the AWS::Lambda::EventSourceMapping's logical id")
	fs.Func("parameter-overrides", "with -template, parameter values as sam takes them: 'Key=Value Key2=Value2' or 'ParameterKey=Key,ParameterValue=Value ...' (values without spaces); repeatable", func(s string) error {
		t.overrides = append(t.overrides, strings.Fields(s)...)
		return nil
	})
	fs.BoolVar(&t.check, "check", false, "with -template, print what would not deploy or would behave differently on AWS and exit (status 4 when there is something, 0 when not); -item-failures, -deadline-margin and -handler-timeout describe the handler")
	fs.DurationVar(&t.margin, "deadline-margin", 500*time.Millisecond, "for -check: how long before the function's deadline the handler stops (kafkalambda's WithDeadlineMargin)")
	fs.DurationVar(&t.handlerTime, "handler-timeout", 0, "for -check: the longest the handler takes for a batch, its flush included (0: unknown)")
}

// parseOverrides reads sam's two forms of parameter overrides.
func parseOverrides(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, it := range items {
		if rest, ok := strings.CutPrefix(it, "ParameterKey="); ok {
			k, v, found := strings.Cut(rest, ",ParameterValue=")
			if !found || k == "" {
				return nil, fmt.Errorf("-parameter-overrides %q: want ParameterKey=K,ParameterValue=V", it)
			}
			out[k] = v
			continue
		}
		k, v, found := strings.Cut(it, "=")
		if !found || k == "" {
			return nil, fmt.Errorf("-parameter-overrides %q: want Key=Value", it)
		}
		out[k] = v
	}
	return out, nil
}

// fromTemplate is what -template read: the mapping, and the handler the
// check compares it with.
type fromTemplate struct {
	m       *samtemplate.Mapping
	handler samtemplate.Handler
	check   bool
}

// readTemplate reads -template and sets every flag the command line did
// not give from the mapping it describes. It returns nil without
// -template.
func (f *flags) readTemplate(fs *flag.FlagSet) (*fromTemplate, error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	t := &f.tmpl
	if t.file == "" {
		for _, name := range []string{"function", "event", "parameter-overrides", "check", "deadline-margin", "handler-timeout"} {
			if set[name] {
				return nil, fmt.Errorf("-%s needs -template", name)
			}
		}
		return nil, nil
	}
	if t.function == "" {
		return nil, errors.New("-template needs -function")
	}
	data, err := os.ReadFile(t.file)
	if err != nil {
		return nil, fmt.Errorf("-template: %w", err)
	}
	params, err := parseOverrides(t.overrides)
	if err != nil {
		return nil, err
	}
	tm, err := samtemplate.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("-template %s: %w", t.file, err)
	}
	m, err := tm.Mapping(t.function, samtemplate.WithParameters(params), samtemplate.WithEvent(t.event))
	if err != nil {
		return nil, fmt.Errorf("-template %s: %w", t.file, err)
	}
	ft := &fromTemplate{m: m, check: t.check, handler: samtemplate.Handler{DeadlineMargin: t.margin, Timeout: t.handlerTime}}
	if set["item-failures"] {
		ft.handler.ReportsItemFailures = &f.itemFailures
	}
	f.applyMapping(m, set)
	if t.check && f.brokers == "" {
		f.brokers = "localhost:9092" // an MSK mapping checked without -brokers: never dialled
	}
	return ft, nil
}

// applyMapping sets the flags the command line did not give from m.
func (f *flags) applyMapping(m *samtemplate.Mapping, set map[string]bool) {
	str := func(name string, dst *string, v string) {
		if !set[name] && v != "" {
			*dst = v
		}
	}
	num := func(name string, dst *int, v *int) {
		if !set[name] && v != nil {
			*dst = *v
		}
	}
	str("brokers", &f.brokers, strings.Join(m.BootstrapServers, ","))
	str("topics", &f.topics, strings.Join(m.Topics, ","))
	if !set["allow-multiple-topics"] && !set["topics"] {
		f.multiTopics = len(m.Topics) > 1 // runs as the template says; the check reports it
	}
	str("group", &f.group, m.ConsumerGroupID)
	str("starting-position", &f.startingPosition, m.StartingPosition)
	if !m.StartingPositionTimestamp.IsZero() {
		str("starting-timestamp", &f.startingTime, m.StartingPositionTimestamp.Format(time.RFC3339Nano))
	}
	if m.Type == samtemplate.MSK {
		str("event-source-arn", &f.eventSourceARN, m.ClusterARN)
	}
	if !set["provisioned"] {
		f.provisioned = m.Provisioned != nil
	}
	num("batch-size", &f.batchSize, m.BatchSize)
	if w := m.MaximumBatchingWindowInSeconds; w != nil && !set["window"] {
		f.window = time.Duration(*w) * time.Second
	}
	num("max-retries", &f.maxRetries, m.MaximumRetryAttempts)
	num("max-record-age", &f.maxAgeSeconds, m.MaximumRecordAgeInSeconds)
	if b := m.BisectBatchOnFunctionError; b != nil && !set["bisect"] {
		f.bisect = *b
	}
	if !set["item-failures"] {
		f.itemFailures = m.ReportBatchItemFailures()
	}
	if !set["filter"] {
		f.filters = slices.Clone(m.Filters)
	}
	if d := m.OnFailure; d != nil && !set["on-failure-topic"] && !set["on-failure-dir"] && d.Kind == samtemplate.DestinationKafka {
		f.onFailureTopic = d.Topic
	}
	if kind, ok := m.FolderKind(); ok && set["on-failure-dir"] && !set["on-failure-kind"] {
		f.onFailureKind = string(kind)
	}
	if r := m.SchemaRegistry; r != nil {
		if name, region, ok := r.GlueRegistry(); ok {
			if !set["schema-registry-url"] {
				str("schema-registry-glue", &f.registryGlue, name)
				str("aws-region", &f.awsRegion, region)
			}
		} else if !r.Glue() && !set["schema-registry-glue"] {
			str("schema-registry-url", &f.registryURL, r.URI)
		}
		str("schema-format", &f.registryFormat, r.EventRecordFormat)
		if !set["schema-key"] && !set["schema-value"] && (r.Key || r.Value) {
			f.registryKey, f.registryValue = r.Key, r.Value
		}
	}
}

// notes are what the local run does not honour: the template's notes,
// and an SQS, SNS or S3 destination without -on-failure-dir.
func (t *fromTemplate) notes(f *flags) []samtemplate.Finding {
	out := slices.Clone(t.m.Notes)
	if kind, ok := t.m.FolderKind(); ok && f.onFailureDir == "" {
		out = append(out, samtemplate.Finding{Path: t.m.Path + ".DestinationConfig.OnFailure", Message: fmt.Sprintf("an %s destination: give -on-failure-dir to keep what AWS would send it; without, given-up records are discarded", strings.ToUpper(string(kind)))})
	}
	return out
}

// findings are the template's check, and what the command line makes the
// mapping do that the template's would not (the mapping's warnings not
// already among them).
func (t *fromTemplate) findings(m *esm.Mapping) []samtemplate.Finding {
	out := t.m.Check(t.handler)
	for _, w := range m.Warnings() {
		if !slices.ContainsFunc(out, func(f samtemplate.Finding) bool { return f.Message == w }) {
			out = append(out, samtemplate.Finding{Path: "command line", Message: w})
		}
	}
	return out
}

// checking reports whether -check was given (with -template).
func (t *fromTemplate) checking() bool { return t != nil && t.check }

// report makes the mapping without running it, prints -check's findings
// to stdout and the notes to stderr, and returns the exit status. A
// mapping esm refuses (an error wrapping ErrInvalidOption: a value out of
// AWS's limits) is a finding too; any other error is a bad command line
// (status 2).
func (t *fromTemplate) report(f *flags, getenv func(string) string, stdout, stderr io.Writer) int {
	m, mErr := f.mapping(getenv, stdout, slog.New(slog.DiscardHandler))
	if mErr != nil && !errors.Is(mErr, esm.ErrInvalidOption) {
		fmt.Fprintln(stderr, "kafkalambda-esm:", mErr)
		return 2
	}
	for _, n := range t.notes(f) {
		fmt.Fprintln(stderr, "kafkalambda-esm: not honoured locally:", n)
	}
	var found []samtemplate.Finding
	if mErr != nil {
		found = append(t.m.Check(t.handler), samtemplate.Finding{Path: "command line", Message: mErr.Error()})
	} else {
		found = t.findings(m)
	}
	for _, x := range found {
		fmt.Fprintln(stdout, x)
	}
	if len(found) == 0 {
		fmt.Fprintf(stdout, "%s: nothing found that would not deploy or would behave differently on AWS\n", t.m.Path)
		return 0
	}
	fmt.Fprintf(stdout, "%s found: what would not deploy, or would behave differently, on AWS\n", plural(len(found), "problem"))
	return exitCheck
}

// log logs the notes and the template's own findings before a run (the
// mapping logs its warnings itself).
func (t *fromTemplate) log(f *flags, m *esm.Mapping, l *slog.Logger) {
	if t == nil {
		return
	}
	for _, n := range t.notes(f) {
		l.Warn("kafkalambda-esm: not honoured locally", "path", n.Path, "note", n.Message)
	}
	for _, x := range t.m.Check(t.handler) {
		if !slices.Contains(m.Warnings(), x.Message) {
			l.Warn("kafkalambda-esm: not as on AWS", "path", x.Path, "finding", x.Message)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
