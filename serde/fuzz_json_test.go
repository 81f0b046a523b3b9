package serde

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// fuzzInner and fuzzOuter hold every kind of field the plain JSON codec
// decodes differently from a string: numbers of each width, pointers,
// embedded structs, maps, interfaces, byte slices, json.Number and the
// ,string option.
type fuzzInner struct {
	A []int          `json:"a"`
	M map[string]any `json:"m"`
	P *float64       `json:"p,omitempty"`
	B []byte         `json:"b"`
	I map[int]string `json:"i"`
}

type fuzzEmbedded struct {
	UserID string `json:"userid"`
	Qty    int32  `json:"quantity"`
}

type fuzzOuter struct {
	fuzzEmbedded
	N    json.Number `json:"n"`
	Any  any         `json:"any"`
	In   fuzzInner   `json:"in"`
	Ptr  *fuzzInner  `json:"ptr"`
	U    uint8       `json:"u"`
	F    float32     `json:"f"`
	Bool bool        `json:"bool"`
	S    []string    `json:"s"`
	Arr  [2]int      `json:"arr"`
	Q    int         `json:"q,string"`
	Skip string      `json:"-"`
	Raw  json.RawMessage
}

// FuzzJSONDifferential checks serde.JSON against encoding/json: on every
// input both accept or both reject, and what both accept decodes to equal
// values, for a struct with every kind of field and for any.
func FuzzJSONDifferential(f *testing.F) {
	for _, s := range []string{
		`{"userid":"x","quantity":3,"in":{"a":[1,2],"m":{"k":[1,"x",null,true]},"i":{"1":"a"}},"q":"12"}`,
		`{"USERID":"\ud800x","any":1e400}`, `[]`, `null`, `{"b":"AAEC","u":300}`, "{\"userid\":\"a\xffb\"}",
		`{"n":12.5e3,"any":{"a":[{}]},"arr":[1,2,3],"Raw":{"x":1},"f":3.4e39}`, `{"ptr":{"p":null},"s":null}`,
		`{"userid":"a"} {}`, `{"userid":"a",}`, `{"quantity":2147483648}`, `"str"`, ` {"any":-0} `,
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		differ(t, ctx, JSON[fuzzOuter](), data)
		differ(t, ctx, JSON[any](), data)
		differ(t, ctx, JSON[map[string]string](), data)
	})
}

func differ[T any](t *testing.T, ctx context.Context, c Codec[T], data []byte) {
	t.Helper()
	var want T
	wantErr := json.Unmarshal(data, &want)
	got, err := c.Deserialize(ctx, Message{Topic: "t", Data: data})
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%T: serde.JSON error %v, encoding/json error %v", want, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%T: serde.JSON gave\n%#v\nencoding/json gave\n%#v", want, got, want)
	}
}
