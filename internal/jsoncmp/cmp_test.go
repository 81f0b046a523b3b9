// Package jsoncmp measures the JSON decoders serde.JSON could be built on,
// side by side, on the records of the invocation benchmarks. It is a module
// of its own so that the candidates not chosen stay out of the SDK's
// go.mod. Run from this folder:
//
//	go test -run '^$' -bench . -benchmem -count 3
package jsoncmp

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
	jsoniter "github.com/json-iterator/go"
)

// Trade is internal/benchkit.Trade.
type Trade struct {
	UserID   string `json:"userid"`
	RegionID string `json:"regionid"`
	Quantity int32  `json:"quantity"`
	Symbol   string `json:"symbol"`
	Price    int32  `json:"price"`
	Account  string `json:"account"`
	Side     string `json:"side"`
}

// data is 1,000 records as encoding/json writes them.
func data() [][]byte {
	var out [][]byte
	for i := range 1000 {
		b, _ := json.Marshal(Trade{UserID: fmt.Sprintf("User_%d", i%9), RegionID: "Region_3", Quantity: int32(100 + i%5000), Symbol: "ZVZZT", Price: int32(10 + i%990), Account: "ABC123", Side: "BUY"})
		out = append(out, b)
	}
	return out
}

func BenchmarkDecode(b *testing.B) {
	d := data()
	libs := []struct {
		name string
		f    func([]byte, any) error
	}{
		{"encoding-json", json.Unmarshal},
		{"jsoniter", jsoniter.ConfigCompatibleWithStandardLibrary.Unmarshal},
		{"goccy", gojson.Unmarshal},
		{"sonic-std", sonic.ConfigStd.Unmarshal},
		{"sonic-default", sonic.ConfigDefault.Unmarshal},
	}
	for _, l := range libs {
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, x := range d {
					var t Trade
					if err := l.f(x, &t); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
