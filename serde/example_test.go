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

// ParseSchemaIDHeader reads the value of a __value_schema_id or
// __key_schema_id header: a numeric id (magic byte 0) or a GUID (magic 1).
func ExampleParseSchemaIDHeader() {
	id, guid, rest, err := serde.ParseSchemaIDHeader([]byte{0, 0, 0, 0, 42})
	fmt.Println(id, guid == "", len(rest), err)
	g := []byte{1, 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	_, guid, _, _ = serde.ParseSchemaIDHeader(g)
	fmt.Println(guid)
	_, _, _, err = serde.ParseSchemaIDHeader([]byte{7})
	fmt.Println(errors.Is(err, serde.ErrMalformed))
	// Output:
	// 42 true 0 <nil>
	// 6ba7b810-9dad-11d1-80b4-00c04fd430c8
	// true
}
