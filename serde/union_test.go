//go:build !serde.noglue

package serde_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// Refund is the second Avro record type of the union tests' topic.
type Refund struct {
	OrderID string  `avro:"order_id" json:"order_id"`
	Amount  float64 `avro:"amount" json:"amount"`
}

const refundSchema = `{"type": "record", "name": "Refund", "namespace": "com.example.trading",
  "fields": [{"name": "order_id", "type": "string"}, {"name": "amount", "type": "double"}]}`

// cancelSchema is a type the unions have no case for.
const cancelSchema = `{"type": "record", "name": "Cancel", "namespace": "com.example.trading",
  "fields": [{"name": "order_id", "type": "string"}]}`

// event is the sum type of the union tests: what a case yields.
type event struct {
	order  *Order
	refund *Refund
}

// wantUnknownType checks err is the record's ErrUnknownRecordType naming
// typ, topic and schema id.
func wantUnknownType(t *testing.T, err error, typ, topic string, id int) {
	t.Helper()
	var e *ourserde.Error
	if !errors.Is(err, ourserde.ErrUnknownRecordType) || !errors.As(err, &e) {
		t.Fatalf("got %v, want ErrUnknownRecordType", err)
	}
	if e.RecordType != typ || e.Topic != topic || e.SchemaID != id || e.FailureClass() != "record" {
		t.Fatalf("got %#v (class %s), want type %q, topic %q, schema id %d", e, e.FailureClass(), typ, topic, id)
	}
}

