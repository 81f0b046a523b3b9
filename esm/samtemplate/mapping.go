package samtemplate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SourceType is the kind of Kafka event source.
type SourceType string

// Source types, as SAM names its event types.
const (
	MSK              SourceType = "MSK"
	SelfManagedKafka SourceType = "SelfManagedKafka"
)

// DefaultFunctionTimeout is a function's Timeout when neither it nor the
// template's Globals set one (Lambda's default, 3 s).
const DefaultFunctionTimeout = 3 * time.Second

// Mapping is a function's Kafka event source mapping as the template
// describes it, its intrinsic functions resolved where they can be. A
// property the template does not set is the zero value (nil for the
// pointers); what the template sets but cannot be resolved or honoured is
// left unset too and explained in Notes.
type Mapping struct {
	// Function is the function's logical id.
	Function string
	// Path is where the mapping is in the template: the SAM event's
	// Properties or the AWS::Lambda::EventSourceMapping's.
	Path string
	// Type is MSK or SelfManagedKafka.
	Type SourceType
	// ClusterARN is the MSK cluster (the SAM event's Stream, the
	// resource's EventSourceArn).
	ClusterARN string
	// BootstrapServers are a self-managed cluster's KafkaBootstrapServers.
	BootstrapServers []string
	// Topics, which AWS wants exactly one of.
	Topics []string
	// BatchSize, MaximumBatchingWindowInSeconds, MaximumRetryAttempts and
	// MaximumRecordAgeInSeconds are as in the template.
	BatchSize                      *int
	MaximumBatchingWindowInSeconds *int
	MaximumRetryAttempts           *int
	MaximumRecordAgeInSeconds      *int
	BisectBatchOnFunctionError     *bool
	// StartingPosition is TRIM_HORIZON, LATEST or AT_TIMESTAMP ("" when
	// the template has none); StartingPositionTimestamp is the
	// AT_TIMESTAMP time.
	StartingPosition          string
	StartingPositionTimestamp time.Time
	// ConsumerGroupID is the AmazonManagedKafkaEventSourceConfig's or
	// SelfManagedKafkaEventSourceConfig's ConsumerGroupId.
	ConsumerGroupID string
	// Filters are FilterCriteria's patterns.
	Filters []string
	// FunctionResponseTypes, e.g. [ReportBatchItemFailures].
	FunctionResponseTypes []string
	// OnFailure is DestinationConfig.OnFailure, nil without one.
	OnFailure *Destination
	// Provisioned is ProvisionedPollerConfig, nil without one (on-demand
	// mode).
	Provisioned *ProvisionedPollerConfig
	// SchemaRegistry is the SchemaRegistryConfig, nil without one.
	SchemaRegistry *SchemaRegistryConfig
	// SourceAccess is SourceAccessConfigurations: how AWS authenticates
	// (secrets) and which VPC it reaches the brokers from.
	SourceAccess []AccessConfig
	// Enabled is false when the template disables the mapping.
	Enabled *bool
	// FunctionTimeout is the function's Timeout, the Globals' or
	// DefaultFunctionTimeout; zero when the Timeout that applies is an
	// intrinsic that could not be resolved (then noted at its path, and
	// Check does not check the handler's timing against it).
	FunctionTimeout time.Duration
	// Notes are what the template sets that the mapping cannot honour
	// locally: values it cannot resolve, secrets it does not read,
	// properties it does not model. Each names its path.
	Notes []Finding

	functionTimeoutPath string
	sam                 bool            // a SAM event, not an AWS::Lambda::EventSourceMapping
	unresolved          map[string]bool // properties present but unresolved
}

// timeoutKey marks, in Mapping.unresolved, a function Timeout present but
// unresolved. It is no property of the mapping, hence the space.
const timeoutKey = "function Timeout"

// ReportBatchItemFailures reports whether FunctionResponseTypes holds
// ReportBatchItemFailures.
func (m *Mapping) ReportBatchItemFailures() bool {
	return slices.Contains(m.FunctionResponseTypes, "ReportBatchItemFailures")
}

// DestinationKind is what an on-failure destination is.
type DestinationKind string

