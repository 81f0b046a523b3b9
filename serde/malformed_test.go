package serde_test

import (
	"errors"
	"testing"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// Malformed input gives a typed error carrying the schema id where known,
// never a panic.
func TestMalformedInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	pb := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg.client))
	av := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
	env := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client))

	pbWire := must[[]byte](t)(pb.Serialize(ctx, ourserde.Target{Topic: "m"}, sampleTrade()))
	avWire := must[[]byte](t)(av.Serialize(ctx, ourserde.Target{Topic: "m-avro"}, sampleOrder()))
	envWire := must[[]byte](t)(env.Serialize(ctx, ourserde.Target{Topic: "m-env"}, &testpb.Envelope{Id: "x"}))
	pbID, avID, envID := int(pbWire[4]), int(avWire[4]), int(envWire[4])
	hdr := func(id int, rest ...byte) []byte { return append([]byte{0, 0, 0, 0, byte(id)}, rest...) }

	type decodeFn func([]byte) error
	protobuf := func(b []byte) error { _, err := pb.Deserialize(ctx, ourserde.Message{Topic: "m", Data: b}); return err }
	avro := func(b []byte) error { _, err := av.Deserialize(ctx, ourserde.Message{Topic: "m", Data: b}); return err }

	for _, tc := range []struct {
		name   string
		decode decodeFn
		data   []byte
		want   error
		id     int
	}{
		{"pb empty", protobuf, []byte{}, ourserde.ErrTruncated, 0},
		{"pb shorter than header", protobuf, []byte{0, 0, 1}, ourserde.ErrTruncated, 0},
		{"pb wrong magic byte", protobuf, []byte{1, 0, 0, 0, 1, 0}, ourserde.ErrMagicByte, 0},
		{"pb header only", protobuf, hdr(pbID), ourserde.ErrMessageIndexes, pbID},
		{"pb unknown schema id", protobuf, hdr(250, 0), ourserde.ErrUnknownSchema, 250},
		{"pb schema id 0", protobuf, hdr(0, 0), ourserde.ErrUnknownSchema, 0},
		{"pb negative index count", protobuf, hdr(pbID, 0x01), ourserde.ErrMessageIndexes, pbID},
		{"pb index count past the end", protobuf, hdr(pbID, 0x0a, 0x02), ourserde.ErrMessageIndexes, pbID},
		{"pb huge index count", protobuf, hdr(pbID, 0xfe, 0xff, 0xff, 0xff, 0x0f), ourserde.ErrMessageIndexes, pbID},
		{"pb bad varint", protobuf, hdr(pbID, 0x80), ourserde.ErrMessageIndexes, pbID},
		{"pb negative index", protobuf, hdr(pbID, 0x02, 0x01), ourserde.ErrMessageIndexes, pbID},
		{"pb indexes name no message", protobuf, hdr(pbID, 0x02, 0x10), ourserde.ErrMessageMismatch, pbID},
		{"pb indexes name another message", protobuf, hdr(pbID, 0x00), ourserde.ErrMessageMismatch, pbID},
		{"pb indexes name a nested message", protobuf, hdr(pbID, 0x04, 0x02, 0x02), ourserde.ErrMessageMismatch, pbID},
		{"pb truncated body", protobuf, pbWire[:len(pbWire)-3], ourserde.ErrDecode, pbID},
		{"pb avro schema id", protobuf, hdr(avID, 0), ourserde.ErrFormatMismatch, avID},
		{"avro empty", avro, nil, ourserde.ErrTruncated, 0},
		{"avro wrong magic byte", avro, []byte{'{', '}', 0, 0, 0}, ourserde.ErrMagicByte, 0},
		{"avro truncated body", avro, avWire[:len(avWire)-4], ourserde.ErrTruncated, avID},
		{"avro header only", avro, hdr(avID), ourserde.ErrTruncated, avID},
		{"avro negative string length", avro, hdr(avID, 0x01), ourserde.ErrDecode, avID},
		{"avro protobuf schema id", avro, hdr(envID, 0), ourserde.ErrFormatMismatch, envID},
		{"avro unknown schema id", avro, hdr(251, 2, 'x'), ourserde.ErrUnknownSchema, 251},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var e *ourserde.Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not a *serde.Error", err)
			}
			if e.SchemaID != tc.id || e.Topic != "m" || e.Op != ourserde.OpDeserialize {
				t.Fatalf("error fields %+v, want schema id %d, topic m", e, tc.id)
			}
			if class := e.FailureClass(); class != "record" {
				t.Fatalf("FailureClass() = %q, want record: a bad record read is the record's fault", class)
			}
			if errors.Is(tc.want, ourserde.ErrMalformed) != errors.Is(err, ourserde.ErrMalformed) {
				t.Fatalf("ErrMalformed umbrella does not hold for %v", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := &ourserde.Error{Op: ourserde.OpDeserialize, Format: "AVRO", Topic: "orders", IsKey: true, SchemaID: 7,
		Err: ourserde.ErrTruncated}
	const want = `serde: deserialize key of topic "orders" (AVRO, schema id 7): malformed data: truncated`
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err.Error(), want)
	}
}
