package serde_test

// What a Union and a Bundled registry cost over a registry codec alone, on
// the same bytes, schemas cached before the timer starts:
//
//	go test -run '^$' -bench 'Union|Bundled' -benchmem -count 5 ./serde/

import (
	"testing"

	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

func BenchmarkUnionProtobuf(b *testing.B) {
	ctx := testCtx(b)
	reg := newMemRegistry(b)
	trades := must[ourserde.Codec[*testpb.Trade]](b)(ourserde.Protobuf[*testpb.Trade](reg.client))
	envelopes := must[ourserde.Codec[*testpb.Envelope]](b)(ourserde.Protobuf[*testpb.Envelope](reg.client))
	u := must[ourserde.Deserializer[proto.Message]](b)(ourserde.Union[proto.Message](reg.client,
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Envelope", envelopes, nil),
		ourserde.Case[proto.Message]("kafkalambda.serde.testpb.Trade", trades, nil)))
	m := ourserde.Message{Topic: "bench", Data: must[[]byte](b)(trades.Serialize(ctx, ourserde.Target{Topic: "bench"}, sampleTrade()))}
	bundled := must[ourserde.Codec[*testpb.Trade]](b)(ourserde.Protobuf[*testpb.Trade](ourserde.Bundled(ourserde.Schema{Type: "PROTOBUF"})))
	for _, bc := range []struct {
		name string
		d    func() error
	}{
		{"codec", func() error { _, err := trades.Deserialize(ctx, m); return err }},
		{"union", func() error { _, err := u.Deserialize(ctx, m); return err }},
		{"bundled", func() error { _, err := bundled.Deserialize(ctx, m); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if err := bc.d(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.d(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
