//go:build !serde.noglue

package serde_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// idHeaderRecord rebuilds prefixed (Confluent wire format, as our
// serializer wrote it through srfake) the way Confluent's header mode
// writes it: the magic byte, the id and any Protobuf message indexes (the
// first prefixLen bytes) in a header, the bare body as the payload.
func idHeaderRecord(topic string, isKey bool, prefixed []byte, prefixLen int) ourserde.Message {
	key := ourserde.ValueSchemaIDHeader
	if isKey {
		key = ourserde.KeySchemaIDHeader
	}
	return ourserde.Message{Topic: topic, IsKey: isKey, Data: prefixed[prefixLen:], Headers: []ourserde.Header{
		{Key: "trace", Value: []byte{9}},
		{Key: key, Value: prefixed[:prefixLen]},
	}}
}

func TestSchemaIDHeaderRead(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)

	t.Run("avro", func(t *testing.T) {
		c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
		want := sampleOrder()
		b := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "orders"}, want))
		for _, isKey := range []bool{false, true} {
			got, err := c.Deserialize(ctx, idHeaderRecord("orders", isKey, b, 5))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("isKey %v: got %+v, %v; want %+v", isKey, got, err, want)
			}
		}
		// The other side's header is not this side's.
		m := idHeaderRecord("orders", true, b, 5)
		m.IsKey = false
		if _, err := c.Deserialize(ctx, m); !errors.Is(err, ourserde.ErrMalformed) {
			t.Fatalf("a value with only a key header: %v, want ErrMalformed (bare body, no prefix)", err)
		}
	})
	t.Run("protobuf", func(t *testing.T) {
		c := must[ourserde.Codec[proto.Message]](t)(asAny(ourserde.Protobuf[*testpb.Trade](reg.client)))
		want := sampleTrade()
		b := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "trades"}, want))
		body := must[[]byte](t)(proto.Marshal(want))
		got, err := c.Deserialize(ctx, idHeaderRecord("trades", false, b, len(b)-len(body)))
		if err != nil || !proto.Equal(got, want) {
			t.Fatalf("got %v, %v; want %v", got, err, want)
		}
	})
	t.Run("json schema", func(t *testing.T) {
		c := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(paymentSchema)))
		want := Payment{ID: "p-1", Amount: 12.5, Memo: "rent"}
		b := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "pay"}, want))
		got, err := c.Deserialize(ctx, idHeaderRecord("pay", false, b, 5))
		if err != nil || got != want {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	})
}

// guidRegistry is a Registry that also serves GUID lookups
// (ourserde.GUIDRegistry): srfake serves GET /schemas/guids/{guid}, and
// franz-go's sr client asks it (srclient v0.7.3, under serde.Confluent,
// cannot).
type guidRegistry struct {
	ourserde.Registry
	sr    *sr.Client
	calls atomic.Int64
}

func (g *guidRegistry) SchemaByGUID(ctx context.Context, guid string) (ourserde.Schema, error) {
	g.calls.Add(1)
	ss, err := g.sr.SchemaByGUID(ctx, guid)
	if err != nil {
		return ourserde.Schema{}, fmt.Errorf("%w: %w", ourserde.ErrUnknownSchema, err)
	}
	return ourserde.Schema{ID: ss.ID, Type: ss.Type.String(), Text: ss.Schema.Schema}, nil
}

func TestSchemaIDHeaderGUID(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	writer := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
	want := sampleOrder()
	b := must[[]byte](t)(writer.Serialize(ctx, ourserde.Target{Topic: "orders"}, want))
	cl := must[*sr.Client](t)(sr.NewClient(sr.URLs(reg.fake.URL())))
	latest := must[sr.SubjectSchema](t)(cl.SchemaByVersion(ctx, "orders-value", -1))
	guidText := latest.GUID
	guid, err := hex.DecodeString(strings.ReplaceAll(guidText, "-", ""))
	if err != nil || len(guid) != 16 {
		t.Fatalf("srfake's GUID %q: %v", guidText, err)
	}
	hdr := append([]byte{1}, guid...)
	m := ourserde.Message{Topic: "orders", Data: b[5:], Headers: []ourserde.Header{{Key: ourserde.ValueSchemaIDHeader, Value: hdr}}}

	if _, g, _, err := ourserde.ParseSchemaIDHeader(hdr); err != nil || g != guidText {
		t.Fatalf("ParseSchemaIDHeader: %q, %v; want %q", g, err, guidText)
	}
	// A registry without GUID lookups: a typed error naming the GUID.
	_, err = writer.Deserialize(ctx, m)
	var se *ourserde.Error
	if !errors.Is(err, ourserde.ErrUnknownSchema) || !errors.As(err, &se) || se.SchemaVersionID != guidText {
		t.Fatalf("GUID without GUIDRegistry: %v, want ErrUnknownSchema naming %s", err, guidText)
	}

	gr := &guidRegistry{Registry: reg.client, sr: cl}
	c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](gr, ourserde.WithSchema(orderSchemaV2)))
	for range 2 {
		got, err := c.Deserialize(ctx, m)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	}
	if n := gr.calls.Load(); n != 1 {
		t.Fatalf("%d GUID lookups for two records, want 1 (cached)", n)
	}
	// An unknown GUID is the record's fault, named.
	hdr[1] ^= 0xff
	if _, err := c.Deserialize(ctx, m); !errors.Is(err, ourserde.ErrUnknownSchema) {
		t.Fatalf("unknown GUID: %v, want ErrUnknownSchema", err)
	}
}

