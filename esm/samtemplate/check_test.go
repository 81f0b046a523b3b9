package samtemplate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
)

// mappingOf reads the function Fn's mapping from a fixture of testdata.
func mappingOf(t *testing.T, file string, opts ...samtemplate.Option) *samtemplate.Mapping {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := samtemplate.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tm.Mapping("Fn", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// handler is a kafkalambda handler with ReportItemFailures and the default
// deadline margin, which needs at most 3 s a batch.
var reporting = samtemplate.Handler{ReportsItemFailures: ptr(true), DeadlineMargin: 500 * time.Millisecond, Timeout: 3 * time.Second}

// Each check on a fixture that breaks only it: the finding's path (its
// suffix) and words of its message. ok.yaml breaks nothing.
func TestCheck(t *testing.T) {
	t.Parallel()
	const event = "Resources.Fn.Properties.Events.Kafka.Properties"
	for _, tc := range []struct {
		name, file string
		handler    samtemplate.Handler
		path, want string // "" for no finding
	}{
		{"nothing", "ok.yaml", reporting, "", ""},
		{"handler reports, mapping ignores", "item-failures-missing.yaml", reporting,
			event + ".FunctionResponseTypes", "lacks ReportBatchItemFailures but the handler reports"},
		{"mapping reads, handler does not report", "ok.yaml", samtemplate.Handler{ReportsItemFailures: ptr(false)},
			event + ".FunctionResponseTypes", "has ReportBatchItemFailures but the handler does not"},
		{"margin and handler past the Globals timeout", "timeout-globals.yaml", reporting,
			"Globals.Function.Timeout", "timeout 3s leaves no time"},
		{"the function's Timeout unresolved: not checked", "timeout-unresolved.yaml", reporting, "", ""},
		{"the function's Timeout over 900 s", "timeout-over-limit.yaml", reporting,
			"Resources.Fn.Properties.Timeout", "over Lambda's limit"},
		{"two topics", "two-topics.yaml", samtemplate.Handler{}, event + ".Topics", "AWS takes one per mapping"},
		{"BatchSize", "batch-size.yaml", samtemplate.Handler{}, event + ".BatchSize", "10001 not in [1, 10000]"},
		{"window", "window.yaml", samtemplate.Handler{}, event + ".MaximumBatchingWindowInSeconds", "301 not in [0, 300]"},
		{"StartingPosition missing", "no-starting-position.yaml", samtemplate.Handler{}, event + ".StartingPosition", "AWS requires one"},
		{"AT_TIMESTAMP without a time", "at-timestamp.yaml", samtemplate.Handler{}, event + ".StartingPositionTimestamp", "AT_TIMESTAMP needs it"},
		{"Kafka on-failure topic on demand", "kafka-destination-on-demand.yaml", samtemplate.Handler{}, event, "DestinationConfig OnFailure (a Kafka topic) needs provisioned mode"},
		{"schema registry on demand", "registry-on-demand.yaml", samtemplate.Handler{}, event, "SchemaRegistryConfig needs provisioned mode"},
		{"retries on demand", "retries-on-demand.yaml", samtemplate.Handler{}, event, "MaximumRetryAttempts needs provisioned mode"},
		{"SAM SelfManagedKafka without access", "no-source-access.yaml", samtemplate.Handler{}, event + ".SourceAccessConfigurations", "SAM refuses"},
		{"on-failure topic is the source", "destination-is-source.yaml", samtemplate.Handler{}, event + ".DestinationConfig.OnFailure.Destination", "is the source topic"},
		{"group", "bad-group.yaml", samtemplate.Handler{}, event + ".ConsumerGroupId", "AWS takes 1 to 200 characters"},
		{"no bootstrap servers", "no-brokers.yaml", samtemplate.Handler{}, event + ".KafkaBootstrapServers", "needs its bootstrap servers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mappingOf(t, filepath.Join("check", tc.file)).Check(tc.handler)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("findings %v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("findings %v, want one", got)
			}
			if got[0].Path != tc.path || !strings.Contains(got[0].Message, tc.want) {
				t.Fatalf("finding %q, want %s: ...%s...", got[0], tc.path, tc.want)
			}
		})
	}
}

// A Timeout that cannot be resolved is noted at its path and left zero,
// not replaced by the Globals' or the default.
func TestTimeoutUnresolved(t *testing.T) {
	t.Parallel()
	m := mappingOf(t, filepath.Join("check", "timeout-unresolved.yaml"))
	if m.FunctionTimeout != 0 {
		t.Errorf("FunctionTimeout = %v, want 0 (unresolved)", m.FunctionTimeout)
	}
	const want = "Resources.Fn.Properties.Timeout: Ref: parameter FunctionTimeout has no Default and no override"
	if notes := strings.Join(findings(m.Notes), "\n"); !strings.Contains(notes, want) {
		t.Errorf("notes lack %q:\n%s", want, notes)
	}
}

// The example's template passes the check with its handler's settings
// (ReportItemFailures-like policies, the default 500 ms margin), whichever
// KafkaSource is deployed.
func TestCheckExampleTemplate(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/tradesettle/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := samtemplate.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, source := range []string{"SelfManaged", "MSK"} {
		m, err := tm.Mapping("SettleFunction", samtemplate.WithParameters(map[string]string{"KafkaSource": source, "BootstrapServers": "b-1:9092,b-2:9092"}))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Check(samtemplate.Handler{ReportsItemFailures: ptr(true), DeadlineMargin: 500 * time.Millisecond}); len(got) != 0 {
			t.Errorf("%s: findings %v", source, got)
		}
		// FAIL_BATCH would be told apart.
		if got := m.Check(samtemplate.Handler{ReportsItemFailures: ptr(false)}); len(got) != 1 {
			t.Errorf("%s: a handler that fails batches: findings %v, want one", source, got)
		}
	}
}