// Destination kinds.
const (
	DestinationKafka DestinationKind = "kafka"
	DestinationSQS   DestinationKind = "sqs"
	DestinationSNS   DestinationKind = "sns"
	DestinationS3    DestinationKind = "s3"
)

// Destination is an on-failure destination.
type Destination struct {
	// Kind is known from the ARN, the "kafka://" prefix, SAM's Type, or
	// the type of the resource a Ref or Fn::GetAtt names.
	Kind DestinationKind
	// ARN is the destination as written ("kafka://topic" for a Kafka
	// topic); empty when it names a resource that exists only once
	// deployed.
	ARN string
	// Topic is a Kafka destination's topic.
	Topic string
}

// ProvisionedPollerConfig is the mapping's provisioned mode.
type ProvisionedPollerConfig struct {
	MinimumPollers, MaximumPollers int
}

// SchemaRegistryConfig is the mapping's schema registry integration.
type SchemaRegistryConfig struct {
	// URI is the registry: a Confluent registry's URL or a Glue
	// registry's ARN.
	URI string
	// EventRecordFormat is SOURCE or JSON.
	EventRecordFormat string
	// Key and Value say which SchemaValidationConfigs attributes are set.
	Key, Value bool
	// AccessConfigs say how AWS authenticates to the registry.
	AccessConfigs []AccessConfig
}

// Glue reports whether the registry is an AWS Glue registry (an ARN).
func (c *SchemaRegistryConfig) Glue() bool { return strings.HasPrefix(c.URI, "arn:") }

