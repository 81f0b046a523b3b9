package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde/gluetest"
)

// -schema-registry-glue with -glue-endpoint: the mapping asks the Glue
// endpoint (here serde/gluetest) with the AWS SDK's default credentials,
// strips the Glue header of a record it knows, and discards one of a
// schema version Glue does not have. Not parallel: the credentials come
// from the environment, as the SDK reads them.
func TestSchemaRegistryGlueFlag(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	srv := gluetest.NewServer(t)
	id, err := srv.Register("reg", "ticks-value", "AVRO", `{"type":"record","name":"Tick","fields":[{"name":"symbol","type":"string"},{"name":"price","type":"int"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte{8, 'A', 'C', 'M', 'E', 20} // {"symbol":"ACME","price":10}
	unknown := make([]byte, 16)
	unknown[0] = 1
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("ticks", 1))
	if err := c.ProduceRecords(context.Background(),
		&kgo.Record{Topic: "ticks", Value: append(append([]byte{3, 0}, raw...), body...)},
		&kgo.Record{Topic: "ticks", Value: append(append([]byte{3, 0}, unknown...), body...)}); err != nil {
		t.Fatal(err)
	}
	stdout := newOutput()
	var stderr bytes.Buffer
	args := []string{"-brokers", c.BootstrapServers(), "-topics", "ticks", "-window", "0s", "-stop-when-caught-up",
		"-schema-registry-glue", "reg", "-glue-endpoint", srv.URL, "-aws-region", "us-east-1"}
	if code := run(context.Background(), args, env(nil), stdout, &stderr); code != 3 {
		t.Fatalf("exit %d, want 3 (a record discarded)\n%s", code, &stderr)
	}
	var recs int
	for _, ev := range printedEvents(t, stdout) {
		for _, p := range ev.Partitions {
			for _, r := range p.Records {
				recs++
				if r.ValueSchema == nil || r.ValueSchema.SchemaID != id || r.ValueSchema.DataFormat != "AVRO" || !bytes.Equal(r.Value, body) {
					t.Fatalf("record %+v", r)
				}
			}
		}
	}
	if recs != 1 || srv.Calls(gluetest.GetSchemaVersion) != 2 {
		t.Fatalf("%d records printed and %d GetSchemaVersion calls, want 1 and 2\n%s", recs, srv.Calls(gluetest.GetSchemaVersion), &stderr)
	}
}
