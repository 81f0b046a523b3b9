package esm_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/gluetest"
)

// newGlue starts a local Glue endpoint and returns it with a real SDK
// client of it.
func newGlue(t *testing.T) (*gluetest.Server, *glue.Client) {
	t.Helper()
	srv := gluetest.NewServer(t)
	return srv, glue.New(glue.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
}

// glueFramed builds AWS Glue wire bytes by the documented layout, apart
// from serde: version 3, the compression byte, the 16-byte version id, body.
func glueFramed(t *testing.T, versionID string, compression byte, body []byte) []byte {
	t.Helper()
	id, err := hex.DecodeString(strings.ReplaceAll(versionID, "-", ""))
	if err != nil || len(id) != 16 {
		t.Fatalf("version id %q: %v", versionID, err)
	}
	return append(append([]byte{3, compression}, id...), body...)
}

// payloads is a lambda.Handler that keeps each event it is given and
// passes it on to a kafkalambda handler.
type payloads struct {
	next interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}
	mu     sync.Mutex
	events []*kafkalambda.Event
}

func (p *payloads) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := kafkalambda.ParseEvent(payload)
	if err == nil {
		p.mu.Lock()
		p.events = append(p.events, ev)
		p.mu.Unlock()
	}
	return p.next.Invoke(ctx, payload)
}

func (p *payloads) records() []kafkalambda.RawRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []kafkalambda.RawRecord
	for _, ev := range p.events {
		for _, part := range ev.Partitions {
			out = append(out, part.Records...)
		}
	}
	return out
}

