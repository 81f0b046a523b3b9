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

// A codec with the schema compiled into the function: no registry is
// called, ever. Records naming the allowed ids (the list replaces the
// default, the id 42 it writes with) are read with the bundled schema; any
// other id is the record's fault.
func ExampleBundled() {
	type Order struct {
		ID       string `avro:"id"`
		Quantity int64  `avro:"quantity"`
	}
	const schema = `{"type": "record", "name": "Order",
		"fields": [{"name": "id", "type": "string"}, {"name": "quantity", "type": "long"}]}`
	orders, err := serde.Avro[Order](serde.Bundled(serde.Schema{Type: "AVRO", Text: schema, ID: 42},
		serde.WithAllowedIDs("41", "42")))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	b, _ := orders.Serialize(ctx, serde.Target{Topic: "orders"}, Order{ID: "o-1", Quantity: 3})
	fmt.Printf("header % x, body % x\n", b[:5], b[5:])

	// Written by a producer with id 41, delivered in ESM SOURCE mode.
	o, _ := orders.Deserialize(ctx, serde.Message{Topic: "orders", Data: b[5:],
		Schema: &serde.SchemaMeta{DataFormat: "AVRO", SchemaID: "41"}})
	fmt.Printf("%+v\n", o)

	_, err = orders.Deserialize(ctx, serde.Message{Topic: "orders", Data: append([]byte{0, 0, 0, 0, 7}, b[5:]...)})
	fmt.Println(errors.Is(err, serde.ErrSchemaNotAllowed))
	fmt.Println(err)
	// Output:
	// header 00 00 00 00 2a, body 06 6f 2d 31 06
	// {ID:o-1 Quantity:3}
	// true
	// serde: deserialize value of topic "orders" (AVRO, schema id 7): unknown schema: schema id not allowed: schema id 7 is not one of the bundled schema's allowed ids
}

// Two record types on one topic, each under its own subject
// (TopicRecordNameStrategy), read by one Union that dispatches on the
// writer schema's record name.
func ExampleUnion() {
	type Order struct {
		ID string `avro:"id"`
	}
	type Refund struct {
		OrderID string  `avro:"order_id"`
		Amount  float64 `avro:"amount"`
	}
	registry := srfake.New()
	defer registry.Close()
	client := serde.Confluent(srclient.NewSchemaRegistryClient(registry.URL()))
	strategy := serde.WithSubjectNameStrategy(serde.TopicRecordNameStrategy)
	orders, _ := serde.Avro[Order](client, strategy, serde.WithSchema(`{"type": "record", "name": "Order",
		"namespace": "shop", "fields": [{"name": "id", "type": "string"}]}`))
	refunds, _ := serde.Avro[Refund](client, strategy, serde.WithSchema(`{"type": "record", "name": "Refund",
		"namespace": "shop", "fields": [{"name": "order_id", "type": "string"}, {"name": "amount", "type": "double"}]}`))
	events, err := serde.Union[any](client,
		serde.Case[any]("shop.Order", orders, nil),
		serde.Case[any]("shop.Refund", refunds, nil))
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	t := serde.Target{Topic: "shop-events"}
	o, _ := orders.Serialize(ctx, t, Order{ID: "o-1"})
	r, _ := refunds.Serialize(ctx, t, Refund{OrderID: "o-1", Amount: 2.5})
	for _, data := range [][]byte{o, r} {
		v, err := events.Deserialize(ctx, serde.Message{Topic: "shop-events", Data: data})
		if err != nil {
			fmt.Println(err)
			continue
		}
		switch v := v.(type) {
		case Order:
			fmt.Println("order", v.ID)
		case Refund:
			fmt.Println("refund of", v.OrderID, v.Amount)
		}
	}
	// Output:
	// order o-1
	// refund of o-1 2.5
}

// ExampleParseGlueHeader splits AWS Glue-framed bytes: the header version
// 3, compression 0 (none), the schema version id, then the body.
func ExampleParseGlueHeader() {
	data := append([]byte{3, 0,
		0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x81, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
		"body"...)
	id, body, err := serde.ParseGlueHeader(data)
	fmt.Println(id, string(body), err)
	_, _, err = serde.ParseGlueHeader([]byte{0, 0, 0, 0, 1})
	fmt.Println(errors.Is(err, serde.ErrMagicByte))
	// Output:
	// 12345678-9abc-4def-8123-456789abcdef body <nil>
	// true
}
