package serde

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// Fuzz targets (not run by plain go test beyond their seed corpus in
// testdata/fuzz). Run one with, for example:
//
//	go test -run '^$' -fuzz '^FuzzWire$' -fuzztime 30s ./serde

// FuzzWire: the header and message-index readers never panic, they read
// exactly the bytes of the header and of the index list (no more, no less),
// and what they accept re-encodes, never longer, to something they read back
// the same.
func FuzzWire(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 8, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 4, 2, 2})
	f.Add([]byte{0, 0, 0, 0, 1, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0x80})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, rest, err := ParseHeader(data)
		if err != nil {
			return
		}
		if hdr := appendHeader(nil, id); !bytes.Equal(hdr, data[:headerLen]) || !bytes.Equal(rest, data[headerLen:]) {
			t.Fatalf("header % x read as id %d, rest %d bytes of %d", data[:headerLen], id, len(rest), len(data))
		}
		idx, body, err := parseIndexes(rest, nil)
		if err != nil {
			return
		}
		if !bytes.HasSuffix(rest, body) {
			t.Fatalf("body % x is not the tail of % x", body, rest)
		}
		list := rest[:len(rest)-len(body)]
		if idx2, tail, err := parseIndexes(list, nil); err != nil || !slices.Equal(idx, idx2) || len(tail) != 0 {
			t.Fatalf("the index list % x alone reads as %v, tail % x (%v); with the body it read as %v", list, idx2, tail, err, idx)
		}
		again := appendIndexes(appendHeader(nil, id), idx)
		if len(again) > headerLen+len(list) {
			t.Fatalf("%v re-encodes to %d bytes, longer than the %d read", idx, len(again)-headerLen, len(list))
		}
		id2, rest2, err := ParseHeader(again)
		if err != nil || id2 != id {
			t.Fatalf("header round trip: %v %v", id2, err)
		}
		idx2, tail, err := parseIndexes(rest2, nil)
		if err != nil || !slices.Equal(idx, idx2) || len(tail) != 0 {
			t.Fatalf("indexes round trip: %v → %v (%v)", idx, idx2, err)
		}
	})
}

// FuzzProtoNames: the schema-text name parser never panics, every message
// it finds resolves from its own path, and looking a message up by its full
// name (pathOf) finds a path that resolves to a message of that name.
func FuzzProtoNames(f *testing.F) {
	f.Add(`syntax = "proto3"; package p; message A { message B {} map<string,int32> m = 1; } message C {}`)
	f.Add(`message A { optional group G = 1 { } oneof o { group H = 2 {} } }`)
	f.Add(`message A { option (x) = { a: "}" }; } /* } */ // }`)
	f.Fuzz(func(t *testing.T, text string) {
		names, err := parseProtoNames(text)
		if err != nil {
			return
		}
		var walk func(level []*protoMsg, path []int)
		walk = func(level []*protoMsg, path []int) {
			for i, m := range level {
				p := append(slices.Clip(path), i)
				if got := names.resolve(p); got != m {
					t.Fatalf("%v resolves to %v, want %s", p, got, m.fullName)
				}
				// A text may declare a name twice; pathOf finds the first.
				byName := names.pathOf(m.fullName)
				if got := names.resolve(byName); got == nil || got.fullName != m.fullName {
					t.Fatalf("pathOf(%q) = %v, which resolves to %v", m.fullName, byName, got)
				}
				walk(m.children, p)
			}
		}
		walk(names.msgs, nil)
	})
}

type fuzzOrder struct {
	ID   string            `avro:"id"`
	N    int64             `avro:"n"`
	Tags []string          `avro:"tags"`
	Opt  *string           `avro:"opt"`
	M    map[string]string `avro:"m"`
}

const fuzzOrderSchema = `{"type":"record","name":"O","fields":[
 {"name":"id","type":"string"},{"name":"n","type":"long"},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"opt","type":["null","string"],"default":null},
 {"name":"m","type":{"type":"map","values":"string"}}]}`