// GlueRegistry returns the name and region of the AWS Glue registry the
// URI names (arn:<partition>:glue:<region>:<account>:registry/<name>), and
// false when it is not such an ARN.
func (c *SchemaRegistryConfig) GlueRegistry() (name, region string, ok bool) {
	parts := strings.SplitN(c.URI, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "glue" || parts[3] == "" {
		return "", "", false
	}
	name, found := strings.CutPrefix(parts[5], "registry/")
	if !found || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return name, parts[3], true
}

// AccessConfig is one of SourceAccessConfigurations, or of a schema
// registry's AccessConfigs.
type AccessConfig struct {
	Type, URI string
}

// Finding is something a template says that a local run does not honour,
// or that would not deploy, or would behave differently, on AWS.
type Finding struct {
	// Path is where in the template, e.g.
	// "Resources.Fn.Properties.Events.Orders.Properties.BatchSize".
	Path string
	// Message says what and why.
	Message string
}

func (f Finding) String() string { return f.Path + ": " + f.Message }

// known reports whether a mapping's property is read; anything else is
// noted as not used.
func known(property string) bool {
	switch property {
	case "BatchSize", "BisectBatchOnFunctionError", "ConsumerGroupId", "DestinationConfig", "Enabled",
		"EventSourceArn", "FilterCriteria", "FunctionName", "FunctionResponseTypes", "KafkaBootstrapServers",
		"MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts",
		"ProvisionedPollerConfig", "SchemaRegistryConfig", "SelfManagedEventSource", "SourceAccessConfigurations",
		"StartingPosition", "StartingPositionTimestamp", "Stream", "Topics",
		"AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig":
		return true
	}
	return false
}

// reader reads one source's properties.
type reader struct {
	r   *resolver
	src *source
	m   *Mapping
	err error
}

func read(r *resolver, src *source) (*Mapping, error) {
	m := &Mapping{Path: src.path, Type: src.typ, sam: src.sam, unresolved: map[string]bool{}}
	rd := &reader{r: r, src: src, m: m}
	cfgKey := "AmazonManagedKafkaEventSourceConfig"
	if src.typ == SelfManagedKafka {
		cfgKey = "SelfManagedKafkaEventSourceConfig"
	}
	if src.sam {
		m.ClusterARN = rd.str("Stream")
		m.BootstrapServers = rd.strings("KafkaBootstrapServers")
		m.ConsumerGroupID = rd.str("ConsumerGroupId")
		rd.schemaRegistry("SchemaRegistryConfig")
	} else {
		m.ClusterARN = rd.str("EventSourceArn")
		m.BootstrapServers = rd.strings("SelfManagedEventSource.Endpoints.KafkaBootstrapServers")
		m.ConsumerGroupID = rd.str(cfgKey + ".ConsumerGroupId")
		rd.schemaRegistry(cfgKey + ".SchemaRegistryConfig")
	}
	m.Topics = rd.strings("Topics")
	m.BatchSize = rd.int("BatchSize")
	m.MaximumBatchingWindowInSeconds = rd.int("MaximumBatchingWindowInSeconds")
	m.MaximumRetryAttempts = rd.int("MaximumRetryAttempts")
	m.MaximumRecordAgeInSeconds = rd.int("MaximumRecordAgeInSeconds")
	m.BisectBatchOnFunctionError = rd.bool("BisectBatchOnFunctionError")
	m.Enabled = rd.bool("Enabled")
	m.StartingPosition = strings.ToUpper(rd.str("StartingPosition"))
	if v, ok := rd.get("StartingPositionTimestamp"); ok {
		s, _ := scalarString(v)
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs < 0 || secs > math.MaxInt32*4 {
			rd.bad("StartingPositionTimestamp", "%q is not a time in seconds since 1970", s)
		} else {
			whole, frac := math.Modf(secs)
			m.StartingPositionTimestamp = time.Unix(int64(whole), int64(frac*1e9)).UTC()
		}
	}
	m.FunctionResponseTypes = rd.strings("FunctionResponseTypes")
	for i, f := range rd.list("FilterCriteria.Filters") {
		p, ok := asMap(f)["Pattern"]
		if !ok {
			continue
		}
		if s, isStr := p.(string); isStr {
			m.Filters = append(m.Filters, s)
			continue
		}
		rd.bad(fmt.Sprintf("FilterCriteria.Filters[%d].Pattern", i), "is a %s, not a JSON string", kindName(p))
	}
	rd.destination()
	if v, ok := rd.get("ProvisionedPollerConfig"); ok {
		pc := asMap(v)
		m.Provisioned = &ProvisionedPollerConfig{}
		m.Provisioned.MinimumPollers, _ = toInt(pc["MinimumPollers"])
		m.Provisioned.MaximumPollers, _ = toInt(pc["MaximumPollers"])
		rd.note("ProvisionedPollerConfig", "sets provisioned mode; the number of pollers is not modelled (the local mapping's concurrency is its own setting)")
	}
	for i, a := range rd.accessList("SourceAccessConfigurations", asList(src.props["SourceAccessConfigurations"])) {
		ac := a
		m.SourceAccess = append(m.SourceAccess, ac)
		rd.note(fmt.Sprintf("SourceAccessConfigurations[%d]", i), "%s", accessNote(ac))
	}
	if m.Type == MSK && len(m.SourceAccess) == 0 && !m.unresolved["SourceAccessConfigurations"] {
		rd.note("SourceAccessConfigurations", "none: AWS reaches the MSK cluster with IAM; the local mapping's Kafka client needs its own settings (MSK IAM, or none against a local broker)")
	}
	if m.Enabled != nil && !*m.Enabled {
		rd.note("Enabled", "is false: AWS does not poll this mapping; the local one runs all the same")
	}
	for _, k := range sortedKeys(src.props) {
		if !known(k) {
			rd.note(k, "is not used locally")
		}
	}
	if rd.err != nil {
		return nil, rd.err
	}
	return m, nil
}

// get resolves the property at a dotted path; ok is false when it is
// absent or unresolved (then noted).
func (rd *reader) get(path string) (any, bool) {
	var v any = rd.src.props
	for _, k := range strings.Split(path, ".") {
		mm, isMap := v.(map[string]any)
		if !isMap {
			// A parent that is an intrinsic: resolve it first.
			rv, ok := rd.r.value(v, rd.src.path+"."+path)
			if !ok {
				rd.m.unresolved[path] = true
				return nil, false
			}
			if mm, isMap = rv.(map[string]any); !isMap {
				return nil, false
			}
		}
		x, has := mm[k]
		if !has {
			return nil, false
		}
		v = x
	}
	rv, ok := rd.r.value(v, rd.src.path+"."+path)
	if !ok {
		rd.m.unresolved[path] = true
		return nil, false
	}
	if isNoValue(rv) {
		return nil, false
	}
	return rv, true
}

func (rd *reader) bad(path, format string, args ...any) {
	if rd.err == nil {
		rd.err = fmt.Errorf("%w: %s.%s %s", ErrTemplate, rd.src.path, path, fmt.Sprintf(format, args...))
	}
}

func (rd *reader) note(path, format string, args ...any) {
	rd.m.Notes = append(rd.m.Notes, Finding{Path: rd.src.path + "." + path, Message: fmt.Sprintf(format, args...)})
}

func (rd *reader) str(path string) string {
	v, ok := rd.get(path)
	if !ok {
		return ""
	}
	s, isStr := scalarString(v)
	if !isStr {
		rd.bad(path, "is a %s, not a string", kindName(v))
	}
	return s
}

func (rd *reader) strings(path string) []string {
	var out []string
	for i, v := range rd.list(path) {
		s, ok := scalarString(v)
		if !ok {
			rd.bad(fmt.Sprintf("%s[%d]", path, i), "is a %s, not a string", kindName(v))
			continue
		}
		out = append(out, s)
	}
	return out
}

func (rd *reader) list(path string) []any {
	v, ok := rd.get(path)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		rd.bad(path, "is a %s, not a list", kindName(v))
	}
	return l
}

