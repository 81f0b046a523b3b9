//go:build !serde.noglue

package serde_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/gluetest"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

const glueRegistryName = "orders-registry"

// newGlue starts a local Glue endpoint and returns it with a real SDK client
// of it. The SDK's own retries are off, so each codec attempt is one
// request and the tests count them.
func newGlue(t testing.TB) (*gluetest.Server, *glue.Client) {
	t.Helper()
	srv := gluetest.NewServer(t)
	c := glue.New(glue.Options{
		BaseEndpoint:     aws.String(srv.URL),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: 1,
	})
	return srv, c
}

// glueFrame builds AWS Glue wire bytes by the documented layout, apart from
// the codecs: version 3, compression (0 or 5), the 16-byte version id, body.
func glueFrame(t testing.TB, versionID string, compress bool, body []byte) []byte {
	t.Helper()
	id, err := hex.DecodeString(strings.ReplaceAll(versionID, "-", ""))
	if err != nil || len(id) != 16 {
		t.Fatalf("version id %q: %v", versionID, err)
	}
	out := append([]byte{3, 0}, id...)
	if !compress {
		return append(out, body...)
	}
	out[1] = 5
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	_, _ = zw.Write(body)
	_ = zw.Close()
	return append(out, b.Bytes()...)
}

func versionIDOf(b []byte) string {
	h := hex.EncodeToString(b[2:18])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Data written by another Glue producer (bytes built by the documented
// layout, schemas registered out of band) decodes, compressed or not, for
// each format; and what the codecs write is that layout.
func TestGlueInterop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv, gc := newGlue(t)
	reg := ourserde.Glue(gc, glueRegistryName)

	t.Run("avro", func(t *testing.T) {
		vid := must[string](t)(srv.Register(glueRegistryName, "orders-value", "AVRO", orderSchemaV2))
		want := sampleOrder()
		body := must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV2), want))
		c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg, ourserde.WithSchema(orderSchemaV2)))
		for _, compress := range []bool{false, true} {
			got := must[Order](t)(c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: glueFrame(t, vid, compress, body)}))
			if !equalOrders(got, want) {
				t.Errorf("compress=%v: got %+v, want %+v", compress, got, want)
			}
		}
		// The serializer looks the schema up (auto-registration is off) and
		// writes the same bytes.
		wire := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "orders"}, want))
		if !bytes.Equal(wire, glueFrame(t, vid, false, body)) {
			t.Errorf("serialized\n%x, want\n%x", wire, glueFrame(t, vid, false, body))
		}
		if n := srv.Calls(gluetest.GetSchemaVersion); n != 1 {
			t.Errorf("GetSchemaVersion called %d times, want 1 (cached by version id)", n)
		}
	})

	t.Run("protobuf", func(t *testing.T) {
		// Glue's Protobuf index is T's place among every message of the
		// file sorted by full name: Envelope, Trade, Trade.AttributesEntry,
		// Trade.Leg; Trade is 1.
		text := mustReadProto(t)
		vid := must[string](t)(srv.Register(glueRegistryName, "trades-value", "PROTOBUF", text))
		want := sampleTrade()
		msg := must[[]byte](t)(proto.Marshal(want))
		body := append(binary.AppendUvarint(nil, 1), msg...)
		c := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg, ourserde.WithSchema(text)))
		for _, compress := range []bool{false, true} {
			got := must[*testpb.Trade](t)(c.Deserialize(ctx, ourserde.Message{Topic: "trades", Data: glueFrame(t, vid, compress, body)}))
			if !proto.Equal(got, want) {
				t.Errorf("compress=%v: got %v, want %v", compress, got, want)
			}
		}
		wire := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "trades"}, want))
		if !bytes.Equal(wire[:19], glueFrame(t, vid, false, body)[:19]) {
			t.Errorf("serialized prefix %x, want %x", wire[:19], glueFrame(t, vid, false, body)[:19])
		}
		// Index 0 (Envelope) is another message; 9 is none.
		for _, idx := range []uint64{0, 9} {
			bad := glueFrame(t, vid, false, append(binary.AppendUvarint(nil, idx), msg...))
			if _, err := c.Deserialize(ctx, ourserde.Message{Topic: "trades", Data: bad}); !errors.Is(err, ourserde.ErrMessageMismatch) {
				t.Errorf("index %d: got %v, want ErrMessageMismatch", idx, err)
			}
		}
	})

	t.Run("json schema", func(t *testing.T) {
		vid := must[string](t)(srv.Register(glueRegistryName, "people-value", "JSON", personSchema))
		c := must[ourserde.Codec[Person]](t)(ourserde.JSONSchema[Person](reg, ourserde.WithSchema(personSchema)))
		body := []byte(`{"name":"Ada","age":36}`)
		got := must[Person](t)(c.Deserialize(ctx, ourserde.Message{Topic: "people", Data: glueFrame(t, vid, true, body)}))
		if got != (Person{Name: "Ada", Age: 36}) {
			t.Errorf("got %+v", got)
		}
		bad := glueFrame(t, vid, false, []byte(`{"name":"Ada","age":-1}`))
		if _, err := c.Deserialize(ctx, ourserde.Message{Topic: "people", Data: bad}); !errors.Is(err, ourserde.ErrValidation) {
			t.Errorf("invalid value: got %v, want ErrValidation", err)
		}
		wire := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "people"}, Person{Name: "Ada", Age: 36}))
		if !bytes.Equal(wire, glueFrame(t, vid, false, body)) {
			t.Errorf("serialized %q", wire)
		}
	})
}