// Two Avro record types on one topic, written under TopicRecordNameStrategy
// subjects, read through one Union into a struct sum type; a third type is
// the record's fault.
func TestUnionAvro(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	const topic = "trading-events"
	strategy := ourserde.WithSubjectNameStrategy(ourserde.TopicRecordNameStrategy)
	orders := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2), strategy))
	refunds := must[ourserde.Codec[Refund]](t)(ourserde.Avro[Refund](reg.client, ourserde.WithSchema(refundSchema), strategy))
	cancels := must[ourserde.Codec[map[string]any]](t)(ourserde.Avro[map[string]any](reg.client, ourserde.WithSchema(cancelSchema), strategy))

	target := ourserde.Target{Topic: topic}
	order, refund := sampleOrder(), Refund{OrderID: "o-1", Amount: 2.5}
	ow := must[[]byte](t)(orders.Serialize(ctx, target, order))
	rw := must[[]byte](t)(refunds.Serialize(ctx, target, refund))
	cw := must[[]byte](t)(cancels.Serialize(ctx, target, map[string]any{"order_id": "o-1"}))
	for _, subject := range []string{topic + "-com.example.trading.Order", topic + "-com.example.trading.Refund", topic + "-com.example.trading.Cancel"} {
		if _, err := reg.client.SubjectVersions(ctx, subject); err != nil {
			t.Fatalf("subject %s: %v", subject, err)
		}
	}

	u := must[ourserde.Deserializer[event]](t)(ourserde.Union[event](reg.client,
		ourserde.Case("com.example.trading.Order", ourserde.Deserializer[Order](orders), func(o Order) event { return event{order: &o} }),
		ourserde.Case("com.example.trading.Refund", ourserde.Deserializer[Refund](refunds), func(r Refund) event { return event{refund: &r} }),
	))
	for _, tc := range []struct {
		name string
		m    ourserde.Message
		want event
	}{
		{"order", ourserde.Message{Data: ow}, event{order: &order}},
		{"refund", ourserde.Message{Data: rw}, event{refund: &refund}},
		{"refund, ESM SOURCE", ourserde.Message{Data: rw[5:], Schema: &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: idOf(rw)}}, event{refund: &refund}},
		{"refund, ESM JSON", ourserde.Message{Data: []byte(`{"order_id":"o-1","amount":2.5}`), Schema: &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: idOf(rw)}}, event{refund: &refund}},
	} {
		tc.m.Topic = topic
		got, err := u.Deserialize(ctx, tc.m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	_, err := u.Deserialize(ctx, ourserde.Message{Topic: topic, Data: cw})
	wantUnknownType(t, err, "com.example.trading.Cancel", topic, must[int](t)(strconv.Atoi(idOf(cw))))
	_, err = u.Deserialize(ctx, ourserde.Message{Topic: topic, Data: []byte{0, 0, 0}})
	if !errors.Is(err, ourserde.ErrTruncated) {
		t.Fatalf("short data: %v", err)
	}
}

// Two Protobuf messages of one file (indexes [0] and [1]) on one topic,
// into an interface sum type with no conversion funcs; a message of
// another file and a nested one are unknown types.
func TestUnionProtobuf(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	const topic = "pb-events"
	strategy := ourserde.WithSubjectNameStrategy(ourserde.TopicRecordNameStrategy)
	envelopes := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client, strategy))
	trades := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg.client, strategy))
	legs := must[ourserde.Codec[*testpb.Trade_Leg]](t)(ourserde.Protobuf[*testpb.Trade_Leg](reg.client, strategy))
	money := must[ourserde.Codec[*testpb.Money]](t)(ourserde.Protobuf[*testpb.Money](reg.client, ourserde.WithSubjectNameStrategy(ourserde.RecordNameStrategy)))

	target := ourserde.Target{Topic: topic}
	env, trade := &testpb.Envelope{Id: "e-1", Payload: []byte{1, 2}}, sampleTrade()
	ew := must[[]byte](t)(envelopes.Serialize(ctx, target, env))
	tw := must[[]byte](t)(trades.Serialize(ctx, target, trade))
	lw := must[[]byte](t)(legs.Serialize(ctx, target, &testpb.Trade_Leg{Venue: "XNYS"}))
	mw := must[[]byte](t)(money.Serialize(ctx, target, &testpb.Money{Currency: "USD"}))
	for _, subject := range []string{topic + "-kafkalambda.serde.testpb.Envelope", topic + "-kafkalambda.serde.testpb.Trade", "kafkalambda.serde.testpb.common.Money"} {
		if _, err := reg.client.SubjectVersions(ctx, subject); err != nil {
			t.Fatalf("subject %s: %v", subject, err)
		}
	}

	u := must[ourserde.Deserializer[proto.Message]](t)(ourserde.Union[proto.Message](reg.client,
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Envelope", ourserde.Deserializer[*testpb.Envelope](envelopes), nil),
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Trade", ourserde.Deserializer[*testpb.Trade](trades), nil),
	))
	for _, tc := range []struct {
		name string
		m    ourserde.Message
		want proto.Message
	}{
		{"envelope", ourserde.Message{Data: ew}, env},
		{"trade", ourserde.Message{Data: tw}, trade},
		{"trade, ESM SOURCE", ourserde.Message{Data: tw[5:], Schema: &ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: idOf(tw)}}, trade},
	} {
		tc.m.Topic = topic
		got, err := u.Deserialize(ctx, tc.m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !proto.Equal(got, tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err := u.Deserialize(ctx, ourserde.Message{Topic: topic, Data: lw})
	wantUnknownType(t, err, "kafkalambda.serde.testpb.Trade.Leg", topic, must[int](t)(strconv.Atoi(idOf(lw))))
	_, err = u.Deserialize(ctx, ourserde.Message{Topic: topic, Data: mw})
	wantUnknownType(t, err, "kafkalambda.serde.testpb.common.Money", topic, must[int](t)(strconv.Atoi(idOf(mw))))

	// ESM JSON mode has no indexes: two cases in the file are ambiguous,
	// one is not.
	js := must[[]byte](t)(protojson.Marshal(env))
	meta := &ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: idOf(ew)}
	if _, err := u.Deserialize(ctx, ourserde.Message{Topic: topic, Data: js, Schema: meta}); !errors.Is(err, ourserde.ErrUnknownRecordType) {
		t.Fatalf("JSON mode, two cases: %v", err)
	}
	one := must[ourserde.Deserializer[proto.Message]](t)(ourserde.Union[proto.Message](reg.client,
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Envelope", ourserde.Deserializer[*testpb.Envelope](envelopes), nil)))
	if got := must[proto.Message](t)(one.Deserialize(ctx, ourserde.Message{Topic: topic, Data: js, Schema: meta})); !proto.Equal(got, env) {
		t.Fatalf("JSON mode, one case: got %v", got)
	}
}

// Two JSON Schema types told apart by "title".
func TestUnionJSONSchema(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	const topic = "json-events"
	const refundJSONSchema = `{"title": "Refund", "type": "object",
		"properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}}, "required": ["order_id"]}`
	strategy := ourserde.WithSubjectNameStrategy(ourserde.RecordNameStrategy)
	payments := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(paymentSchema), strategy))
	refunds := must[ourserde.Codec[Refund]](t)(ourserde.JSONSchema[Refund](reg.client, ourserde.WithSchema(refundJSONSchema), strategy))
	target := ourserde.Target{Topic: topic}
	pw := must[[]byte](t)(payments.Serialize(ctx, target, Payment{ID: "p", Amount: 1}))
	rw := must[[]byte](t)(refunds.Serialize(ctx, target, Refund{OrderID: "o", Amount: 2}))

	u := must[ourserde.Deserializer[any]](t)(ourserde.Union[any](reg.client,
		ourserde.Case[any]("Payment", ourserde.Deserializer[Payment](payments), nil)))
	if got := must[any](t)(u.Deserialize(ctx, ourserde.Message{Topic: topic, Data: pw})); got != (Payment{ID: "p", Amount: 1}) {
		t.Fatalf("payment: got %+v", got)
	}
	_, err := u.Deserialize(ctx, ourserde.Message{Topic: topic, Data: rw})
	wantUnknownType(t, err, "Refund", topic, must[int](t)(strconv.Atoi(idOf(rw))))
}

// Building a Union checks its cases.
func TestUnionOptions(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	d := ourserde.Deserializer[Order](must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client)))
	to := func(o Order) event { return event{order: &o} }
	for _, tc := range []struct {
		name  string
		r     ourserde.Registry
		cases []ourserde.UnionCase[event]
	}{
		{"nil registry", nil, []ourserde.UnionCase[event]{ourserde.Case("a", d, to)}},
		{"no case", reg.client, nil},
		{"empty type", reg.client, []ourserde.UnionCase[event]{ourserde.Case("", d, to)}},
		{"nil deserializer", reg.client, []ourserde.UnionCase[event]{ourserde.Case[event, Order]("a", nil, to)}},
		{"nil func, not assignable", reg.client, []ourserde.UnionCase[event]{ourserde.Case[event]("a", d, nil)}},
		{"two cases of a type", reg.client, []ourserde.UnionCase[event]{ourserde.Case("a", d, to), ourserde.Case("a", d, to)}},
		{"zero case", reg.client, []ourserde.UnionCase[event]{{}}},
	} {
		if _, err := ourserde.Union[event](tc.r, tc.cases...); !errors.Is(err, ourserde.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", tc.name, err)
		}
	}
}

