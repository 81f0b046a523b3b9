//go:build !serde.noglue

package serde_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// ctorOf builds a codec of T on a registry with options.
type ctorOf[T any] func(r ourserde.Registry, opts ...ourserde.Option) (ourserde.Codec[T], error)

func jsonSchemaCtor(r ourserde.Registry, opts ...ourserde.Option) (ourserde.Codec[Payment], error) {
	js := make([]ourserde.JSONSchemaOption, 0, len(opts))
	for _, o := range opts {
		js = append(js, o)
	}
	return ourserde.JSONSchema[Payment](r, js...)
}

// checkBundledInterop runs one format through a Bundled registry against
// srfake: the registry-backed codec (regOpts) writes, the bundled codec
// (schema text: text, or what the registry holds when text is "" and the
// format is not Protobuf) writes byte-identical data with the pinned id,
// the registry-backed codec reads that, and then, with the registry shut
// down, the bundled codec reads every framing; an id off the allow-list is
// the record's fault.
func checkBundledInterop[T any](t *testing.T, typ, text string, ctor ctorOf[T], regOpts []ourserde.Option, want T, eq func(a, b T) bool) {
	t.Helper()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	topic := "bundled-" + strings.ToLower(typ)
	target := ourserde.Target{Topic: topic}

	viaReg := must[ourserde.Codec[T]](t)(ctor(reg.client, regOpts...))
	wire := must[[]byte](t)(viaReg.Serialize(ctx, target, want))
	withHdr := must[ourserde.Codec[T]](t)(ctor(reg.client, append(regOpts, ourserde.WithSchemaIDHeader())...))
	body, hdrs, err := withHdr.(ourserde.HeaderSerializer[T]).SerializeWithHeaders(ctx, target, want)
	if err != nil || len(hdrs) != 1 {
		t.Fatalf("SerializeWithHeaders: %v, %d headers", err, len(hdrs))
	}
	id := idOf(wire)
	idn, _ := strconv.Atoi(id)
	if text == "" && typ != "PROTOBUF" {
		text = must[ourserde.Schema](t)(reg.client.SchemaByID(ctx, idn)).Text
	}
	bundled := must[ourserde.Codec[T]](t)(ctor(ourserde.Bundled(ourserde.Schema{Type: typ, Text: text, ID: idn},
		ourserde.WithAllowedIDs(id))))

	// Writing with the pinned id: the same bytes, and the registry-backed
	// reader reads them.
	bw := must[[]byte](t)(bundled.Serialize(ctx, target, want))
	if !bytes.Equal(bw, wire) {
		t.Fatalf("bundled wrote\n% x\nthe registry codec\n% x", bw, wire)
	}
	fresh := must[ourserde.Codec[T]](t)(ctor(reg.client, regOpts...))
	if got := must[T](t)(fresh.Deserialize(ctx, ourserde.Message{Topic: topic, Data: bw})); !eq(got, want) {
		t.Fatalf("the registry codec read %+v from bundled bytes", got)
	}

	reg.fake.Close() // no registry is reachable from here on
	src := wire[5:]
	for _, tc := range []struct {
		name string
		m    ourserde.Message
	}{
		{"Confluent prefix", ourserde.Message{Data: wire}},
		{"ESM SOURCE", ourserde.Message{Data: src, Schema: &ourserde.SchemaMeta{DataFormat: typ, SchemaID: id}}},
		{"schema id header", ourserde.Message{Data: body, Headers: []ourserde.Header{{Key: hdrs[0].Key, Value: hdrs[0].Value}}}},
	} {
		tc.m.Topic = topic
		got, err := bundled.Deserialize(ctx, tc.m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !eq(got, want) {
			t.Fatalf("%s: got %+v, want %+v", tc.name, got, want)
		}
	}

	// Another id: refused by the allow-list, read without one.
	other := append([]byte{0, 0, 0, 0, 99}, src...)
	_, err = bundled.Deserialize(ctx, ourserde.Message{Topic: topic, Data: other})
	var e *ourserde.Error
	if !errors.Is(err, ourserde.ErrSchemaNotAllowed) || !errors.Is(err, ourserde.ErrUnknownSchema) ||
		!errors.As(err, &e) || e.SchemaID != 99 || e.Topic != topic || e.FailureClass() != "record" {
		t.Fatalf("id 99: %v (%#v)", err, e)
	}
	open := must[ourserde.Codec[T]](t)(ctor(ourserde.Bundled(ourserde.Schema{Type: typ, Text: text})))
	if got := must[T](t)(open.Deserialize(ctx, ourserde.Message{Topic: topic, Data: other})); !eq(got, want) {
		t.Fatalf("no allow-list: got %+v", got)
	}
	_, err = open.Serialize(ctx, target, want)
	if !errors.Is(err, ourserde.ErrUnknownSchema) || !errors.As(err, &e) || e.FailureClass() != "configuration" {
		t.Fatalf("writing without a pinned id: %v", err)
	}

	// WithUseLatest writes the bundled schema with its pinned id; without
	// one there is no latest version.
	latest := must[ourserde.Codec[T]](t)(ctor(ourserde.Bundled(ourserde.Schema{Type: typ, Text: text, ID: idn}), ourserde.WithUseLatest()))
	if lw := must[[]byte](t)(latest.Serialize(ctx, target, want)); !bytes.Equal(lw, wire) {
		t.Fatalf("WithUseLatest wrote\n% x\nwant\n% x", lw, wire)
	}
	latest = must[ourserde.Codec[T]](t)(ctor(ourserde.Bundled(ourserde.Schema{Type: typ, Text: text}), ourserde.WithUseLatest()))
	if _, err := latest.Serialize(ctx, target, want); !errors.Is(err, ourserde.ErrUnknownSchema) {
		t.Fatalf("WithUseLatest without a pinned id: %v", err)
	}
}

func TestBundledInterop(t *testing.T) {
	t.Parallel()
	t.Run("avro", func(t *testing.T) {
		t.Parallel()
		checkBundledInterop(t, "AVRO", "", ourserde.Avro[Order], []ourserde.Option{ourserde.WithSchema(orderSchemaV2)},
			sampleOrder(), func(a, b Order) bool { return reflect.DeepEqual(a, b) })
	})
	t.Run("protobuf, T's own file", func(t *testing.T) {
		t.Parallel()
		checkBundledInterop(t, "PROTOBUF", "", ourserde.Protobuf[*testpb.Trade], nil,
			sampleTrade(), func(a, b *testpb.Trade) bool { return proto.Equal(a, b) })
	})
	t.Run("protobuf, bundled text", func(t *testing.T) {
		t.Parallel()
		checkBundledInterop(t, "PROTOBUF", mustReadProto(t), ourserde.Protobuf[*testpb.Trade], nil,
			sampleTrade(), func(a, b *testpb.Trade) bool { return proto.Equal(a, b) })
	})
	t.Run("json schema", func(t *testing.T) {
		t.Parallel()
		checkBundledInterop(t, "JSON", "", jsonSchemaCtor, []ourserde.Option{ourserde.WithSchema(paymentSchema)},
			Payment{ID: "p-1", Amount: 12.5}, func(a, b Payment) bool { return a == b })
	})
}

// AWS Glue framing: a Glue-registry codec's compressed bytes decode with
// the bundled schema, and the bundled codec pinned to the schema version
// id writes the Glue format, which the Glue codec reads; Confluent-framed
// data names an id off the allow-list.
func TestBundledGlue(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv, gc := newGlue(t)
	reg := ourserde.Glue(gc, glueRegistryName, ourserde.WithGlueCompression(true))

	vid := must[string](t)(srv.Register(glueRegistryName, "orders-value", "AVRO", orderSchemaV2))
	viaGlue := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg, ourserde.WithSchema(orderSchemaV2)))
	want := sampleOrder()
	target := ourserde.Target{Topic: "orders"}
	compressed := must[[]byte](t)(viaGlue.Serialize(ctx, target, want))
	if compressed[0] != 3 || compressed[1] != 5 {
		t.Fatalf("the Glue codec wrote header % x", compressed[:2])
	}
	bundled := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](
		ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, GUID: vid}, ourserde.WithAllowedIDs(vid))))
	for _, m := range []ourserde.Message{
		{Topic: "orders", Data: compressed},
		{Topic: "orders", Data: must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV2), want)),
			Schema: &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: vid}},
	} {
		if got := must[Order](t)(bundled.Deserialize(ctx, m)); !equalOrders(got, want) {
			t.Fatalf("got %+v", got)
		}
	}
	bw := must[[]byte](t)(bundled.Serialize(ctx, target, want))
	if exp := glueFrame(t, vid, false, must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV2), want))); !bytes.Equal(bw, exp) {
		t.Fatalf("bundled wrote\n% x\nwant\n% x", bw, exp)
	}
	if got := must[Order](t)(viaGlue.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: bw})); !equalOrders(got, want) {
		t.Fatalf("the Glue codec read %+v", got)
	}
	_, err := bundled.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: append([]byte{0, 0, 0, 0, 7}, bw[18:]...)})
	if !errors.Is(err, ourserde.ErrSchemaNotAllowed) {
		t.Fatalf("Confluent id 7: %v", err)
	}

	// Protobuf: the Glue message index, against the bundled text.
	moneyProto := "syntax = \"proto3\";\npackage kafkalambda.serde.testpb.common;\nmessage Money {\n  string currency = 1;\n  int64 units = 2;\n  int32 nanos = 3;\n}\n"
	mvid := must[string](t)(srv.Register(glueRegistryName, "money-value", "PROTOBUF", moneyProto))
	pGlue := must[ourserde.Codec[*testpb.Money]](t)(ourserde.Protobuf[*testpb.Money](reg, ourserde.WithSchema(moneyProto)))
	money := &testpb.Money{Currency: "EUR", Units: 9}
	pw := must[[]byte](t)(pGlue.Serialize(ctx, ourserde.Target{Topic: "money"}, money))
	pb := must[ourserde.Codec[*testpb.Money]](t)(ourserde.Protobuf[*testpb.Money](
		ourserde.Bundled(ourserde.Schema{Type: "PROTOBUF", Text: moneyProto, GUID: mvid})))
	if got := must[*testpb.Money](t)(pb.Deserialize(ctx, ourserde.Message{Topic: "money", Data: pw})); !proto.Equal(got, money) {
		t.Fatalf("protobuf: got %v", got)
	}
	pbw := must[[]byte](t)(pb.Serialize(ctx, ourserde.Target{Topic: "money"}, money))
	if got := must[*testpb.Money](t)(pGlue.Deserialize(ctx, ourserde.Message{Topic: "money", Data: pbw})); !proto.Equal(got, money) {
		t.Fatalf("protobuf: the Glue codec read %v", got)
	}
}