// Serializers register with auto-registration on (creating the schema),
// compress when asked, and a second codec reads what the first wrote.
func TestGlueRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv, gc := newGlue(t)
	for _, compress := range []bool{false, true} {
		reg := ourserde.Glue(gc, glueRegistryName, ourserde.WithGlueCompression(compress))
		topic := "rt-" + map[bool]string{false: "plain", true: "zlib"}[compress]
		wantByte := map[bool]byte{false: 0, true: 5}[compress]

		a := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg, ourserde.WithSchema(orderSchemaV2), ourserde.WithAutoRegister(true)))
		wire := must[[]byte](t)(a.Serialize(ctx, ourserde.Target{Topic: topic}, sampleOrder()))
		if wire[0] != 3 || wire[1] != wantByte {
			t.Fatalf("compress=%v: header %x", compress, wire[:2])
		}
		reader := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](ourserde.Glue(gc, glueRegistryName)))
		if got := must[Order](t)(reader.Deserialize(ctx, ourserde.Message{Topic: topic, Data: wire})); !equalOrders(got, sampleOrder()) {
			t.Errorf("avro: got %+v", got)
		}

		m := must[ourserde.Codec[*testpb.Money]](t)(ourserde.Protobuf[*testpb.Money](reg, ourserde.WithAutoRegister(true)))
		money := &testpb.Money{Currency: "EUR", Units: 12, Nanos: 5}
		wire = must[[]byte](t)(m.Serialize(ctx, ourserde.Target{Topic: topic + "-pb"}, money))
		if got := must[*testpb.Money](t)(m.Deserialize(ctx, ourserde.Message{Topic: topic + "-pb", Data: wire})); !proto.Equal(got, money) {
			t.Errorf("protobuf: got %v", got)
		}

		j := must[ourserde.Codec[Person]](t)(ourserde.JSONSchema[Person](reg, ourserde.WithSchema(personSchema), ourserde.WithAutoRegister(true)))
		wire = must[[]byte](t)(j.Serialize(ctx, ourserde.Target{Topic: topic, IsKey: true}, Person{Name: "Bo", Age: 5}))
		if got := must[Person](t)(j.Deserialize(ctx, ourserde.Message{Topic: topic, Data: wire, IsKey: true})); got != (Person{Name: "Bo", Age: 5}) {
			t.Errorf("json schema: got %+v", got)
		}
	}
	if n := srv.Calls(gluetest.CreateSchema); n != 6 {
		t.Errorf("CreateSchema called %d times, want 6 (one per new schema name)", n)
	}
}

// The ESM's SOURCE mode (header stripped, version id in the metadata) and
// JSON mode, with a Glue schema version id.
func TestGlueESMModes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv, gc := newGlue(t)
	reg := ourserde.Glue(gc, glueRegistryName)
	vid := must[string](t)(srv.Register(glueRegistryName, "orders-value", "AVRO", orderSchemaV2))
	c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg, ourserde.WithSchema(orderSchemaV2)))
	want := sampleOrder()
	body := must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV2), want))
	meta := &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: strings.ToUpper(vid)}
	got := must[Order](t)(c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: body, Schema: meta}))
	if !equalOrders(got, want) {
		t.Errorf("SOURCE: got %+v", got)
	}
	js := `{"id":"o-1","symbol":"ACME","quantity":300,"price":10.25,"side":"SELL","tags":["a","b"],
		"note":"rush","attrs":{"desk":"eq"},"venue":"XLON"}`
	got = must[Order](t)(c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: []byte(js), Schema: meta}))
	if got.Symbol != "ACME" || got.Venue != "XLON" || got.Note == nil || *got.Note != "rush" {
		t.Errorf("JSON: got %+v", got)
	}

	p := must[ourserde.Codec[*testpb.Money]](t)(ourserde.Protobuf[*testpb.Money](reg))
	pvid := must[string](t)(srv.Register(glueRegistryName, "money-value", "PROTOBUF",
		"syntax = \"proto3\";\npackage kafkalambda.serde.testpb.common;\nmessage Money {\n  string currency = 1;\n  int64 units = 2;\n  int32 nanos = 3;\n}\n"))
	money := &testpb.Money{Currency: "USD", Units: 3}
	src := append([]byte{0}, must[[]byte](t)(proto.Marshal(money))...)
	pm := &ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: pvid}
	if got := must[*testpb.Money](t)(p.Deserialize(ctx, ourserde.Message{Topic: "money", Data: src, Schema: pm})); !proto.Equal(got, money) {
		t.Errorf("protobuf SOURCE: got %v", got)
	}
	if got := must[*testpb.Money](t)(p.Deserialize(ctx, ourserde.Message{Topic: "money", Data: []byte(`{"currency":"USD","units":"3"}`), Schema: pm})); !proto.Equal(got, money) {
		t.Errorf("protobuf JSON: got %v", got)
	}
}

