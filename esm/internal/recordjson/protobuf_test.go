package recordjson_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/recordjson"
)

const commonProto = `syntax = "proto3";
package shop.common;
message Money { string currency = 1; int64 units = 2; }
`

const orderProto = `syntax = "proto3";
package shop;
import "shop/common.proto";
import "google/protobuf/timestamp.proto";
message Header { string id = 1; }
message Order {
  message Line { string sku = 1; int32 qty = 2; }
  enum Kind { KIND_UNSPECIFIED = 0; KIND_RUSH = 1; }
  string order_id = 1;
  repeated Line lines = 2;
  map<string, string> attrs = 3;
  Kind kind = 4;
  shop.common.Money total = 5;
  google.protobuf.Timestamp at = 6;
  oneof ref { string po = 7; int64 ticket = 8; }
  bytes blob = 9;
}
`

// A Protobuf body, with Confluent's message indexes or AWS Glue's index,
// renders as protojson (lowerCamelCase names) that reads back as exactly
// the message; an import is resolved from the references, Timestamp from
// the standard imports. Indexes naming no message and a body that is not
// the message are errors.
func TestProtobufJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	refs := map[string]string{"shop/common.proto": commonProto}
	conf, err := recordjson.New(ctx, "PROTOBUF", orderProto, refs, false)
	if err != nil {
		t.Fatal(err)
	}
	glue, err := recordjson.New(ctx, "PROTOBUF", orderProto, refs, true)
	if err != nil {
		t.Fatal(err)
	}
	md := orderDescriptor(t)
	want := dynamicpb.NewMessage(md)
	src := `{"orderId":"o-1","lines":[{"sku":"A","qty":2},{"sku":"B","qty":-1}],"attrs":{"desk":"eq"},"kind":"KIND_RUSH",
		"total":{"currency":"EUR","units":"1234"},"at":"2026-12-02T17:00:00.5Z","ticket":"42","blob":"AAH/"}`
	if err := protojson.Unmarshal([]byte(src), want); err != nil {
		t.Fatal(err)
	}
	msg, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	// Order is message 1 of the file ([1]: 02 02); sorted by full name,
	// shop.Header, shop.Order, shop.Order.AttrsEntry, shop.Order.Line: index 1.
	for name, tc := range map[string]struct {
		dec  *recordjson.Decoder
		body []byte
	}{
		"Confluent [1]":    {conf, append([]byte{2, 2}, msg...)},
		"AWS Glue index 1": {glue, append([]byte{1}, msg...)},
	} {
		js, err := tc.dec.JSON(tc.body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal(js, got); err != nil {
			t.Fatalf("%s: %s: %v", name, js, err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("%s: read back %v, want %v", name, got, want)
		}
	}
	for name, tc := range map[string]struct {
		dec  *recordjson.Decoder
		body []byte
	}{
		"Confluent [5]":        {conf, append([]byte{2, 10}, msg...)},
		"Confluent no indexes": {conf, nil},
		"Confluent bad count":  {conf, []byte{0x81}},
		"AWS Glue index 9":     {glue, append([]byte{9}, msg...)},
		"AWS Glue no index":    {glue, nil},
		"not the message":      {conf, append([]byte{2, 2}, 0x0a, 0x7f, 1)},
		"string not UTF-8":     {conf, append([]byte{2, 2}, 0x0a, 1, 0xff)},
	} {
		if js, err := tc.dec.JSON(tc.body); err == nil {
			t.Errorf("%s: rendered %s, want an error", name, js)
		}
	}
	if _, err := recordjson.New(ctx, "PROTOBUF", orderProto, nil, false); err == nil {
		t.Error("an import without its reference compiled")
	}
}

// orderDescriptor builds shop.Order apart from recordjson, through
// protodesc, for reading its JSON back.
func orderDescriptor(t *testing.T) protoreflectMessage {
	t.Helper()
	str := func(s string) *string { return &s }
	i32 := func(i int32) *int32 { return &i }
	lbl := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	typ := func(t descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto_Type {
		return t.Enum()
	}
	field := func(name string, n int32, l *descriptorpb.FieldDescriptorProto_Label, ty descriptorpb.FieldDescriptorProto_Type, tn string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: str(name), Number: i32(n), Label: l, Type: typ(ty)}
		if tn != "" {
			f.TypeName = str(tn)
		}
		return f
	}
	common := &descriptorpb.FileDescriptorProto{Name: str("shop/common.proto"), Package: str("shop.common"), Syntax: str("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: str("Money"), Field: []*descriptorpb.FieldDescriptorProto{
			field("currency", 1, lbl, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			field("units", 2, lbl, descriptorpb.FieldDescriptorProto_TYPE_INT64, "")}}}}
	po := field("po", 7, lbl, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")
	ticket := field("ticket", 8, lbl, descriptorpb.FieldDescriptorProto_TYPE_INT64, "")
	po.OneofIndex, ticket.OneofIndex = i32(0), i32(0)
	order := &descriptorpb.FileDescriptorProto{Name: str("shop/order.proto"), Package: str("shop"), Syntax: str("proto3"),
		Dependency: []string{"shop/common.proto", "google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: str("Header")}, {
			Name: str("Order"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("order_id", 1, lbl, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("lines", 2, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".shop.Order.Line"),
				field("attrs", 3, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".shop.Order.AttrsEntry"),
				field("kind", 4, lbl, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".shop.Order.Kind"),
				field("total", 5, lbl, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".shop.common.Money"),
				field("at", 6, lbl, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.Timestamp"),
				po, ticket,
				field("blob", 9, lbl, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
			},
			NestedType: []*descriptorpb.DescriptorProto{
				{Name: str("Line"), Field: []*descriptorpb.FieldDescriptorProto{
					field("sku", 1, lbl, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
					field("qty", 2, lbl, descriptorpb.FieldDescriptorProto_TYPE_INT32, "")}},
				{Name: str("AttrsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}, Field: []*descriptorpb.FieldDescriptorProto{
					field("key", 1, lbl, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
					field("value", 2, lbl, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")}},
			},
			EnumType: []*descriptorpb.EnumDescriptorProto{{Name: str("Kind"), Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: str("KIND_UNSPECIFIED"), Number: i32(0)}, {Name: str("KIND_RUSH"), Number: i32(1)}}}},
			OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: str("ref")}},
		}},
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto), common, order}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("shop.Order")
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflectMessage)
}

type protoreflectMessage = protoreflect.MessageDescriptor