func (rd *reader) int(path string) *int {
	v, ok := rd.get(path)
	if !ok {
		return nil
	}
	n, isInt := toInt(v)
	if !isInt {
		rd.bad(path, "is %v, not a whole number", v)
		return nil
	}
	return &n
}

func (rd *reader) bool(path string) *bool {
	v, ok := rd.get(path)
	if !ok {
		return nil
	}
	s, _ := scalarString(v)
	b, err := strconv.ParseBool(s)
	if err != nil {
		rd.bad(path, "is %v, not true or false", v)
		return nil
	}
	return &b
}

func toInt(v any) (int, bool) {
	switch t := v.(type) {
	case int:
		return t, true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int(t), true
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(t))
		return n, err == nil
	}
	return 0, false
}

func (rd *reader) destination() {
	const path = "DestinationConfig.OnFailure.Destination"
	raw, has := asMap(asMap(rd.src.props["DestinationConfig"])["OnFailure"])["Destination"]
	if !has {
		return
	}
	d := &Destination{}
	if rd.src.sam {
		if t, ok := asMap(asMap(rd.src.props["DestinationConfig"])["OnFailure"])["Type"].(string); ok {
			d.Kind = DestinationKind(strings.ToLower(t))
		}
	}
	// A destination that names a resource is known by that resource's type.
	if fn, arg, ok := single(asMap(raw)); ok && (fn == "Ref" || fn == "Fn::GetAtt") {
		id, _ := arg.(string)
		if a, isList := arg.([]any); isList && len(a) > 0 {
			id, _ = a[0].(string)
		}
		if k := kindOfResource(rd.r, id); k != "" {
			d.Kind = k
			rd.m.OnFailure = d
			return
		}
	}
	v, ok := rd.get(path)
	if !ok {
		if d.Kind != "" {
			rd.m.OnFailure = d
		}
		return
	}
	arn, _ := scalarString(v)
	d.ARN = arn
	switch {
	case strings.HasPrefix(arn, "kafka://"):
		d.Kind, d.Topic = DestinationKafka, strings.TrimPrefix(arn, "kafka://")
	case strings.HasPrefix(arn, "arn:") && strings.Count(arn, ":") >= 5:
		switch strings.Split(arn, ":")[2] {
		case "sqs":
			d.Kind = DestinationSQS
		case "sns":
			d.Kind = DestinationSNS
		case "s3":
			d.Kind = DestinationS3
		}
	}
	if d.Kind == "" {
		rd.note(path, "%q is not a Kafka topic (kafka://...), SQS queue, SNS topic or S3 bucket ARN; it is not used", arn)
		return
	}
	rd.m.OnFailure = d
}

// kindOfResource is the destination kind of the template's resource id,
// or "".
func kindOfResource(r *resolver, id string) DestinationKind {
	switch typ, _ := asMap(r.resources[id])["Type"].(string); typ {
	case "AWS::SQS::Queue":
		return DestinationSQS
	case "AWS::SNS::Topic":
		return DestinationSNS
	case "AWS::S3::Bucket":
		return DestinationS3
	}
	return ""
}