// What cannot be read is a typed error naming the schema version id, and
// a failed fetch is retried and never cached.
func TestGlueErrors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv, gc := newGlue(t)
	reg := ourserde.Glue(gc, glueRegistryName)
	c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg, ourserde.WithSchema(orderSchemaV2)))
	body := must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV2), sampleOrder()))
	const unknown = "0b7e8f2c-1111-4222-8333-944455556666"

	_, err := c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: glueFrame(t, unknown, false, body)})
	var se *ourserde.Error
	if !errors.Is(err, ourserde.ErrUnknownSchema) || !errors.As(err, &se) || se.SchemaVersionID != unknown || se.FailureClass() != "record" {
		t.Fatalf("unknown version id: got %v", err)
	}
	if !strings.Contains(err.Error(), "schema version id "+unknown) {
		t.Errorf("error does not name the version id: %v", err)
	}

	// Not cached: once registered (out of band, with that id unknowable
	// here, so through a fresh id), a retried fetch succeeds after a 500.
	vid := must[string](t)(srv.Register(glueRegistryName, "orders-value", "AVRO", orderSchemaV2))
	srv.FailNext(gluetest.GetSchemaVersion, gluetest.Fault{Status: 500, Type: "InternalServiceException", Message: "boom"},
		gluetest.Fault{Status: 400, Type: "ThrottlingException", Message: "slow down"})
	before := srv.Calls(gluetest.GetSchemaVersion)
	must[Order](t)(c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: glueFrame(t, vid, false, body)}))
	if n := srv.Calls(gluetest.GetSchemaVersion) - before; n != 3 {
		t.Errorf("GetSchemaVersion called %d times, want 3 (two faults retried)", n)
	}

	srv.FailNext(gluetest.GetSchemaVersion, gluetest.Fault{Status: 400, Type: "AccessDeniedException", Message: "no"})
	_, err = c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: glueFrame(t, unknown, false, body)})
	if !errors.Is(err, ourserde.ErrRegistryAuth) || !errors.As(err, &se) || se.FailureClass() != "configuration" {
		t.Errorf("access denied: got %v", err)
	}

	// Auto-registration is off by default: an unregistered schema is
	// ErrUnknownSchema, the configuration's fault when writing.
	p := must[ourserde.Codec[Person]](t)(ourserde.JSONSchema[Person](reg, ourserde.WithSchema(personSchema)))
	_, err = p.Serialize(ctx, ourserde.Target{Topic: "nobody"}, Person{Name: "x"})
	if !errors.Is(err, ourserde.ErrUnknownSchema) || !errors.As(err, &se) || se.FailureClass() != "configuration" {
		t.Errorf("unregistered: got %v", err)
	}
	if n := srv.Calls(gluetest.RegisterSchemaVersion) + srv.Calls(gluetest.CreateSchema); n != 0 {
		t.Errorf("%d registrations with auto-registration off", n)
	}

	// Framing and registry kinds that do not match.
	cases := []struct {
		name string
		m    ourserde.Message
		want error
	}{
		{"confluent bytes", ourserde.Message{Data: append([]byte{0, 0, 0, 0, 7}, body...)}, ourserde.ErrFormatMismatch},
		{"numeric metadata id", ourserde.Message{Data: body, Schema: &ourserde.SchemaMeta{SchemaID: "7"}}, ourserde.ErrFormatMismatch},
		{"unknown version byte", ourserde.Message{Data: []byte{4, 0, 1}}, ourserde.ErrMagicByte},
		{"short header", ourserde.Message{Data: []byte{3, 0, 1, 2}}, ourserde.ErrTruncated},
		{"compression byte", ourserde.Message{Data: append([]byte{3, 9}, make([]byte, 20)...)}, ourserde.ErrCompression},
		{"corrupt zlib", ourserde.Message{Data: append(glueFrame(t, vid, false, nil), 0x78, 0x9c, 0xff, 0xff, 0xff)}, ourserde.ErrCompression},
		{"cut zlib", ourserde.Message{Data: glueFrame(t, vid, true, body)[:22]}, ourserde.ErrTruncated},
		{"zip bomb", ourserde.Message{Data: glueFrame(t, vid, true, make([]byte, 17<<20))}, ourserde.ErrCompression},
	}
	for _, tc := range cases {
		tc.m.Topic = "orders"
		if strings.HasSuffix(tc.name, " zlib") {
			tc.m.Data[1] = 5 // glueFrame(..., true, ...) sets it for the rest
		}
		_, err := c.Deserialize(ctx, tc.m)
		if !errors.Is(err, tc.want) || !errors.As(err, &se) || se.FailureClass() != "record" {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}

	// A Confluent codec given Glue bytes says so.
	conf := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](newTestRegistry(t).client, ourserde.WithSchema(orderSchemaV2)))
	if _, err := conf.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: glueFrame(t, vid, false, body)}); !errors.Is(err, ourserde.ErrFormatMismatch) {
		t.Errorf("Glue bytes to a Confluent codec: got %v", err)
	}
}