// Over AWS Glue: the Protobuf record type is the Glue message index's
// place among the schema's messages sorted by full name (Envelope is the
// second of two here), and Avro's is read by schema version id.
func TestUnionGlue(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv, gc := newGlue(t)
	reg := ourserde.Glue(gc, glueRegistryName)
	const envelopeProto = "syntax = \"proto3\";\npackage kafkalambda.serde.testpb;\nmessage Aaa {\n}\nmessage Envelope {\n  string id = 1;\n  bytes payload = 2;\n}\n"
	vid := must[string](t)(srv.Register(glueRegistryName, "pb-events-envelope", "PROTOBUF", envelopeProto))
	must[string](t)(srv.Register(glueRegistryName, "pb-events-order", "AVRO", orderSchemaV2))
	byName := func(_ ourserde.Target, record string) string {
		if record == "com.example.trading.Order" {
			return "pb-events-order"
		}
		return "pb-events-envelope"
	}
	envelopes := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg,
		ourserde.WithSchema(envelopeProto), ourserde.WithSubjectNameStrategy(byName)))
	orders := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg, ourserde.WithSchema(orderSchemaV2), ourserde.WithSubjectNameStrategy(byName)))
	target := ourserde.Target{Topic: "mixed"}
	env := &testpb.Envelope{Id: "e-1"}
	ew := must[[]byte](t)(envelopes.Serialize(ctx, target, env))
	ow := must[[]byte](t)(orders.Serialize(ctx, target, sampleOrder()))
	if ew[18] != 1 {
		t.Fatalf("Envelope's Glue message index is %d, want 1", ew[18])
	}
	u := must[ourserde.Deserializer[any]](t)(ourserde.Union[any](reg,
		ourserde.Case[any]("kafkalambda.serde.testpb.Envelope", envelopes, nil),
		ourserde.Case[any]("com.example.trading.Order", orders, nil)))
	if got := must[any](t)(u.Deserialize(ctx, ourserde.Message{Topic: "mixed", Data: ew})); !proto.Equal(got.(*testpb.Envelope), env) {
		t.Fatalf("envelope: got %v", got)
	}
	if got := must[any](t)(u.Deserialize(ctx, ourserde.Message{Topic: "mixed", Data: ow})); !reflect.DeepEqual(got, sampleOrder()) {
		t.Fatalf("order: got %v", got)
	}
	aaa := append(append([]byte(nil), ew[:18]...), 0) // index 0: Aaa, no case
	_, err := u.Deserialize(ctx, ourserde.Message{Topic: "mixed", Data: aaa})
	var e *ourserde.Error
	if !errors.Is(err, ourserde.ErrUnknownRecordType) || !errors.As(err, &e) ||
		e.RecordType != "kafkalambda.serde.testpb.Aaa" || e.SchemaVersionID != vid {
		t.Fatalf("Aaa: %v", err)
	}
}