func TestSchemaIDHeaderMalformed(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
	for name, v := range map[string][]byte{
		"empty":            {},
		"short id":         {0, 0, 1},
		"short guid":       {1, 2, 3, 4, 5, 6, 7, 8, 9},
		"unknown magic":    {7, 0, 0, 0, 1},
		"trailing on avro": {0, 0, 0, 0, 1, 0},
	} {
		_, err := c.Deserialize(ctx, ourserde.Message{Topic: "orders", Data: []byte("SECRETPAYLOAD"),
			Headers: []ourserde.Header{{Key: ourserde.ValueSchemaIDHeader, Value: v}}})
		if !errors.Is(err, ourserde.ErrSchemaIDHeader) || !errors.Is(err, ourserde.ErrMalformed) {
			t.Fatalf("%s: %v, want ErrSchemaIDHeader and ErrMalformed", name, err)
		}
		var se *ourserde.Error
		if !errors.As(err, &se) || se.Topic != "orders" || se.FailureClass() != "record" {
			t.Fatalf("%s: %v, want a record-class *serde.Error naming the topic", name, err)
		}
		if msg := err.Error(); !strings.Contains(msg, ourserde.ValueSchemaIDHeader) || strings.Contains(msg, "SECRET") {
			t.Fatalf("%s: %q must name the header and not quote the payload", name, msg)
		}
	}
}

func TestSchemaIDHeaderWrite(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	want := sampleOrder()
	plain := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2)))
	hdr := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2), ourserde.WithSchemaIDHeader()))
	prefixed := must[[]byte](t)(plain.Serialize(ctx, ourserde.Target{Topic: "orders", IsKey: true}, want))

	// Without the option: what Serialize writes, no headers.
	b, hs, err := plain.(ourserde.HeaderSerializer[Order]).SerializeWithHeaders(ctx, ourserde.Target{Topic: "orders", IsKey: true}, want)
	if err != nil || hs != nil || !bytes.Equal(b, prefixed) {
		t.Fatalf("without WithSchemaIDHeader: % x, %v, %v", b, hs, err)
	}
	// With it: the key's header, the bare body; Serialize still prefixes.
	b, hs, err = hdr.(ourserde.HeaderSerializer[Order]).SerializeWithHeaders(ctx, ourserde.Target{Topic: "orders", IsKey: true}, want)
	if err != nil || len(hs) != 1 || hs[0].Key != ourserde.KeySchemaIDHeader || !bytes.Equal(hs[0].Value, prefixed[:5]) || !bytes.Equal(b, prefixed[5:]) {
		t.Fatalf("with WithSchemaIDHeader: % x, %v, %v", b, hs, err)
	}
	if b := must[[]byte](t)(hdr.Serialize(ctx, ourserde.Target{Topic: "orders", IsKey: true}, want)); !bytes.Equal(b, prefixed) {
		t.Fatalf("Serialize with WithSchemaIDHeader wrote % x, want the prefixed % x", b, prefixed)
	}
	got, err := plain.Deserialize(ctx, ourserde.Message{Topic: "orders", IsKey: true, Data: b, Headers: hs})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v", got, err)
	}

	_, gc := newGlue(t)
	if _, err := ourserde.Avro[Order](ourserde.Glue(gc, glueRegistryName), ourserde.WithSchema(orderSchemaV2), ourserde.WithSchemaIDHeader()); !errors.Is(err, ourserde.ErrInvalidOption) {
		t.Fatalf("WithSchemaIDHeader with AWS Glue: %v, want ErrInvalidOption", err)
	}
}
