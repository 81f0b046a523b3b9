package serde_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

func ExampleString() {
	ctx := context.Background()
	c := serde.String()
	b, _ := c.Serialize(ctx, serde.Target{Topic: "greetings", IsKey: true}, "hello")
	s, _ := c.Deserialize(ctx, serde.Message{Topic: "greetings", Data: b, IsKey: true})
	fmt.Printf("% x → %s\n", b, s)
	// Output: 68 65 6c 6c 6f → hello
}

func ExampleJSON() {
	type Greeting struct {
		Text string `json:"text"`
	}
	ctx := context.Background()
	c := serde.JSON[Greeting]()
	b, _ := c.Serialize(ctx, serde.Target{Topic: "greetings"}, Greeting{Text: "hi"})
	fmt.Println(string(b))
	g, _ := c.Deserialize(ctx, serde.Message{Topic: "greetings", Data: b})
	fmt.Println(g.Text)
	_, err := c.Deserialize(ctx, serde.Message{Topic: "greetings", Data: []byte("{oops")})
	fmt.Println(errors.Is(err, serde.ErrMalformed))
	// Output:
	// {"text":"hi"}
	// hi
	// true
}

// An Avro codec against an in-process registry (srfake): the first Serialize
// registers the schema under "orders-value", and the bytes carry its id.
func ExampleAvro() {
	type Order struct {
		ID       string `avro:"id"`
		Quantity int64  `avro:"quantity"`
	}
	registry := srfake.New()
	defer registry.Close()
	client := serde.Confluent(srclient.NewSchemaRegistryClient(registry.URL()))

	orders, err := serde.Avro[Order](client, serde.WithSchema(`{
		"type": "record", "name": "Order",
		"fields": [{"name": "id", "type": "string"}, {"name": "quantity", "type": "long"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	b, _ := orders.Serialize(ctx, serde.Target{Topic: "orders"}, Order{ID: "o-1", Quantity: 3})
	fmt.Printf("header % x, body % x\n", b[:5], b[5:])

	o, _ := orders.Deserialize(ctx, serde.Message{Topic: "orders", Data: b})
	fmt.Printf("%+v\n", o)

	// The same value as an event source mapping in SOURCE mode delivers it.
	o, _ = orders.Deserialize(ctx, serde.Message{Topic: "orders", Data: b[5:],
		Schema: &serde.SchemaMeta{DataFormat: "AVRO", SchemaID: "1"}})
	fmt.Printf("%+v\n", o)

	_, err = orders.Deserialize(ctx, serde.Message{Topic: "orders", Data: []byte{0, 0, 0}})
	fmt.Println(err)
	// Output:
	// header 00 00 00 00 01, body 06 6f 2d 31 06
	// {ID:o-1 Quantity:3}
	// {ID:o-1 Quantity:3}
	// serde: deserialize value of topic "orders" (AVRO): malformed data: truncated: 3 bytes, shorter than the 5-byte header
}