// A bundled codec never reaches for a registry: nothing but the bundled
// schema is there, and no option or call makes one appear.
func TestBundledOptions(t *testing.T) {
	t.Parallel()
	const guid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"unknown type", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Type: "XML", Text: "x"}))
			return err
		}},
		{"format of another codec", func() error {
			_, err := ourserde.Protobuf[*testpb.Trade](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2}))
			return err
		}},
		{"Avro without text", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{}))
			return err
		}},
		{"both ids", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, ID: 1, GUID: guid}))
			return err
		}},
		{"bad GUID", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, GUID: "nope"}))
			return err
		}},
		{"bad allowed id", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2}, ourserde.WithAllowedIDs("x1")))
			return err
		}},
		{"references", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2}), ourserde.WithReferences())
			return err
		}},
		{"schema id header with a Glue id", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, GUID: guid}), ourserde.WithSchemaIDHeader())
			return err
		}},
		{"not valid Avro", func() error {
			_, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: `{"type": "record"}`}))
			return err
		}},
	} {
		if err := tc.err(); !errors.Is(err, ourserde.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", tc.name, err)
		}
	}

	// WithSchema other than the bundled text: reading resolves against it,
	// writing is the configuration's fault.
	ctx := context.Background()
	c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV1, ID: 5}),
		ourserde.WithSchema(orderSchemaV2)))
	v1 := must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV1), map[string]any{
		"id": "o-1", "symbol": "ACME", "quantity": 1, "price": 1.5, "side": "BUY",
		"tags": []any{}, "note": nil, "attrs": map[string]any{}, "legacy_flag": true}))
	got := must[Order](t)(c.Deserialize(ctx, ourserde.Message{Topic: "o", Data: append([]byte{0, 0, 0, 0, 5}, v1...)}))
	if got.ID != "o-1" || got.Venue != "XNYS" {
		t.Fatalf("resolved %+v", got)
	}
	_, err := c.Serialize(ctx, ourserde.Target{Topic: "o"}, got)
	var e *ourserde.Error
	if !errors.Is(err, ourserde.ErrUnknownSchema) || !errors.As(err, &e) || e.FailureClass() != "configuration" {
		t.Fatalf("writing another schema: %v", err)
	}
}