// A Union has no T to take a Protobuf file from, so a Bundled Protobuf
// registry without the .proto text (or any bundled schema without text) is
// refused when the Union is built, not every record when it is read; with
// the text, records of its cases are read.
func TestUnionBundledNeedsText(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	for _, s := range []ourserde.Schema{{Type: "PROTOBUF", ID: 1}, {Type: "PROTOBUF"}, {Type: "AVRO", ID: 1}} {
		reg := ourserde.Bundled(s)
		var cs []ourserde.UnionCase[proto.Message]
		if s.Type == "PROTOBUF" {
			trades := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg))
			cs = append(cs, ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Trade", trades, nil))
		} else {
			cs = append(cs, ourserde.Case[proto.Message]("x.Y", ourserde.Deserializer[proto.Message](nilMessages{}), nil))
		}
		_, err := ourserde.Union[proto.Message](reg, cs...)
		if !errors.Is(err, ourserde.ErrInvalidOption) || !strings.Contains(err.Error(), "Schema.Text") {
			t.Errorf("%+v: %v, want ErrInvalidOption naming Schema.Text", s, err)
		}
	}

	reg := ourserde.Bundled(ourserde.Schema{Type: "PROTOBUF", Text: mustReadProto(t), ID: 1})
	trades := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg))
	u := must[ourserde.Deserializer[proto.Message]](t)(ourserde.Union[proto.Message](reg,
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Trade", trades, nil)))
	want := sampleTrade()
	w := must[[]byte](t)(trades.Serialize(ctx, ourserde.Target{Topic: "t"}, want))
	if got := must[proto.Message](t)(u.Deserialize(ctx, ourserde.Message{Topic: "t", Data: w})); !proto.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

// nilMessages is a Deserializer of an interface type that reads every
// record as a nil value and no error.
type nilMessages struct{}

func (nilMessages) Deserialize(context.Context, ourserde.Message) (proto.Message, error) {
	return nil, nil
}

// rawBytes is a named type that []byte is assignable to.
type rawBytes []byte

// bodies is a Deserializer of []byte: the record's data as is.
type bodies struct{}

func (bodies) Deserialize(_ context.Context, m ourserde.Message) ([]byte, error) { return m.Data, nil }

// A case without a func converts U to T as Go assignment does, never
// panicking: a nil interface U (a deserializer's nil value without an
// error) becomes the nil T, and a U assignable to a named T is converted.
func TestUnionCaseAssigns(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := ourserde.Bundled(ourserde.Schema{Text: refundSchema, ID: 1})
	m := ourserde.Message{Topic: "t", Data: []byte{0, 0, 0, 0, 1, 2, 'x'}}

	u := must[ourserde.Deserializer[any]](t)(ourserde.Union[any](reg,
		ourserde.Case[any]("com.example.trading.Refund", ourserde.Deserializer[proto.Message](nilMessages{}), nil)))
	if got, err := u.Deserialize(ctx, m); got != nil || err != nil {
		t.Fatalf("nil proto.Message: got %#v, %v; want nil, nil", got, err)
	}

	b := must[ourserde.Deserializer[rawBytes]](t)(ourserde.Union[rawBytes](reg,
		ourserde.Case[rawBytes]("com.example.trading.Refund", ourserde.Deserializer[[]byte](bodies{}), nil)))
	if got, err := b.Deserialize(ctx, m); err != nil || string(got) != string(m.Data) {
		t.Fatalf("[]byte as rawBytes: got %q, %v", got, err)
	}
}
