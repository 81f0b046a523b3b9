package serde_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// FuzzUnion: a Union (over a Bundled registry, so no I/O) never panics on
// any data, schema id header or ESM metadata; every failure is an *Error
// with one of the package's sentinels, and what it reads is one of its
// cases' types.
func FuzzUnion(f *testing.F) {
	ctx := context.Background()
	reg := ourserde.Bundled(ourserde.Schema{Type: "PROTOBUF", ID: 1})
	envelopes, err := ourserde.Protobuf[*testpb.Envelope](reg)
	if err != nil {
		f.Fatal(err)
	}
	trades, err := ourserde.Protobuf[*testpb.Trade](reg)
	if err != nil {
		f.Fatal(err)
	}
	u, err := ourserde.Union[proto.Message](reg,
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Envelope", envelopes, nil),
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Trade", trades, nil))
	if err != nil {
		f.Fatal(err)
	}
	tw, _ := trades.Serialize(ctx, ourserde.Target{Topic: "f"}, &testpb.Trade{TradeId: "t", Legs: []*testpb.Trade_Leg{{Venue: "v"}}})
	ew, _ := envelopes.Serialize(ctx, ourserde.Target{Topic: "f"}, &testpb.Envelope{Id: "e"})
	f.Add(tw, []byte(nil), "", "")
	f.Add(ew, []byte(nil), "", "")
	f.Add(tw[5:], []byte(nil), "PROTOBUF", "1")
	f.Add([]byte(`{"id":"e"}`), []byte(nil), "PROTOBUF", "7")
	f.Add(tw[6:], []byte{0, 0, 0, 0, 1, 2, 2}, "", "")
	f.Add([]byte{3, 0, 0xb7, 0xb4, 0xa7, 0xf0, 0x9c, 0x96, 0x4e, 0x4a, 0xa6, 0x87, 0xfb, 0x5d, 0xe9, 0xef, 0x0c, 0x63, 4}, []byte(nil), "", "")
	f.Add([]byte{0, 0, 0, 0, 1, 4, 2, 2}, []byte(nil), "", "")
	f.Fuzz(func(t *testing.T, data, header []byte, format, id string) {
		m := ourserde.Message{Topic: "f", Data: data}
		if header != nil {
			m.Headers = []ourserde.Header{{Key: ourserde.ValueSchemaIDHeader, Value: header}}
		}
		if format != "" || id != "" {
			m.Schema = &ourserde.SchemaMeta{DataFormat: format, SchemaID: id}
		}
		v, err := u.Deserialize(ctx, m)
		if err == nil {
			switch v.(type) {
			case *testpb.Envelope, *testpb.Trade:
			default:
				t.Fatalf("read a %T", v)
			}
			return
		}
		var e *ourserde.Error
		if !errors.As(err, &e) || e.FailureClass() != "record" {
			t.Fatalf("%v is not a record's *Error", err)
		}
	})
}