// ESM JSON mode: the metadata's id is checked against the allow-list, and
// the JSON is read with the bundled schema.
func TestBundledESMJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2},
		ourserde.WithAllowedIDs("12", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"))))
	js := []byte(`{"id":"o-1","symbol":"ACME","quantity":300,"price":10.25,"side":"SELL","tags":["a","b"],
		"note":"rush","attrs":{"desk":"eq"},"venue":"XLON"}`)
	want := sampleOrder()
	for _, id := range []string{"12", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"} {
		got := must[Order](t)(c.Deserialize(ctx, ourserde.Message{Topic: "o", Data: js, Schema: &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: id}}))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("id %s: got %+v", id, got)
		}
	}
	_, err := c.Deserialize(ctx, ourserde.Message{Topic: "o", Data: js, Schema: &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: "13"}})
	if !errors.Is(err, ourserde.ErrSchemaNotAllowed) {
		t.Fatalf("id 13: %v", err)
	}

	p := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](ourserde.Bundled(ourserde.Schema{Type: "PROTOBUF"})))
	trade := sampleTrade()
	got := must[*testpb.Trade](t)(p.Deserialize(ctx, ourserde.Message{Topic: "t", Data: must[[]byte](t)(protojson.Marshal(trade)),
		Schema: &ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: "77"}}))
	if !proto.Equal(got, trade) {
		t.Fatalf("protobuf: got %v", got)
	}
}