// FuzzDeserialize feeds arbitrary bodies to the Avro and Protobuf
// deserializers in all three framings, against a real (in-process)
// registry whose schemas are cached after the first call: no input may
// panic, and every failure must be a *Error.
func FuzzDeserialize(f *testing.F) {
	fake := srfake.New()
	f.Cleanup(fake.Close)
	reg := Confluent(srclient.NewSchemaRegistryClient(fake.URL()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	f.Cleanup(cancel)
	av, err := Avro[fuzzOrder](reg, WithSchema(fuzzOrderSchema))
	if err != nil {
		f.Fatal(err)
	}
	pb, err := Protobuf[*testpb.Trade](reg)
	if err != nil {
		f.Fatal(err)
	}
	opt := "o"
	avWire, err := av.Serialize(ctx, Target{Topic: "f"}, fuzzOrder{ID: "x", N: -3, Tags: []string{"a"}, Opt: &opt, M: map[string]string{"k": "v"}})
	if err != nil {
		f.Fatal(err)
	}
	pbWire, err := pb.Serialize(ctx, Target{Topic: "f"}, &testpb.Trade{TradeId: "t", Legs: []*testpb.Trade_Leg{{Venue: "v"}}})
	if err != nil {
		f.Fatal(err)
	}
	avHdr, pbHdr := avWire[:headerLen], pbWire[:headerLen]
	avID, _, err := ParseHeader(avWire)
	if err != nil {
		f.Fatal(err)
	}
	pbID, _, err := ParseHeader(pbWire)
	if err != nil {
		f.Fatal(err)
	}
	avMeta := &SchemaMeta{DataFormat: "AVRO", SchemaID: strconv.Itoa(avID)}
	pbMeta := &SchemaMeta{DataFormat: "PROTOBUF", SchemaID: strconv.Itoa(pbID)}
	f.Add(avWire[headerLen:])
	f.Add(pbWire[headerLen:])
	f.Add([]byte(`{"id":"x","n":1,"tags":[],"opt":{"string":"s"},"m":{}}`))
	f.Add([]byte(`{"tradeId":"t","legs":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%T is not *Error: %v", err, err)
			}
		}
		_, err := av.Deserialize(ctx, Message{Topic: "f", Data: append(slices.Clip(avHdr), body...)})
		check(err)
		_, err = av.Deserialize(ctx, Message{Topic: "f", Data: body, Schema: avMeta})
		check(err)
		_, err = pb.Deserialize(ctx, Message{Topic: "f", Data: append(slices.Clip(pbHdr), body...)})
		check(err)
		_, err = pb.Deserialize(ctx, Message{Topic: "f", Data: body, Schema: pbMeta})
		check(err)
	})
}

// Regression tests for what FuzzWire and FuzzDeserialize found (their
// inputs are also kept in testdata/fuzz).
func TestFuzzRegressions(t *testing.T) {
	// A zero index count spelled with two varint bytes means [0].
	idx, rest, err := parseIndexes([]byte{0x80, 0x00, 0x0a}, nil)
	if err != nil || !slices.Equal(idx, []int{0}) || len(rest) != 1 {
		t.Fatalf("got %v %v %v", idx, rest, err)
	}
	// An Avro array count of ~10^11 is refused before allocating.
	fake := srfake.New()
	defer fake.Close()
	av, err := Avro[fuzzOrder](Confluent(srclient.NewSchemaRegistryClient(fake.URL())), WithSchema(fuzzOrderSchema))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wire, err := av.Serialize(ctx, Target{Topic: "r"}, fuzzOrder{})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("\x02\x9c0\x9c\x9c\x9c\x9c0\x00\x0200")
	// hamba refuses the count (MaxSliceAllocSize): a decode error, not a
	// truncated body it would first have allocated for.
	if _, err := av.Deserialize(ctx, Message{Topic: "r", Data: append(wire[:headerLen:headerLen], body...)}); !errors.Is(err, ErrDecode) {
		t.Fatalf("a 10^11-element array: got %v, want ErrDecode", err)
	}
}

// FuzzSchemaIDHeader: the schema id header reader never panics, reads
// exactly 5 or 17 bytes when it accepts, and what it accepts re-encodes to
// the same bytes.
func FuzzSchemaIDHeader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 2, 2})
	f.Add(append([]byte{1}, make([]byte, 16)...))
	f.Add([]byte{1, 2})
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, v []byte) {
		ref, rest, err := parseIDHeader(v)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("% x: %v does not wrap ErrMalformed", v, err)
			}
			return
		}
		if !bytes.HasSuffix(v, rest) {
			t.Fatalf("rest % x is not the tail of % x", rest, v)
		}
		read := v[:len(v)-len(rest)]
		if len(read) != 5 && len(read) != 17 {
			t.Fatalf("read %d bytes of % x", len(read), v)
		}
		if again := appendIDHeader(nil, ref); !bytes.Equal(again, read) {
			t.Fatalf("% x re-encodes to % x", read, again)
		}
	})
}