// The registry integration with an AWS Glue registry, in SOURCE mode, end
// to end: serde writes Glue-framed Avro (plain and zlib-compressed), the
// mapping strips the header, inflates the compressed body and puts the
// schema version id and AVRO in valueSchemaMetadata, and a kafkalambda
// handler reads the values with serde.Avro over serde.Glue. What the
// registry cannot vouch for never reaches the function: data not in Glue's
// format, a bad compression byte and a zlib body that does not inflate are
// DESERIALIZATION_ERROR; a version id Glue does not have, or one of another
// registry, SCHEMA_NOT_FOUND. GetSchemaVersion is asked once per id.
func TestSchemaRegistryGlueSource(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTopic("ticks", 1), kafkalambdatest.WithTopic("dlq", 1))
	srv, client := newGlue(t)
	const registry = "ticks-registry"
	writer, err := serde.Avro[tick](serde.Glue(client, registry), serde.WithSchema(tickSchema), serde.WithAutoRegister(true))
	if err != nil {
		t.Fatal(err)
	}
	zwriter, err := serde.Avro[tick](serde.Glue(client, registry, serde.WithGlueCompression(true)), serde.WithSchema(tickSchema))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := writer.Serialize(ctx, serde.Target{Topic: "ticks"}, tick{"ACME", 10})
	if err != nil {
		t.Fatal(err)
	}
	zipped, err := zwriter.Serialize(ctx, serde.Target{Topic: "ticks"}, tick{"ACME", 11})
	if err != nil {
		t.Fatal(err)
	}
	if plain[1] != 0 || zipped[1] != 5 || !bytes.Equal(plain[2:18], zipped[2:18]) {
		t.Fatalf("serde wrote headers % x and % x", plain[:18], zipped[:18])
	}
	versionID := hex.EncodeToString(plain[2:18])
	other, err := srv.Register("other-registry", "ticks-value", "AVRO", tickSchema)
	if err != nil {
		t.Fatal(err)
	}
	values := [][]byte{
		plain,  // 0: delivered
		zipped, // 1: delivered inflated
		append([]byte{0, 0, 0, 0, 1}, plain[18:]...),                         // 2: Confluent's format: DESERIALIZATION_ERROR
		glueFramed(t, "0f8e1c2a-6b1d-4c3e-9a7f-1d2e3f4a5b6c", 0, plain[18:]), // 3: unknown version: SCHEMA_NOT_FOUND
		append(append([]byte{}, zipped[:18]...), 0x78, 0x9c, 1, 2, 3),        // 4: broken zlib: DESERIALIZATION_ERROR
		glueFramed(t, other, 0, plain[18:]),                                  // 5: another registry's: SCHEMA_NOT_FOUND
		append(append([]byte{3, 7}, plain[2:18]...), plain[18:]...),          // 6: compression 7: DESERIALIZATION_ERROR
	}
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: "ticks", Key: []byte("ACME"), Value: v}
	}
	if err := c.ProduceRecords(ctx, recs...); err != nil {
		t.Fatal(err)
	}

	reader, err := serde.Avro[tick](serde.Glue(client, registry), serde.WithSchema(tickSchema))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []tick
	h, err := kafkalambda.NewHandler(serde.String(), reader, func(_ context.Context, r *kafkalambda.Record[string, tick]) error {
		mu.Lock()
		got = append(got, r.Value)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fn := &payloads{next: h}
	r := start(t, c, esm.Config{Topics: []string{"ticks"}}, &esm.HandlerTarget{Handler: fn}, esm.WithOnFailureTopic("dlq"),
		esm.WithSchemaRegistry(esm.SchemaRegistry{Glue: client, GlueRegistry: registry}))
	r.await(t, time.Minute, "7 records handled", func() bool { return r.m.Stats().RecordsCommitted >= 7 })

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != (tick{"ACME", 10}) || got[1] != (tick{"ACME", 11}) {
		t.Fatalf("the function read %+v, want ACME 10 and ACME 11", got)
	}
	delivered := fn.records()
	if len(delivered) != 2 {
		t.Fatalf("%d records delivered, want 2", len(delivered))
	}
	for i, d := range delivered {
		if d.ValueSchema == nil || d.ValueSchema.DataFormat != "AVRO" || strings.ReplaceAll(d.ValueSchema.SchemaID, "-", "") != versionID ||
			len(d.ValueSchema.SchemaID) != 36 || d.KeySchema != nil || string(d.Key) != "ACME" {
			t.Fatalf("record %d: metadata %+v, key %q", i, d.ValueSchema, d.Key)
		}
	}
	if !bytes.Equal(delivered[0].Value, plain[18:]) {
		t.Fatalf("record 0: value % x, want the body % x", delivered[0].Value, plain[18:])
	}
	want, err := writer.Serialize(ctx, serde.Target{Topic: "ticks"}, tick{"ACME", 11})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(delivered[1].Value, want[18:]) {
		t.Fatalf("record 1: value % x, want the inflated body % x", delivered[1].Value, want[18:])
	}

	_, frs := readFailures(t, c, "dlq")
	conditions := map[string]string{} // offset: condition
	for _, fr := range frs {
		if fr.RequestContext.ApproximateInvokeCount != 0 {
			t.Errorf("a rejected record was invoked: %+v", fr.RequestContext)
		}
		conditions[fr.KafkaBatchInfo.RecordInfo.Offset] = fr.RequestContext.Condition
	}
	wantConds := map[string]string{
		"2": esm.ConditionDeserializationError, "3": esm.ConditionSchemaNotFound, "4": esm.ConditionDeserializationError,
		"5": esm.ConditionSchemaNotFound, "6": esm.ConditionDeserializationError,
	}
	if len(conditions) != len(wantConds) {
		t.Fatalf("on-failure conditions by offset %v, want %v", conditions, wantConds)
	}
	for off, cond := range wantConds {
		if conditions[off] != cond {
			t.Fatalf("on-failure conditions by offset %v, want %v", conditions, wantConds)
		}
	}
	// The mapping asks for each of its three ids once (the reader codec
	// for the one it reads, once more).
	if n := srv.Calls(gluetest.GetSchemaVersion); n != 4 {
		t.Fatalf("%d GetSchemaVersion calls, want 3 from the mapping and 1 from the reader", n)
	}
	if st := r.m.Stats(); st.SchemaMisses != 2 || st.SchemaDecodeErrors != 3 || st.RecordsOnFailure != 5 {
		t.Fatalf("stats %+v", st)
	}
}

// A Glue registry is named by a client and a registry name, never with a
// URL or basic auth besides.
func TestSchemaRegistryGlueOptions(t *testing.T) {
	t.Parallel()
	_, client := newGlue(t)
	for name, reg := range map[string]esm.SchemaRegistry{
		"URL and Glue":          {URL: "http://127.0.0.1:1", Glue: client, GlueRegistry: "r"},
		"no registry name":      {Glue: client},
		"name without a client": {URL: "http://127.0.0.1:1", GlueRegistry: "r"},
		"basic auth with Glue":  {Glue: client, GlueRegistry: "r", Username: "u", Password: "p"},
	} {
		_, err := esm.New(esm.Config{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"t"}}, &esm.HandlerTarget{Handler: &recorder{}},
			esm.WithSchemaRegistry(reg))
		if err == nil || !strings.Contains(err.Error(), "invalid option") {
			t.Errorf("%s: %v, want an invalid option", name, err)
		}
	}
}