// accessList reads access configurations one by one: a URI (a secret's
// ARN, never read here) that cannot be resolved leaves it empty, unnoted.
func (rd *reader) accessList(path string, items []any) []AccessConfig {
	var out []AccessConfig
	for i, it := range items {
		m := asMap(it)
		p := fmt.Sprintf("%s.%s[%d]", rd.src.path, path, i)
		t, err := rd.r.strictString(m["Type"], p+".Type")
		if err != nil {
			rd.note(fmt.Sprintf("%s[%d].Type", path, i), "%v", err)
		}
		u, _ := rd.r.strictString(m["URI"], p+".URI")
		out = append(out, AccessConfig{Type: t, URI: u})
	}
	return out
}

func accessNote(ac AccessConfig) string {
	switch ac.Type {
	case "VPC_SUBNET", "VPC_SECURITY_GROUP":
		return ac.Type + ": the local mapping reaches the brokers from this machine's network"
	case "BASIC_AUTH", "SASL_SCRAM_256_AUTH", "SASL_SCRAM_512_AUTH":
		return ac.Type + ": the secret is not read; give the mapping's Kafka client its SASL credentials"
	case "CLIENT_CERTIFICATE_TLS_AUTH":
		return ac.Type + ": the secret is not read; give the mapping's Kafka client its certificate and key (mTLS)"
	case "SERVER_ROOT_CA_CERTIFICATE":
		return ac.Type + ": the secret is not read; give the mapping's Kafka client the CA to trust"
	}
	return ac.Type + ": not used locally"
}

// schemaRegistry reads a SchemaRegistryConfig.
func (rd *reader) schemaRegistry(path string) {
	v, ok := rd.get(path)
	if !ok {
		return
	}
	c := asMap(v)
	sr := &SchemaRegistryConfig{}
	sr.URI, _ = scalarString(c["SchemaRegistryURI"])
	f, _ := scalarString(c["EventRecordFormat"])
	sr.EventRecordFormat = strings.ToUpper(f)
	for _, x := range asList(c["SchemaValidationConfigs"]) {
		switch a, _ := scalarString(asMap(x)["Attribute"]); strings.ToUpper(a) {
		case "KEY":
			sr.Key = true
		case "VALUE":
			sr.Value = true
		}
	}
	for i, a := range rd.accessList(path+".AccessConfigs", asList(c["AccessConfigs"])) {
		ac := a
		sr.AccessConfigs = append(sr.AccessConfigs, ac)
		rd.note(fmt.Sprintf("%s.AccessConfigs[%d]", path, i), "%s: the secret is not read; give the registry credentials to the local mapping", ac.Type)
	}
	if _, _, ok := sr.GlueRegistry(); sr.Glue() && !ok {
		rd.note(path+".SchemaRegistryURI", "is an ARN but not an AWS Glue registry's (arn:aws:glue:<region>:<account>:registry/<name>)")
	}
	rd.m.SchemaRegistry = sr
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// timeout is the function's Timeout, the Globals' or the default, and
// where it was found; ok is false when the one that applies is present but
// unresolved (noted): the function's Timeout overrides the Globals', so
// falling back to them, or to the default, would be a guess.
func (t *Template) timeout(r *resolver, id string, fn map[string]any) (d time.Duration, path string, ok bool) {
	candidates := []struct {
		v    any
		path string
	}{{asMap(fn["Properties"])["Timeout"], "Resources." + id + ".Properties.Timeout"}}
	if typ, _ := fn["Type"].(string); typ == "AWS::Serverless::Function" {
		candidates = append(candidates, struct {
			v    any
			path string
		}{asMap(asMap(t.doc["Globals"])["Function"])["Timeout"], "Globals.Function.Timeout"})
	}
	for _, c := range candidates {
		if c.v == nil {
			continue
		}
		v, resolved := r.value(c.v, c.path)
		if !resolved {
			return 0, c.path, false
		}
		n, isInt := toInt(v)
		if !isInt || n <= 0 {
			r.note(c.path, "%v is not a whole number of seconds", v)
			continue
		}
		return time.Duration(n) * time.Second, c.path, true
	}
	return DefaultFunctionTimeout, "Resources." + id, true
}
