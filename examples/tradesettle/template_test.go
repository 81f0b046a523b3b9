package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/lambda"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// The SAM template is parsed with goformation, once per KafkaSource, after
// doing what CloudFormation does with the resources' Condition (goformation
// v7.14.9 evaluates Fn::If but would replace a conditional resource by its
// condition's value) and after taking out ProvisionedPollerConfig, which
// postdates goformation v7.14.9's schema (it rejects properties it does not
// know); that one is checked on the raw template.
//
// The template tests do not run in parallel: goformation's ProcessYAML
// writes package-level maps (its YAML tag registry) on every call.

const (
	testSecretARN  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tradesettle/kafka-AbCdEf"
	testClusterARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/trades/0b8a7e21-1111-2222-3333-444455556666-3"
	testBootstrap  = "b-1.trades.example:9098,b-2.trades.example:9098"
)

// rawTemplate returns template.yaml as JSON objects, intrinsics unresolved.
func rawTemplate(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// parseFor returns the template as deployed with the given KafkaSource,
// parsed by goformation.
func parseFor(t *testing.T, source string) *cloudformation.Template {
	t.Helper()
	raw := rawTemplate(t)
	isMSK := source == "MSK"
	conditions := map[string]bool{"IsMSK": isMSK, "IsSelfManaged": !isMSK}
	resources := raw["Resources"].(map[string]any)
	for name, r := range resources {
		res := r.(map[string]any)
		if cond, ok := res["Condition"].(string); ok {
			on, known := conditions[cond]
			if !known {
				t.Fatalf("resource %s has unknown condition %s", name, cond)
			}
			if !on {
				delete(resources, name)
				continue
			}
			delete(res, "Condition")
		}
		if props, ok := res["Properties"].(map[string]any); ok && res["Type"] == "AWS::Lambda::EventSourceMapping" {
			delete(props, "ProvisionedPollerConfig")
		}
	}
	js, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	overrides := map[string]any{
		"KafkaSource":      source,
		"KafkaSecretArn":   testSecretARN,
		"BootstrapServers": testBootstrap,
	}
	if isMSK {
		overrides["MSKClusterArn"] = testClusterARN
		overrides["SubnetIds"] = []any{"subnet-1", "subnet-2"}
		overrides["SecurityGroupIds"] = []any{"sg-1"}
	}
	tmpl, err := goformation.ParseJSONWithOptions(js, &intrinsics.ProcessorOptions{ParameterOverrides: overrides, EvaluateConditions: true})
	if err != nil {
		t.Fatalf("goformation (%s): %v", source, err)
	}
	return tmpl
}

// statements returns the function's policy statements, the ones an Fn::If
// left out (AWS::NoValue) removed.
func statements(t *testing.T, tmpl *cloudformation.Template) []map[string]any {
	t.Helper()
	fn, err := tmpl.GetServerlessFunctionWithName("SettleFunction")
	if err != nil {
		t.Fatal(err)
	}
	if fn.Policies == nil || fn.Policies.IAMPolicyDocument == nil {
		t.Fatal("the function's Policies are not one policy document")
	}
	var out []map[string]any
	for _, s := range fn.Policies.IAMPolicyDocument.Statement {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// allows reports whether some statement allows action on a resource that
// contains resource.
func allows(stmts []map[string]any, action, resource string) bool {
	for _, s := range stmts {
		if s["Effect"] != "Allow" {
			continue
		}
		var actions []string
		switch a := s["Action"].(type) {
		case string:
			actions = []string{a}
		case []any:
			for _, x := range a {
				actions = append(actions, x.(string))
			}
		}
		var resources []string
		switch r := s["Resource"].(type) {
		case string:
			resources = []string{r}
		case []any:
			for _, x := range r {
				resources = append(resources, x.(string))
			}
		}
		if slices.Contains(actions, action) && slices.ContainsFunc(resources, func(r string) bool { return strings.Contains(r, resource) }) {
			return true
		}
	}
	return false
}

func TestTemplate(t *testing.T) {
	for _, source := range []string{"SelfManaged", "MSK"} {
		t.Run(source, func(t *testing.T) {
			tmpl := parseFor(t, source)
			isMSK := source == "MSK"
			fn, err := tmpl.GetServerlessFunctionWithName("SettleFunction")
			if err != nil {
				t.Fatal(err)
			}
			if got := deref(fn.Runtime); got != "provided.al2023" {
				t.Errorf("Runtime = %q", got)
			}
			if got := deref(fn.Handler); got != "bootstrap" {
				t.Errorf("Handler = %q", got)
			}
			if fn.CodeUri == nil || deref(fn.CodeUri.String) != "." || fn.AWSCloudFormationMetadata["BuildMethod"] != "makefile" {
				t.Errorf("CodeUri %v, Metadata %v: want this folder built by sam build's makefile method (TestSAMBuildTarget)", fn.CodeUri, fn.AWSCloudFormationMetadata)
			}
			if !slices.Equal(fn.Architectures, []string{"x86_64"}) {
				t.Errorf("Architectures = %v, want [x86_64] by default", fn.Architectures)
			}

			// The environment is what app.Wire reads.
			vars := fn.Environment.Variables
			known := []string{app.EnvSecretID, app.EnvSecretSource, app.EnvAuth, app.EnvOutputTopic,
				app.EnvFailurePolicy, app.EnvDeadLetterTopic, app.EnvDeadLetterFormat, secrets.EnvBootstrapServers,
				app.EnvExactlyOnceGroup, app.EnvTransactionalIDPrefix}
			for k := range vars {
				if !slices.Contains(known, k) {
					t.Errorf("environment variable %s is not read by the function", k)
				}
			}
			wantAuth := map[bool]string{false: "SECRET", true: "MSK_IAM"}[isMSK]
			for k, want := range map[string]string{
				app.EnvSecretID:             testSecretARN,
				app.EnvAuth:                 wantAuth,
				secrets.EnvBootstrapServers: testBootstrap,
				app.EnvOutputTopic:          app.OutputTopic,
				// Poison records isolated by default (the README's
				// "Failure handling").
				app.EnvFailurePolicy:    app.PolicyIsolatePoison,
				app.EnvDeadLetterTopic:  "user_trades-dlq",
				app.EnvDeadLetterFormat: app.DeadLetterRaw,
				// At-least-once by default.
				app.EnvExactlyOnceGroup: "",
			} {
				if vars[k] != want {
					t.Errorf("%s = %q, want %q", k, vars[k], want)
				}
			}
			if (fn.VpcConfig != nil) != isMSK {
				t.Errorf("VpcConfig set = %v, want it with MSK only", fn.VpcConfig != nil)
			}

			// Permissions.
			stmts := statements(t, tmpl)
			if !allows(stmts, "secretsmanager:GetSecretValue", testSecretARN) {
				t.Error("no secretsmanager:GetSecretValue on the secret")
			}
			for _, need := range [][2]string{
				{"kafka-cluster:Connect", testClusterARN},
				{"kafka-cluster:WriteDataIdempotently", testClusterARN},
				{"kafka:DescribeClusterV2", testClusterARN},
				{"kafka:GetBootstrapBrokers", testClusterARN},
				{"ec2:CreateNetworkInterface", "*"},
				{"kafka-cluster:ReadData", ":topic/*/*/" + app.InputTopic},
				{"kafka-cluster:DescribeTopic", ":topic/*/*/" + app.InputTopic},
				{"kafka-cluster:AlterGroup", ":group/*/*/tradesettle"},
				{"kafka-cluster:WriteData", ":topic/*/*/" + app.OutputTopic},
				{"kafka-cluster:WriteData", ":topic/*/*/user_trades-dlq"},
				{"kafka-cluster:AlterTransactionalId", ":transactional-id/*/*/" + vars[app.EnvTransactionalIDPrefix] + "*"},
				{"kafka-cluster:AlterGroup", ":group/*/*/tradesettle-progress.*"},
			} {
				if got := allows(stmts, need[0], need[1]); got != isMSK {
					t.Errorf("%s on %s allowed = %v, want %v", need[0], need[1], got, isMSK)
				}
			}

			// Exactly one event source mapping, of the right kind.
			esms := tmpl.GetAllLambdaEventSourceMappingResources()
			if len(esms) != 1 {
				t.Fatalf("%d event source mappings, want 1", len(esms))
			}
			var esm *lambda.EventSourceMapping
			for _, e := range esms {
				esm = e
			}
			if !slices.Equal(esm.Topics, []string{app.InputTopic}) {
				t.Errorf("Topics = %v", esm.Topics)
			}
			if deref(esm.StartingPosition) != "TRIM_HORIZON" || esm.BatchSize == nil || *esm.BatchSize != 500 {
				t.Errorf("StartingPosition %q, BatchSize %v", deref(esm.StartingPosition), esm.BatchSize)
			}
			// A policy that answers with item failures needs a mapping that
			// reads them, or the failed records would be skipped.
			itemFailures := slices.Contains(esm.FunctionResponseTypes, "ReportBatchItemFailures")
			policy := vars[app.EnvFailurePolicy]
			if (policy == app.PolicyReportItems || policy == app.PolicyIsolatePoison) && !itemFailures {
				t.Errorf("FunctionResponseTypes %v with %s=%q: the function and the mapping disagree on item failures",
					esm.FunctionResponseTypes, app.EnvFailurePolicy, vars[app.EnvFailurePolicy])
			}
			if isMSK {
				if deref(esm.EventSourceArn) != testClusterARN || esm.AmazonManagedKafkaEventSourceConfig == nil ||
					deref(esm.AmazonManagedKafkaEventSourceConfig.ConsumerGroupId) != "tradesettle" {
					t.Errorf("MSK mapping: source %q, config %+v", deref(esm.EventSourceArn), esm.AmazonManagedKafkaEventSourceConfig)
				}
				if len(esm.SourceAccessConfigurations) != 0 {
					t.Errorf("MSK mapping has SourceAccessConfigurations %v; IAM needs none", esm.SourceAccessConfigurations)
				}
				return
			}
			if esm.SelfManagedEventSource == nil || esm.SelfManagedEventSource.Endpoints == nil ||
				!slices.Equal(esm.SelfManagedEventSource.Endpoints.KafkaBootstrapServers, strings.Split(testBootstrap, ",")) {
				t.Errorf("self-managed mapping endpoints %+v", esm.SelfManagedEventSource)
			}
			if len(esm.SourceAccessConfigurations) != 1 || deref(esm.SourceAccessConfigurations[0].Type) != "BASIC_AUTH" ||
				deref(esm.SourceAccessConfigurations[0].URI) != testSecretARN {
				t.Errorf("SourceAccessConfigurations = %+v, want BASIC_AUTH with the secret", esm.SourceAccessConfigurations)
			}
			if esm.SelfManagedKafkaEventSourceConfig == nil || deref(esm.SelfManagedKafkaEventSourceConfig.ConsumerGroupId) != "tradesettle" {
				t.Errorf("consumer group %+v", esm.SelfManagedKafkaEventSourceConfig)
			}
		})
	}
}

// Partial batch responses of Kafka event source mappings need provisioned
// mode, and both mappings must invoke the function.
func TestTemplateMappingsRaw(t *testing.T) {
	resources := rawTemplate(t)["Resources"].(map[string]any)
	n := 0
	for name, r := range resources {
		res := r.(map[string]any)
		if res["Type"] != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		n++
		props := res["Properties"].(map[string]any)
		if ref, _ := props["FunctionName"].(map[string]any); ref["Ref"] != "SettleFunction" {
			t.Errorf("%s: FunctionName = %v, want Ref SettleFunction", name, props["FunctionName"])
		}
		types, _ := props["FunctionResponseTypes"].([]any)
		if slices.Contains(types, any("ReportBatchItemFailures")) {
			ppc, _ := props["ProvisionedPollerConfig"].(map[string]any)
			if min, _ := ppc["MinimumPollers"].(float64); min < 1 {
				t.Errorf("%s: ReportBatchItemFailures without ProvisionedPollerConfig", name)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d event source mappings, want 2 (self-managed and MSK)", n)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestSAMBuildTarget checks the Makefile as sam build calls it: for every
// function of the template with BuildMethod makefile, the target
// build-<LogicalId> exists (make -n, a dry run) and, with ARTIFACTS_DIR in
// its environment, builds with build.sh and puts bootstrap into that
// folder; without ARTIFACTS_DIR it refuses. TestCopyBuildsForLambda runs
// the target for real, in a copy of the folder as SAM does.
func TestSAMBuildTarget(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	tmpl := parseFor(t, "SelfManaged")
	var ids []string
	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		if fn.AWSCloudFormationMetadata["BuildMethod"] == "makefile" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Fatal("no function with Metadata BuildMethod makefile")
	}
	artifacts := t.TempDir()
	for _, id := range ids {
		cmd := exec.Command("make", "-n", "build-"+id)
		cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+artifacts)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n build-%s: %v\n%s", id, err, out)
		}
		if !strings.Contains(string(out), "./build.sh") || !strings.Contains(string(out), artifacts+"/bootstrap") {
			t.Errorf("make -n build-%s does not run build.sh into $ARTIFACTS_DIR/bootstrap:\n%s", id, out)
		}
		cmd = exec.Command("make", "-n", "build-"+id)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "ARTIFACTS_DIR=") })
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "ARTIFACTS_DIR is not set") {
			t.Errorf("make build-%s without ARTIFACTS_DIR: %v\n%s", id, err, out)
		}
	}
}
