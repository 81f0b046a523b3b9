package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

// -template runs the function's mapping as the template says: its topic
// (a parameter override), consumer group, BatchSize, FilterCriteria and
// MSK cluster ARN; -brokers gives the local broker.
func TestTemplateRun(t *testing.T) {
	t.Parallel()
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("trades", 1))
	var recs []*kgo.Record
	for _, v := range []string{"1", "2", "skip", "3", "4", "5"} {
		recs = append(recs, &kgo.Record{Topic: "trades", Value: []byte(v)})
	}
	if err := c.ProduceRecords(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	args := []string{"-template", "testdata/orders.yaml", "-function", "OrdersFunction", "-parameter-overrides", "Topic=trades",
		"-brokers", c.BootstrapServers(), "-stop-when-caught-up", "-log-format", "json"}
	stdout := newOutput()
	var stderr bytes.Buffer
	if code := run(context.Background(), args, env(nil), stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, &stderr)
	}
	var values []string
	for _, ev := range printedEvents(t, stdout) {
		if ev.Source != kafkalambda.SourceMSK || ev.SourceARN != "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abc-1" || ev.Len() > 2 {
			t.Fatalf("event %+v: want aws:kafka events of at most 2 records", ev)
		}
		for _, p := range ev.Partitions {
			for _, r := range p.Records {
				values = append(values, string(r.Value))
			}
		}
	}
	if strings.Join(values, ",") != "1,2,3,4,5" {
		t.Fatalf("values %v: want all but the filtered one", values)
	}
	// The SQS destination has no folder: noted, as the secretless MSK
	// access is.
	for _, want := range []string{`"group":"trades-fn"`, `"path":"Resources.OrdersFunction.Properties.Events.Orders.Properties.DestinationConfig.OnFailure"`,
		`"msg":"kafkalambda-esm: not honoured locally"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %s:\n%s", want, &stderr)
		}
	}

	// The group committed: a second run finds nothing new. A flag given
	// overrides the template (the group here, so this run reads all again).
	stdout = newOutput()
	if code := run(context.Background(), append(args, "-group", "other"), env(nil), stdout, &bytes.Buffer{}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := len(printedEvents(t, stdout)); n == 0 {
		t.Fatal("-group other read nothing")
	}
	stdout = newOutput()
	if code := run(context.Background(), args, env(nil), stdout, &bytes.Buffer{}); code != 0 || len(printedEvents(t, stdout)) != 0 {
		t.Fatalf("exit %d, events %s: the template's group had committed everything", code, stdout)
	}
}

// -check exits 0 when the template and the handler agree, 4 with the
// findings otherwise, each on a line of stdout.
func TestTemplateCheck(t *testing.T) {
	t.Parallel()
	example := []string{"-template", "../../examples/tradesettle/template.yaml", "-function", "SettleFunction", "-check"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"the example as it is", append(example, "-item-failures"), 0, []string{"nothing found"}},
		{"the example with MSK", append(example, "-item-failures", "-parameter-overrides", "KafkaSource=MSK"), 0, []string{"Resources.MSKTrigger.Properties: nothing found"}},
		{"the example with a handler that fails batches", append(example, "-item-failures=false"), exitCheck,
			[]string{"Resources.SelfManagedKafkaTrigger.Properties.FunctionResponseTypes: has ReportBatchItemFailures but the handler does not", "1 problem found"}},
		{"the example with a slow handler", append(example, "-item-failures", "-handler-timeout", "60s"), exitCheck,
			[]string{"Resources.SettleFunction.Properties.Timeout: the function's timeout 1m0s leaves no time"}},
		{"a flag that needs provisioned mode", append([]string{"-template", "testdata/orders.yaml", "-function", "OrdersFunction", "-check"}, "-bisect"), exitCheck,
			[]string{"command line: BisectBatchOnFunctionError needs provisioned mode"}},
		{"a value out of AWS's limits", []string{"-template", "testdata/orders.yaml", "-function", "OrdersFunction", "-check", "-batch-size", "0"}, exitCheck,
			[]string{"command line: esm: invalid option: batch size 0 not in [1, 10000]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, env(nil), &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, &stdout, &stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, &stdout)
				}
			}
		})
	}
}

func TestTemplateBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-function", "F", "-brokers", "b:1", "-topics", "t"},                               // -function without -template
		{"-check", "-brokers", "b:1", "-topics", "t"},                                       // -check without -template
		{"-template", "testdata/orders.yaml"},                                               // no -function
		{"-template", "testdata/nonexistent.yaml", "-function", "F"},                        // no file
		{"-template", "testdata/orders.yaml", "-function", "Nope"},                          // no such function
		{"-template", "testdata/orders.yaml", "-function", "OrdersFunction", "-event", "X"}, // no such event
		{"-template", "testdata/orders.yaml", "-function", "OrdersFunction", "-parameter-overrides", "Nope=1"},
		{"-template", "testdata/orders.yaml", "-function", "OrdersFunction", "-parameter-overrides", "novalue"},
		{"-template", "testdata/orders.yaml", "-function", "OrdersFunction"}, // MSK: no -brokers
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, env(nil), &bytes.Buffer{}, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 and a message (%q)", args, code, &stderr)
		}
	}
	if o, err := parseOverrides([]string{"ParameterKey=A,ParameterValue=x=y", "B=2"}); err != nil || o["A"] != "x=y" || o["B"] != "2" {
		t.Errorf("overrides %v %v", o, err)
	}
}

// A template whose SchemaRegistryConfig names an AWS Glue registry's ARN
// runs the mapping against that registry (its name, and its region unless
// -aws-region says otherwise); -schema-registry-url given on the command
// line wins.
func TestTemplateGlueRegistry(t *testing.T) {
	r := &samtemplate.SchemaRegistryConfig{URI: "arn:aws:glue:eu-west-1:123456789012:registry/trades", EventRecordFormat: "SOURCE"}
	m := &samtemplate.Mapping{SchemaRegistry: r}
	f := &flags{}
	f.applyMapping(m, map[string]bool{})
	if f.registryGlue != "trades" || f.awsRegion != "eu-west-1" || f.registryURL != "" {
		t.Errorf("glue %q region %q url %q, want trades, eu-west-1 and no URL", f.registryGlue, f.awsRegion, f.registryURL)
	}
	f = &flags{awsRegion: "us-east-1", registryURL: "http://localhost:8081"}
	f.applyMapping(m, map[string]bool{"aws-region": true, "schema-registry-url": true})
	if f.registryGlue != "" || f.awsRegion != "us-east-1" || f.registryURL != "http://localhost:8081" {
		t.Errorf("glue %q region %q url %q, want the command line's", f.registryGlue, f.awsRegion, f.registryURL)
	}
}
