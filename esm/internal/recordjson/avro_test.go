package recordjson_test

import (
	"context"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/recordjson"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

const tradeSchema = `{"type":"record","name":"Trade","namespace":"t","fields":[
 {"name":"id","type":"string"},
 {"name":"qty","type":"int"},
 {"name":"big","type":"long"},
 {"name":"ok","type":"boolean"},
 {"name":"px","type":"double"},
 {"name":"f","type":"float"},
 {"name":"raw","type":"bytes"},
 {"name":"tag","type":{"type":"fixed","name":"Tag","size":4}},
 {"name":"side","type":{"type":"enum","name":"Side","symbols":["BUY","SELL"]}},
 {"name":"note","type":["null","string"]},
 {"name":"leg","type":["null",{"type":"record","name":"Leg","fields":[{"name":"n","type":"long"}]}]},
 {"name":"legs","type":{"type":"array","items":"Leg"}},
 {"name":"attrs","type":{"type":"map","values":["null","long","string"]}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}
]}`

type leg struct {
	N int64 `avro:"n"`
}

type trade struct {
	ID     string         `avro:"id"`
	Qty    int32          `avro:"qty"`
	Big    int64          `avro:"big"`
	OK     bool           `avro:"ok"`
	Px     float64        `avro:"px"`
	F      float32        `avro:"f"`
	Raw    []byte         `avro:"raw"`
	Tag    [4]byte        `avro:"tag"`
	Side   string         `avro:"side"`
	Note   *string        `avro:"note"`
	Leg    *leg           `avro:"leg"`
	Legs   []leg          `avro:"legs"`
	Attrs  map[string]any `avro:"attrs"`
	Day    time.Time      `avro:"day"`
	At     time.Time      `avro:"at"`
	Amount *big.Rat       `avro:"amount"`
}

func sampleTrade() trade {
	note := "rush \"<&>\" é \u2028 \x01"
	return trade{
		ID: "o-1", Qty: -300, Big: math.MaxInt64, OK: true, Px: 0.1, F: 3.4028235e38,
		Raw: []byte{0, 1, 0x7f, 0x80, 0xff, '"', '\\'}, Tag: [4]byte{0xde, 0xad, 0, 1}, Side: "SELL",
		Note: &note, Leg: &leg{7}, Legs: []leg{{1}, {-2}},
		Attrs: map[string]any{"desk": "eq", "n": int64(-5), "none": nil},
		Day:   time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), At: time.UnixMilli(1764680000123).UTC(),
		Amount: big.NewRat(-123456, 100),
	}
}

// The Avro JSON written for a body reads back, through serde's ESM
// JSON-mode Avro reader, as exactly the value that was written: unions,
// bytes, fixed, enums, maps, arrays, nested records and logical types.
func TestAvroJSONRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := avro.MustParse(tradeSchema)
	want := sampleTrade()
	body, err := avro.Marshal(schema, want)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := recordjson.New(ctx, "AVRO", tradeSchema, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	js, err := dec.JSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(js) {
		t.Fatalf("not JSON: %s", js)
	}
	got := readAvroJSON[trade](t, js)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v\nfrom %s", got, want, js)
	}
	// A union's null and the special floats.
	want.Note, want.Leg, want.Px, want.F = nil, nil, math.Inf(-1), float32(math.Inf(1))
	body, _ = avro.Marshal(schema, want)
	if js, err = dec.JSON(body); err != nil {
		t.Fatal(err)
	}
	if got := readAvroJSON[trade](t, js); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v\nfrom %s", got, want, js)
	}
}

func readAvroJSON[T any](t *testing.T, js []byte) T {
	t.Helper()
	c, err := serde.Avro[T](serde.Bundled(serde.Schema{Type: "AVRO", Text: tradeSchema, ID: 1}), serde.WithEventRecordFormat(serde.EventRecordFormatJSON))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Deserialize(context.Background(), serde.Message{Topic: "t", Data: js, Schema: &serde.SchemaMeta{DataFormat: "AVRO", SchemaID: "1"}})
	if err != nil {
		t.Fatalf("serde reading %s: %v", js, err)
	}
	return v
}

// A body that is not exactly one value of its schema is an error, never
// JSON: truncated, with bytes left over, a bad union index, enum index or
// boolean byte, a string that is not UTF-8.
func TestAvroJSONRejects(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		schema string
		body   []byte
	}{
		"truncated string":  {`"string"`, []byte{10, 'a'}},
		"bytes left over":   {`"int"`, []byte{2, 0}},
		"empty":             {`"long"`, nil},
		"union index":       {`["null","int"]`, []byte{4}},
		"enum index":        {`{"type":"enum","name":"E","symbols":["A"]}`, []byte{2}},
		"boolean byte":      {`"boolean"`, []byte{2}},
		"not UTF-8":         {`"string"`, []byte{2, 0xff}},
		"int out of range":  {`"int"`, []byte{0x80, 0x80, 0x80, 0x80, 0x20}},
		"negative length":   {`"bytes"`, []byte{1}},
		"endless nulls":     {`{"type":"array","items":"null"}`, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}},
		"array truncated":   {`{"type":"array","items":"int"}`, []byte{4, 2}},
		"fixed truncated":   {`{"type":"fixed","name":"F","size":4}`, []byte{1, 2}},
		"bad varint":        {`"long"`, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		"map key not UTF-8": {`{"type":"map","values":"int"}`, []byte{2, 2, 0xff, 2, 0}},
	} {
		dec, err := recordjson.New(context.Background(), "AVRO", tc.schema, nil, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if js, err := dec.JSON(tc.body); err == nil {
			t.Errorf("%s: rendered %s, want an error", name, js)
		}
	}
}
