package app_test

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
)

// A settlement's HeaderSource value, written and read back.
func ExampleSource() {
	src := app.Source{Topic: app.InputTopic, Partition: 3, Offset: 1207}
	fmt.Println(src)
	back, err := app.ParseSource(src.String())
	fmt.Println(back == src, err)
	// Output:
	// user_trades/3/1207
	// true <nil>
}

// ParseSource accepts only what Source.String writes.
func ExampleParseSource() {
	for _, v := range []string{"user_trades/0/42", "user_trades/0", "user_trades/-1/42"} {
		src, err := app.ParseSource(v)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(src.Topic, src.Partition, src.Offset)
	}
	// Output:
	// user_trades 0 42
	// tradesettle: source "user_trades/0": want topic/partition/offset
	// tradesettle: source "user_trades/-1/42": partition: strconv.ParseUint: parsing "-1": invalid syntax
}

// The source of a settlement read back with franz-go.
func ExampleSourceHeader() {
	settlement := &kgo.Record{Topic: app.OutputTopic, Headers: []kgo.RecordHeader{
		{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
		{Key: app.HeaderSource, Value: []byte("user_trades/1/5")},
	}}
	src, err := app.SourceHeader(settlement.Headers)
	fmt.Println(src.Partition, src.Offset, err)
	_, err = app.SourceHeader([]kgo.RecordHeader{})
	fmt.Println(err)
	// Output:
	// 1 5 <nil>
	// tradesettle: no tradesettle.source header
}