// The ids a Bundled registry accepts: its own write id by default (a
// producer that moves to another schema version is not read with the old
// schema), exactly the WithAllowedIDs list when given (it replaces the
// default), and any id only when it has no id at all.
func TestBundledAllowedDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const guid, other = "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
	body := must[[]byte](t)(avro.Marshal(avro.MustParse(orderSchemaV2), sampleOrder()))
	confluent := func(id byte) ourserde.Message {
		return ourserde.Message{Topic: "o", Data: append([]byte{0, 0, 0, 0, id}, body...)}
	}
	source := func(id string) ourserde.Message {
		return ourserde.Message{Topic: "o", Data: body, Schema: &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: id}}
	}
	for _, tc := range []struct {
		name          string
		reg           ourserde.Registry
		read, refused []ourserde.Message
	}{
		{"Schema.ID", ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, ID: 42}),
			[]ourserde.Message{confluent(42), source("42")},
			[]ourserde.Message{confluent(43), source("43"), source(guid)}},
		{"Schema.GUID", ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, GUID: guid}),
			[]ourserde.Message{source(guid), source(strings.ToUpper(guid))},
			[]ourserde.Message{source(other), confluent(1), source("1")}},
		{"WithAllowedIDs replaces the default", ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, ID: 42}, ourserde.WithAllowedIDs("41"), ourserde.WithAllowedIDs(guid)),
			[]ourserde.Message{confluent(41), source("41"), source(guid)},
			[]ourserde.Message{confluent(42), source("42"), confluent(43)}},
		{"no id: any id", ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2}),
			[]ourserde.Message{confluent(1), confluent(99), source("7"), source(guid)}, nil},
	} {
		c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](tc.reg))
		for _, m := range tc.read {
			if got, err := c.Deserialize(ctx, m); err != nil || !equalOrders(got, sampleOrder()) {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		for _, m := range tc.refused {
			_, err := c.Deserialize(ctx, m)
			var e *ourserde.Error
			if !errors.Is(err, ourserde.ErrSchemaNotAllowed) || !errors.As(err, &e) || e.FailureClass() != "record" {
				t.Errorf("%s: %v, want the record's ErrSchemaNotAllowed", tc.name, err)
			}
		}
	}

	// An empty list would refuse every record: the configuration's fault.
	if _, err := ourserde.Avro[Order](ourserde.Bundled(ourserde.Schema{Text: orderSchemaV2, ID: 42}, ourserde.WithAllowedIDs())); !errors.Is(err, ourserde.ErrInvalidOption) {
		t.Fatalf("WithAllowedIDs(): %v, want ErrInvalidOption", err)
	}
}