func TestGlueOptions(t *testing.T) {
	t.Parallel()
	_, gc := newGlue(t)
	if ourserde.Glue(nil, "r") != nil || ourserde.Glue(gc, "") != nil {
		t.Error("Glue with a nil client or no registry name is not nil")
	}
	_, err := ourserde.Avro[Order](ourserde.Glue(gc, "r"), ourserde.WithSchema(orderSchemaV2), ourserde.WithReferences(ourserde.Reference{Name: "x", Subject: "x", Version: 1}))
	if !errors.Is(err, ourserde.ErrInvalidOption) {
		t.Errorf("WithReferences with Glue: got %v", err)
	}
}

// Person is T for the Glue JSON Schema tests.
type Person struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

const personSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Person","type":"object",
"properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name"]}`

func equalOrders(a, b Order) bool { return reflect.DeepEqual(a, b) }

// Each record's framing is detected by its first byte and its metadata's
// id, unless pinned; a pin the registry cannot serve does not construct.
func TestWireFormatDetectionAndPin(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv, gc := newGlue(t)
	vid := must[string](t)(srv.Register(glueRegistryName, "orders-value", "AVRO", orderSchemaV2))
	body := must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV2), sampleOrder()))
	glueBytes := glueFrame(t, vid, false, body)
	confBytes := append([]byte{0, 0, 0, 0, 1}, body...)

	for _, tc := range []struct {
		name     string
		reg      ourserde.Registry
		pin      ourserde.WireFormat
		data     []byte
		want     error // nil: decodes
		buildErr bool
	}{
		{"glue auto, glue bytes", ourserde.Glue(gc, glueRegistryName), ourserde.WireFormatAuto, glueBytes, nil, false},
		{"glue auto, confluent bytes", ourserde.Glue(gc, glueRegistryName), ourserde.WireFormatAuto, confBytes, ourserde.ErrFormatMismatch, false},
		{"glue pinned, confluent bytes", ourserde.Glue(gc, glueRegistryName), ourserde.WireFormatGlue, confBytes, ourserde.ErrMagicByte, false},
		{"glue pinned, glue bytes", ourserde.Glue(gc, glueRegistryName), ourserde.WireFormatGlue, glueBytes, nil, false},
		{"confluent pinned, glue bytes", newTestRegistry(t).client, ourserde.WireFormatConfluent, glueBytes, ourserde.ErrMagicByte, false},
		{"confluent auto, glue bytes", newTestRegistry(t).client, ourserde.WireFormatAuto, glueBytes, ourserde.ErrFormatMismatch, false},
		{"glue registry pinned to confluent", ourserde.Glue(gc, glueRegistryName), ourserde.WireFormatConfluent, nil, nil, true},
		{"confluent registry pinned to glue", newTestRegistry(t).client, ourserde.WireFormatGlue, nil, nil, true},
	} {
		c, err := ourserde.Avro[Order](tc.reg, ourserde.WithSchema(orderSchemaV2), ourserde.WithWireFormat(tc.pin))
		if tc.buildErr {
			if !errors.Is(err, ourserde.ErrInvalidOption) {
				t.Errorf("%s: got %v, want ErrInvalidOption", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, err = c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: tc.data})
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := ourserde.Avro[Order](newTestRegistry(t).client, ourserde.WithWireFormat("X")); !errors.Is(err, ourserde.ErrInvalidOption) {
		t.Errorf("unknown wire format: got %v", err)
	}
}
