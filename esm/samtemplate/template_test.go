package samtemplate_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
)

// Every property of a SAM MSK event, its intrinsics resolved from the
// parameters' defaults and the Conditions and Mappings.
func TestReadSAMEvent(t *testing.T) {
	t.Parallel()
	m := mappingOf(t, "full.yaml")
	check := map[string]bool{
		"Type":                      m.Type == samtemplate.MSK,
		"Path":                      m.Path == "Resources.Fn.Properties.Events.FromKafka.Properties",
		"ClusterARN":                m.ClusterARN == "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abc-1",
		"Topics":                    slices.Equal(m.Topics, []string{"orders"}),
		"BatchSize":                 m.BatchSize != nil && *m.BatchSize == 250,
		"Window (FindInMap)":        m.MaximumBatchingWindowInSeconds != nil && *m.MaximumBatchingWindowInSeconds == 1,
		"StartingPosition":          m.StartingPosition == "AT_TIMESTAMP" && m.StartingPositionTimestamp.Equal(time.Unix(1700000000, 5e8)),
		"ConsumerGroupID (Sub)":     m.ConsumerGroupID == "orders-dev",
		"Filters":                   slices.Equal(m.Filters, []string{`{"value": {"kind": ["order"]}}`}),
		"OnFailure":                 m.OnFailure != nil && *m.OnFailure == samtemplate.Destination{Kind: samtemplate.DestinationKafka, ARN: "kafka://orders-failed", Topic: "orders-failed"},
		"ReportBatchItemFailures":   m.ReportBatchItemFailures(),
		"MaximumRetryAttempts (If)": m.MaximumRetryAttempts != nil && *m.MaximumRetryAttempts == 3,
		"MaximumRecordAgeInSeconds": m.MaximumRecordAgeInSeconds != nil && *m.MaximumRecordAgeInSeconds == 3600,
		"Bisect":                    m.BisectBatchOnFunctionError != nil && *m.BisectBatchOnFunctionError,
		"Provisioned":               m.Provisioned != nil && *m.Provisioned == samtemplate.ProvisionedPollerConfig{MinimumPollers: 1, MaximumPollers: 2},
		"SchemaRegistry": m.SchemaRegistry != nil && m.SchemaRegistry.URI == "https://registry.example.com" &&
			m.SchemaRegistry.EventRecordFormat == "SOURCE" && m.SchemaRegistry.Key && m.SchemaRegistry.Value && !m.SchemaRegistry.Glue(),
		"SourceAccess":    len(m.SourceAccess) == 1 && m.SourceAccess[0] == samtemplate.AccessConfig{Type: "SASL_SCRAM_512_AUTH"},
		"FunctionTimeout": m.FunctionTimeout == 20*time.Second,
	}
	for name, ok := range check {
		if !ok {
			t.Errorf("%s wrong: %+v", name, m)
		}
	}
	// What cannot be honoured is noted where it is; the Api event is not
	// a Kafka one and is not read.
	notes := strings.Join(findings(m.Notes), "\n")
	for _, want := range []string{
		"FromKafka.Properties.KmsKeyArn: is not used locally",
		"FromKafka.Properties.SourceAccessConfigurations[0]: SASL_SCRAM_512_AUTH: the secret is not read",
		"FromKafka.Properties.SchemaRegistryConfig.AccessConfigs[0]: BASIC_AUTH: the secret is not read",
		"FromKafka.Properties.ProvisionedPollerConfig: sets provisioned mode; the number of pollers is not modelled",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if got := m.Check(samtemplate.Handler{}); len(got) != 0 {
		t.Errorf("findings %v", got)
	}

	// An override changes what the parameter and the condition give.
	m = mappingOf(t, "full.yaml", samtemplate.WithParameters(map[string]string{"Stage": "prod", "Size": "10"}))
	if *m.MaximumRetryAttempts != 100 || *m.MaximumBatchingWindowInSeconds != 5 || *m.BatchSize != 10 || m.ConsumerGroupID != "orders-prod" {
		t.Errorf("with overrides: %+v", m)
	}
}

func findings(fs []samtemplate.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

// A CloudFormation JSON template: an AWS::Lambda::EventSourceMapping names
// the function by its FunctionName, its bootstrap servers come from a
// list parameter, and its SQS destination is a resource known by its
// type.
func TestReadEventSourceMappingResource(t *testing.T) {
	t.Parallel()
	m := mappingOf(t, "cfn.json", samtemplate.WithParameters(map[string]string{"Brokers": "a:9092, b:9092"}))
	if m.Type != samtemplate.SelfManagedKafka || m.Path != "Resources.Mapping.Properties" || !slices.Equal(m.BootstrapServers, []string{"a:9092", "b:9092"}) ||
		m.ConsumerGroupID != "orders" || m.StartingPosition != "LATEST" || m.OnFailure == nil || m.OnFailure.Kind != samtemplate.DestinationSQS ||
		m.Enabled == nil || *m.Enabled || m.FunctionTimeout != samtemplate.DefaultFunctionTimeout {
		t.Fatalf("%+v", m)
	}
	if k, ok := m.FolderKind(); !ok || k != "sqs" {
		t.Errorf("folder kind %q %v", k, ok)
	}
	notes := strings.Join(findings(m.Notes), "\n")
	for _, want := range []string{"Resources.Mapping.Properties.Enabled: is false", "Resources.Mapping.Properties.Tags: is not used locally"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	// Without the parameter, which has no Default, the servers are noted
	// as unresolved (and the check does not call them missing).
	m = mappingOf(t, "cfn.json")
	if len(m.BootstrapServers) != 0 || !strings.Contains(strings.Join(findings(m.Notes), "\n"),
		"Resources.Mapping.Properties.SelfManagedEventSource.Endpoints.KafkaBootstrapServers: Ref: parameter Brokers has no Default and no override") {
		t.Fatalf("notes %v", m.Notes)
	}
	for _, f := range m.Check(samtemplate.Handler{}) {
		if strings.Contains(f.Message, "bootstrap") {
			t.Errorf("unresolved servers reported missing: %v", f)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := samtemplate.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		call func() error
	}{
		{"not YAML", samtemplate.ErrTemplate, func() error { _, err := samtemplate.Parse([]byte("a: [")); return err }},
		{"no Resources", samtemplate.ErrTemplate, func() error { _, err := samtemplate.Parse([]byte("Parameters: {}")); return err }},
		{"a list", samtemplate.ErrTemplate, func() error { _, err := samtemplate.Parse([]byte("- 1")); return err }},
		{"duplicate key", samtemplate.ErrTemplate, func() error { _, err := samtemplate.Parse([]byte("Resources: {}\nResources: {}")); return err }},
		{"bad GetAtt", samtemplate.ErrTemplate, func() error { _, err := samtemplate.Parse([]byte("Resources: {A: !GetAtt nodot}")); return err }},
		{"unknown function", samtemplate.ErrFunctionNotFound, func() error { _, err := tm.Mapping("Nope"); return err }},
		{"unknown event", samtemplate.ErrNoEventSource, func() error { _, err := tm.Mapping("Fn", samtemplate.WithEvent("Http")); return err }},
		{"unknown parameter", samtemplate.ErrInvalidOption, func() error {
			_, err := tm.Mapping("Fn", samtemplate.WithParameters(map[string]string{"Nope": "1"}))
			return err
		}},
		{"not an allowed value", samtemplate.ErrInvalidOption, func() error {
			_, err := tm.Mapping("Fn", samtemplate.WithParameters(map[string]string{"Stage": "qa"}))
			return err
		}},
	} {
		if err := tc.call(); !errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "samtemplate: ") {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

// The example's template: conditions choose which of its two
// AWS::Lambda::EventSourceMapping resources exists.
func TestExampleTemplate(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/tradesettle/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := samtemplate.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if fns := tm.Functions(); !slices.Equal(fns, []string{"SettleFunction"}) {
		t.Fatalf("functions %v", fns)
	}
	m, err := tm.Mapping("SettleFunction", samtemplate.WithParameters(map[string]string{"BootstrapServers": "b-1:9096,b-2:9096"}))
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "Resources.SelfManagedKafkaTrigger.Properties" || m.Type != samtemplate.SelfManagedKafka ||
		!slices.Equal(m.BootstrapServers, []string{"b-1:9096", "b-2:9096"}) || !slices.Equal(m.Topics, []string{"user_trades"}) ||
		*m.BatchSize != 500 || *m.MaximumBatchingWindowInSeconds != 1 || m.ConsumerGroupID != "tradesettle" ||
		m.StartingPosition != "TRIM_HORIZON" || !m.ReportBatchItemFailures() || m.Provisioned == nil || m.FunctionTimeout != time.Minute {
		t.Fatalf("%+v", m)
	}
	m, err = tm.Mapping("SettleFunction", samtemplate.WithParameters(map[string]string{"KafkaSource": "MSK", "MSKClusterArn": "arn:aws:kafka:eu-west-1:1:cluster/c/1", "InputTopic": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "Resources.MSKTrigger.Properties" || m.Type != samtemplate.MSK || m.ClusterARN != "arn:aws:kafka:eu-west-1:1:cluster/c/1" ||
		!slices.Equal(m.Topics, []string{"t"}) || m.Config().EventSourceARN != m.ClusterARN {
		t.Fatalf("%+v", m)
	}
}
