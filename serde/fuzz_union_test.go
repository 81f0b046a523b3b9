package serde_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// unionFuzzInput is one input of FuzzUnion.
type unionFuzzInput struct {
	data, header []byte
	format, id   string
}

func (in unionFuzzInput) message() ourserde.Message {
	m := ourserde.Message{Topic: "f", Data: in.data}
	if in.header != nil {
		m.Headers = []ourserde.Header{{Key: ourserde.ValueSchemaIDHeader, Value: in.header}}
	}
	if in.format != "" || in.id != "" {
		m.Schema = &ourserde.SchemaMeta{DataFormat: in.format, SchemaID: in.id}
	}
	return m
}

// unionFuzzSetup is FuzzUnion's Union (over a Bundled registry holding
// trade.proto, Envelope and Trade both, with id 1: no I/O) and its seeds;
// the first four are valid records of its cases.
func unionFuzzSetup(tb testing.TB) (ourserde.Deserializer[proto.Message], []unionFuzzInput) {
	tb.Helper()
	ctx := context.Background()
	reg := ourserde.Bundled(ourserde.Schema{Type: "PROTOBUF", Text: mustReadProto(tb), ID: 1})
	envelopes := must[ourserde.Codec[*testpb.Envelope]](tb)(ourserde.Protobuf[*testpb.Envelope](reg))
	trades := must[ourserde.Codec[*testpb.Trade]](tb)(ourserde.Protobuf[*testpb.Trade](reg))
	u := must[ourserde.Deserializer[proto.Message]](tb)(ourserde.Union[proto.Message](reg,
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Envelope", envelopes, nil),
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Trade", trades, nil)))
	tw := must[[]byte](tb)(trades.Serialize(ctx, ourserde.Target{Topic: "f"}, &testpb.Trade{TradeId: "t", Legs: []*testpb.Trade_Leg{{Venue: "v"}}}))
	ew := must[[]byte](tb)(envelopes.Serialize(ctx, ourserde.Target{Topic: "f"}, &testpb.Envelope{Id: "e"}))
	return u, []unionFuzzInput{
		{data: tw},
		{data: ew},
		{data: tw[5:], format: "PROTOBUF", id: "1"},
		{data: tw[7:], header: []byte{0, 0, 0, 0, 1, 2, 2}}, // the header carries the indexes
		{data: []byte(`{"id":"e"}`), format: "PROTOBUF", id: "7"},
		{data: []byte{3, 0, 0xb7, 0xb4, 0xa7, 0xf0, 0x9c, 0x96, 0x4e, 0x4a, 0xa6, 0x87, 0xfb, 0x5d, 0xe9, 0xef, 0x0c, 0x63, 4}},
		{data: []byte{0, 0, 0, 0, 1, 4, 2, 2}},
	}
}

// checkUnionFuzz is FuzzUnion's property for one input: a value of one of
// the cases' types, or the record's *Error. It reports whether it read.
func checkUnionFuzz(t *testing.T, u ourserde.Deserializer[proto.Message], in unionFuzzInput) bool {
	t.Helper()
	v, err := u.Deserialize(context.Background(), in.message())
	if err == nil {
		switch v.(type) {
		case *testpb.Envelope, *testpb.Trade:
		default:
			t.Fatalf("read a %T", v)
		}
		return true
	}
	var e *ourserde.Error
	if !errors.As(err, &e) || e.FailureClass() != "record" {
		t.Fatalf("%v is not a record's *Error", err)
	}
	return false
}

// FuzzUnion: a Union (over a Bundled registry, so no I/O) never panics on
// any data, schema id header or ESM metadata; every failure is an *Error
// with one of the package's sentinels, and what it reads is one of its
// cases' types.
func FuzzUnion(f *testing.F) {
	u, seeds := unionFuzzSetup(f)
	for _, s := range seeds {
		f.Add(s.data, s.header, s.format, s.id)
	}
	f.Fuzz(func(t *testing.T, data, header []byte, format, id string) {
		checkUnionFuzz(t, u, unionFuzzInput{data: data, header: header, format: format, id: id})
	})
}

// FuzzUnion's seeds reach its success branch: the valid records of every
// framing (Confluent prefix, ESM SOURCE, schema id header) are read.
func TestFuzzUnionSeedsRead(t *testing.T) {
	t.Parallel()
	u, seeds := unionFuzzSetup(t)
	for i, s := range seeds {
		if read := checkUnionFuzz(t, u, s); read != (i < 4) {
			t.Errorf("seed %d: read %v, want %v", i, read, i < 4)
		}
	}
}
