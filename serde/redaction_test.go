package serde_test

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// The markers planted in bad values: a text one, and a number for places
// where only a number fits.
const (
	marker    = "PII-MARKER-7f3a"
	markerNum = "7355608123"
)

// echoText is a field type whose text (un)marshaler, like much user code,
// quotes the value in its error.
type echoText string

func (e *echoText) UnmarshalText(b []byte) error { return fmt.Errorf("bad text %s", b) }
func (e echoText) MarshalText() ([]byte, error)  { return nil, fmt.Errorf("bad text %s", string(e)) }

// echoJSON is the same for JSON.
type echoJSON struct{ S string }

func (e echoJSON) MarshalJSON() ([]byte, error) { return nil, fmt.Errorf("bad value %s", e.S) }

type narrow struct {
	N int8 `json:"n"`
}

type stamped struct {
	At time.Time `json:"at"`
}

// Event has Avro logical types that ESM JSON mode carries as text.
type Event struct {
	At     time.Time `avro:"at"`
	Amount *big.Rat  `avro:"amount"`
	Kind   string    `avro:"kind"`
	Count  int64     `avro:"count"`
}

const eventSchema = `{"type": "record", "name": "Event", "namespace": "com.example", "fields": [
  {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
  {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
  {"name": "count", "type": "long"}
]}`

type echoRecord struct {
	ID echoText `avro:"id"`
}

const echoSchema = `{"type": "record", "name": "Echo", "fields": [{"name": "id", "type": "string"}]}`

