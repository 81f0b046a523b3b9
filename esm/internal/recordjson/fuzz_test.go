package recordjson_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/recordjson"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Fuzz target of the Avro JSON renderer. Run it with:
//
//	go test -run '^$' -fuzz '^FuzzAvroJSON$' -fuzztime 30s ./esm/internal/recordjson

const fuzzSchema = `{"type":"record","name":"F","namespace":"z","fields":[
 {"name":"s","type":"string"},
 {"name":"i","type":"int"},
 {"name":"b","type":"boolean"},
 {"name":"raw","type":"bytes"},
 {"name":"fx","type":{"type":"fixed","name":"Two","size":2}},
 {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
 {"name":"u","type":["null","string","long"]},
 {"name":"arr","type":{"type":"array","items":{"type":"record","name":"It","fields":[{"name":"n","type":"long"}]}}},
 {"name":"m","type":{"type":"map","values":["null","It"]}}
]}`

type fuzzIt struct {
	N int64 `avro:"n"`
}

type fuzzRec struct {
	S   string         `avro:"s"`
	I   int32          `avro:"i"`
	B   bool           `avro:"b"`
	Raw []byte         `avro:"raw"`
	Fx  [2]byte        `avro:"fx"`
	E   string         `avro:"e"`
	U   any            `avro:"u"`
	Arr []fuzzIt       `avro:"arr"`
	M   map[string]any `avro:"m"`
}

// FuzzAvroJSON: no body makes the renderer panic; a body it renders is
// valid JSON, and serde's ESM JSON-mode reader takes it back to the value
// hamba/avro decodes from the body .
func FuzzAvroJSON(f *testing.F) {
	schema := avro.MustParse(fuzzSchema)
	dec, err := recordjson.New(context.Background(), "AVRO", fuzzSchema, nil, false)
	if err != nil {
		f.Fatal(err)
	}
	reader, err := serde.Avro[fuzzRec](serde.Bundled(serde.Schema{Type: "AVRO", Text: fuzzSchema, ID: 1}), serde.WithEventRecordFormat(serde.EventRecordFormatJSON))
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range []fuzzRec{
		{S: "é\"\\\x00", I: -1, B: true, Raw: []byte{0, 0xff}, Fx: [2]byte{1, 2}, E: "C", U: map[string]any{"string": "x"},
			Arr: []fuzzIt{{1}, {-1}}, M: map[string]any{"k": nil, "l": map[string]any{"z.It": map[string]any{"n": int64(3)}}}},
		{E: "A", U: map[string]any{"long": int64(-7)}},
	} {
		b, err := avro.Marshal(schema, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		js, err := dec.JSON(body)
		if err != nil {
			return
		}
		if !json.Valid(js) {
			t.Fatalf("% x rendered as invalid JSON %q", body, js)
		}
		var direct fuzzRec
		if err := avro.Unmarshal(schema, body, &direct); err != nil {
			t.Fatalf("% x renders as %s, yet hamba/avro refuses it: %v", body, js, err)
		}
		back, err := reader.Deserialize(context.Background(), serde.Message{Data: js, Schema: &serde.SchemaMeta{DataFormat: "AVRO", SchemaID: "1"}})
		if err != nil {
			t.Fatalf("serde refuses %s (from % x): %v", js, body, err)
		}
		if !reflect.DeepEqual(back, direct) {
			t.Fatalf("% x: serde read %s back as %#v, hamba/avro decodes %#v", body, js, back, direct)
		}
	})
}

// FuzzProtobufJSON: no body makes the Protobuf decoder panic, with
// Confluent's message indexes or AWS Glue's index; a body it renders is
// valid JSON. Run it with:
//
//	go test -run '^$' -fuzz '^FuzzProtobufJSON$' -fuzztime 30s ./esm/internal/recordjson
func FuzzProtobufJSON(f *testing.F) {
	refs := map[string]string{"shop/common.proto": commonProto}
	conf, err := recordjson.New(context.Background(), "PROTOBUF", orderProto, refs, false)
	if err != nil {
		f.Fatal(err)
	}
	glue, err := recordjson.New(context.Background(), "PROTOBUF", orderProto, refs, true)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(false, []byte{2, 2, 0x0a, 3, 'o', '-', '1', 0x12, 5, 0x0a, 1, 'A', 0x10, 2, 0x1a, 4, 0x0a, 0, 0x12, 0})
	f.Add(true, []byte{1, 0x2a, 5, 0x0a, 3, 'E', 'U', 'R', 0x32, 2, 0x08, 1})
	f.Add(false, []byte{0, 0x0a, 0xff})
	f.Add(false, []byte{4, 2, 0, 0x0a, 1, 'x'})
	f.Fuzz(func(t *testing.T, useGlue bool, body []byte) {
		dec := conf
		if useGlue {
			dec = glue
		}
		js, err := dec.JSON(body)
		if err == nil && !json.Valid(js) {
			t.Fatalf("% x rendered as invalid JSON %q", body, js)
		}
	})
}
