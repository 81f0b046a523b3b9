//go:build cgo

package serde_test

// Benchmarks against Confluent's Go serdes (confluent-kafka-go v2
// schemaregistry/serde) on the same bytes, and hamba/avro against goavro
// (srclient's codec). Run them with:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./serde/
//
// Each pair decodes (or encodes) the same value through the same srfake
// registry; schemas are cached before the timer starts.

import (
	"context"
	"reflect"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	cprotobuf "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/protobuf"
	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

type benchEnv struct {
	ctx   context.Context
	reg   *testRegistry
	avro  ourserde.Codec[Order]
	pb    ourserde.Codec[*testpb.Trade]
	cAvS  *avrov2.Serializer
	cAvD  *avrov2.Deserializer
	cPbS  *cprotobuf.Serializer
	cPbD  *cprotobuf.Deserializer
	avBin []byte // Confluent-written Avro wire bytes
	pbBin []byte // Confluent-written Protobuf wire bytes
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	e := &benchEnv{ctx: context.Background(), reg: newTestRegistry(b)}
	e.avro = must[ourserde.Codec[Order]](b)(ourserde.Avro[Order](e.reg.client, ourserde.WithSchema(orderSchemaV2)))
	e.pb = must[ourserde.Codec[*testpb.Trade]](b)(ourserde.Protobuf[*testpb.Trade](e.reg.client))
	cc := confluentClient(b, e.reg)
	e.cAvS = must[*avrov2.Serializer](b)(avrov2.NewSerializer(cc, serde.ValueSerde, avrov2.NewSerializerConfig()))
	e.cAvD = must[*avrov2.Deserializer](b)(avrov2.NewDeserializer(cc, serde.ValueSerde, avrov2.NewDeserializerConfig()))
	pconf := cprotobuf.NewSerializerConfig()
	pconf.CacheSchemas = true // Confluent's fastest setting
	e.cPbS = must[*cprotobuf.Serializer](b)(cprotobuf.NewSerializer(cc, serde.ValueSerde, pconf))
	e.cPbD = must[*cprotobuf.Deserializer](b)(cprotobuf.NewDeserializer(cc, serde.ValueSerde, cprotobuf.NewDeserializerConfig()))
	o := sampleOrder()
	e.avBin = must[[]byte](b)(e.cAvS.Serialize("bench", &o))
	e.pbBin = must[[]byte](b)(e.cPbS.Serialize("bench", sampleTrade()))
	// Warm every cache on both sides.
	must[Order](b)(e.avro.Deserialize(e.ctx, ourserde.Message{Topic: "bench", Data: e.avBin}))
	must[*testpb.Trade](b)(e.pb.Deserialize(e.ctx, ourserde.Message{Topic: "bench", Data: e.pbBin}))
	must[[]byte](b)(e.avro.Serialize(e.ctx, ourserde.Target{Topic: "bench"}, o))
	must[[]byte](b)(e.pb.Serialize(e.ctx, ourserde.Target{Topic: "bench"}, sampleTrade()))
	var v Order
	if err := e.cAvD.DeserializeInto("bench", e.avBin, &v); err != nil {
		b.Fatal(err)
	}
	if err := e.cPbD.DeserializeInto("bench", e.pbBin, &testpb.Trade{}); err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkAvroDecode(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		m := ourserde.Message{Topic: "bench", Data: e.avBin}
		for b.Loop() {
			if _, err := e.avro.Deserialize(e.ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("confluent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v Order
			if err := e.cAvD.DeserializeInto("bench", e.avBin, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAvroEncode(b *testing.B) {
	e := newBenchEnv(b)
	o := sampleOrder()
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		t := ourserde.Target{Topic: "bench"}
		for b.Loop() {
			if _, err := e.avro.Serialize(e.ctx, t, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("confluent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.cAvS.Serialize("bench", &o); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkProtobufDecode(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		m := ourserde.Message{Topic: "bench", Data: e.pbBin}
		for b.Loop() {
			if _, err := e.pb.Deserialize(e.ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("confluent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := e.cPbD.DeserializeInto("bench", e.pbBin, &testpb.Trade{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkProtobufEncode(b *testing.B) {
	e := newBenchEnv(b)
	msg := sampleTrade()
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		t := ourserde.Target{Topic: "bench"}
		for b.Loop() {
			if _, err := e.pb.Serialize(e.ctx, t, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("confluent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.cPbS.Serialize("bench", msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The Avro library choice: hamba (typed, into a struct) against goavro
// (srclient's codec, into map[string]any) on the same Avro body.
func BenchmarkAvroLibrary(b *testing.B) {
	o := sampleOrder()
	hs := avro.MustParse(orderSchemaV2)
	body := must[[]byte](b)(avro.Marshal(hs, o))
	codec := must[*goavro.Codec](b)(goavro.NewCodec(orderSchemaV2))
	native, _, err := codec.NativeFromBinary(body)
	if err != nil {
		b.Fatal(err)
	}
	api := avro.Config{TagKey: "avro"}.Freeze()
	b.Run("decode/hamba", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v Order
			if err := api.Unmarshal(hs, body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/goavro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := codec.NativeFromBinary(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/hamba", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := api.Marshal(hs, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/goavro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.BinaryFromNative(nil, native); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Serializers with WithUseLatest: the latest version is cached for the TTL
// (5 minutes by default), so each Serialize is a cache hit.
func BenchmarkUseLatestEncode(b *testing.B) {
	e := newBenchEnv(b)
	o, trade := sampleOrder(), sampleTrade()
	pay := Payment{ID: "p-1", Amount: 12.5, Memo: "rent"}
	must[[]byte](b)(e.avro.Serialize(e.ctx, ourserde.Target{Topic: "latest-avro"}, o))
	must[[]byte](b)(e.pb.Serialize(e.ctx, ourserde.Target{Topic: "latest-pb"}, trade))
	js := must[ourserde.Codec[Payment]](b)(ourserde.JSONSchema[Payment](e.reg.client, ourserde.WithSchema(paymentSchema)))
	must[[]byte](b)(js.Serialize(e.ctx, ourserde.Target{Topic: "latest-json"}, pay))
	av := must[ourserde.Codec[Order]](b)(ourserde.Avro[Order](e.reg.client, ourserde.WithSchema(orderSchemaV2), ourserde.WithUseLatest()))
	pb := must[ourserde.Codec[*testpb.Trade]](b)(ourserde.Protobuf[*testpb.Trade](e.reg.client, ourserde.WithUseLatest()))
	jl := must[ourserde.Codec[Payment]](b)(ourserde.JSONSchema[Payment](e.reg.client, ourserde.WithUseLatest()))
	b.Run("avro", func(b *testing.B) {
		b.ReportAllocs()
		t := ourserde.Target{Topic: "latest-avro"}
		for b.Loop() {
			if _, err := av.Serialize(e.ctx, t, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf", func(b *testing.B) {
		b.ReportAllocs()
		t := ourserde.Target{Topic: "latest-pb"}
		for b.Loop() {
			if _, err := pb.Serialize(e.ctx, t, trade); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonschema", func(b *testing.B) {
		b.ReportAllocs()
		t := ourserde.Target{Topic: "latest-json"}
		for b.Loop() {
			if _, err := jl.Serialize(e.ctx, t, pay); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Avro values an ESM in JSON mode delivers as plain JSON (the union field
// "note" as a bare string, so every branch of it is tried).
func BenchmarkAvroDecodeESMJSON(b *testing.B) {
	e := newBenchEnv(b)
	wire := must[[]byte](b)(e.avro.Serialize(e.ctx, ourserde.Target{Topic: "bench"}, sampleOrder()))
	m := ourserde.Message{Topic: "bench", Schema: &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: idOf(wire)},
		Data: []byte(`{"id":"o-1","symbol":"ACME","quantity":300,"price":10.25,"side":"SELL","tags":["a","b"],` +
			`"note":"rush","attrs":{"desk":"eq"},"venue":"XLON"}`)}
	want := sampleOrder()
	if got := must[Order](b)(e.avro.Deserialize(e.ctx, m)); !reflect.DeepEqual(got, want) {
		b.Fatalf("got %+v, want %+v", got, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.avro.Deserialize(e.ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}