// Record contents are often personal data: no error of any codec may quote
// them. Every case plants a marker in a bad key or value and checks that
// the error is the expected one and its message does not hold the marker.
func TestErrorsNeverQuoteRecordContents(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)

	av := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
	avWire := must[[]byte](t)(av.Serialize(ctx, ourserde.Target{Topic: "r-avro"}, sampleOrder()))
	avMeta := &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: idOf(avWire)}
	ev := must[ourserde.Codec[Event]](t)(ourserde.Avro[Event](reg.client, ourserde.WithSchema(eventSchema)))
	evWire := must[[]byte](t)(ev.Serialize(ctx, ourserde.Target{Topic: "r-ev"},
		Event{At: time.UnixMilli(1700000000000).UTC(), Amount: big.NewRat(1, 4), Kind: "A", Count: 1}))
	evMeta := &ourserde.SchemaMeta{DataFormat: "AVRO", SchemaID: idOf(evWire)}
	echo := must[ourserde.Codec[echoRecord]](t)(ourserde.Avro[echoRecord](reg.client, ourserde.WithSchema(echoSchema)))
	echoPlain := must[ourserde.Codec[struct {
		ID string `avro:"id"`
	}]](t)(ourserde.Avro[struct {
		ID string `avro:"id"`
	}](reg.client, ourserde.WithSchema(echoSchema)))
	echoWire := must[[]byte](t)(echoPlain.Serialize(ctx, ourserde.Target{Topic: "r-echo"}, struct {
		ID string `avro:"id"`
	}{ID: marker}))
	pb := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg.client))
	pbWire := must[[]byte](t)(pb.Serialize(ctx, ourserde.Target{Topic: "r-pb"}, &testpb.Trade{TradeId: marker + marker}))
	pbMeta := &ourserde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: idOf(pbWire)}
	js := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(paymentSchema)))
	jsWire := must[[]byte](t)(js.Serialize(ctx, ourserde.Target{Topic: "r-js"}, Payment{ID: "p", Amount: 1}))
	jsNoValidation := must[ourserde.Codec[narrow]](t)(ourserde.JSONSchema[narrow](reg.client,
		ourserde.WithSchema(`{"type": "object"}`), ourserde.WithValidation(false)))
	jsHeader := jsWire[:5]

	frame := func(hdr []byte, body string) []byte { return append(append([]byte(nil), hdr...), body...) }

	for _, tc := range []struct {
		name string
		call func() error
		want error
		says string // what the message must still say, if anything
	}{
		// Plain JSON.
		{"JSON: string for a number", func() error {
			_, err := ourserde.JSON[Payment]().Deserialize(ctx, ourserde.Message{Data: []byte(`{"id":"x","amount":"` + marker + `"}`)})
			return err
		}, ourserde.ErrDecode, `cannot be stored in float64 (field Payment.amount)`},
		{"JSON: syntax error", func() error {
			_, err := ourserde.JSON[Payment]().Deserialize(ctx, ourserde.Message{Data: []byte(`{"id":"` + marker + `" "amount":1}`)})
			return err
		}, ourserde.ErrDecode, ""},
		{"JSON: ends early", func() error {
			_, err := ourserde.JSON[Payment]().Deserialize(ctx, ourserde.Message{Data: []byte(`{"id":"` + marker)})
			return err
		}, ourserde.ErrDecode, `unexpected end of JSON input`},
		{"JSON: number too large", func() error {
			_, err := ourserde.JSON[narrow]().Deserialize(ctx, ourserde.Message{Data: []byte(`{"n":` + markerNum + `}`)})
			return err
		}, ourserde.ErrDecode, `byte offset 15`},
		{"JSON: Unmarshaler error", func() error {
			_, err := ourserde.JSON[stamped]().Deserialize(ctx, ourserde.Message{Data: []byte(`{"at":"` + marker + `"}`)})
			return err
		}, ourserde.ErrDecode, `*time.ParseError`},
		{"JSON: Marshaler error", func() error {
			_, err := ourserde.JSON[echoJSON]().Serialize(ctx, ourserde.Target{Topic: "t"}, echoJSON{S: marker})
			return err
		}, ourserde.ErrEncode, `serde_test.echoJSON`},

		// Avro binary.
		{"Avro: body cut short", func() error {
			_, err := echoPlain.Deserialize(ctx, ourserde.Message{Data: echoWire[:len(echoWire)-2]})
			return err
		}, ourserde.ErrTruncated, ""},
		{"Avro: TextUnmarshaler error", func() error {
			_, err := echo.Deserialize(ctx, ourserde.Message{Data: echoWire})
			return err
		}, ourserde.ErrDecode, ""},
		{"Avro: not an enum symbol (serialize)", func() error {
			o := sampleOrder()
			o.Side = marker
			_, err := av.Serialize(ctx, ourserde.Target{Topic: "r-avro"}, o)
			return err
		}, ourserde.ErrEncode, `field Side: avro: unknown enum symbol`},
		{"Avro: TextMarshaler error (serialize)", func() error {
			_, err := echo.Serialize(ctx, ourserde.Target{Topic: "r-echo"}, echoRecord{ID: marker})
			return err
		}, ourserde.ErrEncode, ""},

		// Avro in ESM JSON mode.
		{"Avro JSON: not an enum symbol", func() error {
			_, err := av.Deserialize(ctx, ourserde.Message{Schema: avMeta, Data: []byte(
				`{"id":"o","symbol":"S","quantity":1,"price":1,"side":"` + marker + `","tags":[],"attrs":{}}`)})
			return err
		}, ourserde.ErrDecode, `$.side: not a symbol of com.example.trading.Side`},
		{"Avro JSON: text for a long", func() error {
			_, err := av.Deserialize(ctx, ourserde.Message{Schema: avMeta, Data: []byte(
				`{"id":"o","symbol":"S","quantity":"` + marker + `","price":1,"side":"BUY","tags":[],"attrs":{}}`)})
			return err
		}, ourserde.ErrDecode, ""},
		{"Avro JSON: fraction for a long", func() error {
			_, err := av.Deserialize(ctx, ourserde.Message{Schema: avMeta, Data: []byte(
				`{"id":"o","symbol":"S","quantity":` + markerNum + `.5,"price":1,"side":"BUY","tags":[],"attrs":{}}`)})
			return err
		}, ourserde.ErrDecode, ""},
		{"Avro JSON: bad timestamp", func() error {
			_, err := ev.Deserialize(ctx, ourserde.Message{Schema: evMeta, Data: []byte(
				`{"at":"` + marker + `","amount":1,"kind":"A","count":1}`)})
			return err
		}, ourserde.ErrDecode, `$.at`},
		{"Avro JSON: too many decimals", func() error {
			_, err := ev.Deserialize(ctx, ourserde.Message{Schema: evMeta, Data: []byte(
				`{"at":1,"amount":0.` + markerNum + `,"kind":"A","count":1}`)})
			return err
		}, ourserde.ErrDecode, `more than 2 decimals`},
		{"Avro JSON: code point in bytes", func() error {
			_, err := ev.Deserialize(ctx, ourserde.Message{Schema: evMeta, Data: []byte(
				`{"at":1,"amount":"\u0100` + marker + `","kind":"A","count":1}`)})
			return err
		}, ourserde.ErrDecode, ""},
		{"Avro JSON: syntax error", func() error {
			_, err := av.Deserialize(ctx, ourserde.Message{Schema: avMeta, Data: []byte(`{"id":"` + marker + `" x}`)})
			return err
		}, ourserde.ErrMalformed, ""}, // not valid JSON, so read as Avro binary
		{"Avro JSON pinned: syntax error", func() error {
			c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2),
				ourserde.WithEventRecordFormat(ourserde.EventRecordFormatJSON)))
			_, err := c.Deserialize(ctx, ourserde.Message{Schema: avMeta, Data: []byte(`{"id":"` + marker + `" x}`)})
			return err
		}, ourserde.ErrDecode, ""},

		// Protobuf.
		{"Protobuf: body cut short", func() error {
			_, err := pb.Deserialize(ctx, ourserde.Message{Data: pbWire[:len(pbWire)-3]})
			return err
		}, ourserde.ErrDecode, ""},
		{"Protobuf JSON: bad token", func() error {
			_, err := pb.Deserialize(ctx, ourserde.Message{Schema: pbMeta, Data: []byte(`{"tradeId": ` + marker + `}`)})
			return err
		}, ourserde.ErrDecode, ""},
		{"Protobuf JSON: text for an int64", func() error {
			_, err := pb.Deserialize(ctx, ourserde.Message{Schema: pbMeta, Data: []byte(`{"quantity": "` + marker + `"}`)})
			return err
		}, ourserde.ErrDecode, `int64 field quantity at line 1, column 14`},
		{"Protobuf JSON: text for a double", func() error {
			_, err := pb.Deserialize(ctx, ourserde.Message{Schema: pbMeta, Data: []byte(`{"price": "` + marker + `"}`)})
			return err
		}, ourserde.ErrDecode, ""},

		// JSON Schema.
		{"JSON Schema: below the minimum", func() error {
			_, err := js.Deserialize(ctx, ourserde.Message{Data: frame(jsHeader, `{"id":"x","amount":-`+markerNum+`}`)})
			return err
		}, ourserde.ErrValidation, `/amount fails "minimum"`},
		{"JSON Schema: syntax error", func() error {
			_, err := js.Deserialize(ctx, ourserde.Message{Data: frame(jsHeader, `{"id":"`+marker+`" x}`)})
			return err
		}, ourserde.ErrDecode, ""},
		{"JSON Schema: number too large for T", func() error {
			_, err := jsNoValidation.Deserialize(ctx, ourserde.Message{Data: frame(jsHeader, `{"n":`+markerNum+`}`)})
			return err
		}, ourserde.ErrDecode, ""},
		{"JSON Schema: below the minimum (serialize)", func() error {
			_, err := js.Serialize(ctx, ourserde.Target{Topic: "r-js"}, Payment{ID: "x", Amount: -7355608123})
			return err
		}, ourserde.ErrValidation, `/amount fails "minimum"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.says) {
				t.Errorf("the message does not say %q: %s", tc.says, msg)
			}
			if strings.Contains(msg, marker) || strings.Contains(msg, markerNum) || strings.Contains(msg, "MARKER") {
				t.Fatalf("the message quotes the record: %s", msg)
			}
			t.Log(msg)
		})
	}
}
