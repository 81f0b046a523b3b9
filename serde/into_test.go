package serde_test

import (
	"errors"
	"reflect"
	"testing"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

// checkInto holds DeserializeInto to Deserialize on data: the same value,
// or the same error with the zero value left in *v.
func checkInto[T any](t *testing.T, c ourserde.Codec[T], m ourserde.Message) {
	t.Helper()
	into, ok := c.(ourserde.DeserializerInto[T])
	if !ok {
		t.Fatalf("%T has no DeserializeInto", c)
	}
	ctx := testCtx(t)
	want, wantErr := c.Deserialize(ctx, m)
	var got T
	err := into.DeserializeInto(ctx, m, &got)
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%q: DeserializeInto: %v; Deserialize: %v", m.Data, err, wantErr)
	}
	if err != nil {
		var zero T
		if !reflect.DeepEqual(got, zero) {
			t.Fatalf("%q: DeserializeInto failed (%v) but left %+v", m.Data, err, got)
		}
		var de *ourserde.Error
		if !errors.As(err, &de) {
			t.Fatalf("%q: error %T is not a *serde.Error", m.Data, err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: DeserializeInto %+v, Deserialize %+v", m.Data, got, want)
	}
}

// TestDeserializeInto: the JSON and Avro codecs decode into a caller's
// value exactly as Deserialize returns one, errors included.
func TestDeserializeInto(t *testing.T) {
	t.Parallel()
	type trade struct {
		ID    string            `json:"id"`
		Qty   int               `json:"qty"`
		Tags  []string          `json:"tags"`
		Attrs map[string]string `json:"attrs"`
	}
	js := ourserde.JSON[trade]()
	for _, data := range []string{`{"id":"t-1","qty":3,"tags":["a"],"attrs":{"k":"v"}}`, `{}`, `{"qty":"three"}`, `{"id":"t-9","qty":"three"}`,
		`{"id":"t-1","qty":3`, `[1,2]`, `null`, `{"id":"t-2","qty":1}{"id":"t-3"}`} {
		checkInto(t, js, ourserde.Message{Topic: "trades", Data: []byte(data)})
	}

	ctx := testCtx(t)
	reg := newTestRegistry(t)
	av := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
	good, err := av.Serialize(ctx, ourserde.Target{Topic: "orders"}, sampleOrder())
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{good, good[:len(good)-3], {0, 0, 0, 0, 99, 1}, {1, 2, 3}, append(good[:5:5], 0xff, 0xff, 0xff)} {
		checkInto(t, av, ourserde.Message{Topic: "orders", Data: data})
	}
}
