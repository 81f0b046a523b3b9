//go:build !serde.noglue

package serde_test

import (
	"context"
	"testing"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// BenchmarkRegistryDecode decodes the same record through a Confluent
// registry (srfake) and an AWS Glue one (gluetest, plain and zlib), in one
// run, schemas cached before the timer starts: what the Glue framing costs
// beside Confluent's.
//
//	go test -run '^$' -bench RegistryDecode -benchmem -count 5 ./serde/
func BenchmarkRegistryDecode(b *testing.B) {
	ctx := context.Background()
	conf := newTestRegistry(b).client
	_, gc := newGlue(b)
	glueReg := ourserde.Glue(gc, glueRegistryName)
	zlibReg := ourserde.Glue(gc, glueRegistryName, ourserde.WithGlueCompression(true))
	for _, reg := range []struct {
		name string
		r    ourserde.Registry
	}{{"confluent", conf}, {"glue", glueReg}, {"glue-zlib", zlibReg}} {
		av := must[ourserde.Codec[Order]](b)(ourserde.Avro[Order](reg.r, ourserde.WithSchema(orderSchemaV2), ourserde.WithAutoRegister(true)))
		avBin := must[[]byte](b)(av.Serialize(ctx, ourserde.Target{Topic: "bench-" + reg.name}, sampleOrder()))
		pb := must[ourserde.Codec[*testpb.Money]](b)(ourserde.Protobuf[*testpb.Money](reg.r, ourserde.WithAutoRegister(true)))
		pbBin := must[[]byte](b)(pb.Serialize(ctx, ourserde.Target{Topic: "bench-pb-" + reg.name}, &testpb.Money{Currency: "EUR", Units: 12, Nanos: 5}))
		b.Run("avro/"+reg.name, func(b *testing.B) {
			m := ourserde.Message{Topic: "bench", Data: avBin}
			must[Order](b)(av.Deserialize(ctx, m))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := av.Deserialize(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("protobuf/"+reg.name, func(b *testing.B) {
			m := ourserde.Message{Topic: "bench", Data: pbBin}
			must[*testpb.Money](b)(pb.Deserialize(ctx, m))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pb.Deserialize(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
