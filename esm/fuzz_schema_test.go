package esm

import (
	"bytes"
	"context"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Fuzz target of the Schema Registry integration's SOURCE-mode framing
// (added by the reliability suite, issue 7): the mapping strips the
// Confluent prefix of any key or value it reads. Run it with:
//
//	go test -run '^$' -fuzz '^FuzzSchemaApply$' -fuzztime 30s ./esm

// FuzzSchemaApply: no key or value makes the SOURCE-mode framing panic;
// data with the prefix of a registered schema loses exactly its five bytes
// and gets that schema's format and id; anything else is passed on
// unchanged, with miss set only for a well-framed id the registry does not
// know.
func FuzzSchemaApply(f *testing.F) {
	fake := srfake.New()
	f.Cleanup(fake.Close)
	id, _, err := fake.RegisterSchema("t-value", sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`})
	if err != nil {
		f.Fatal(err)
	}
	res, err := newSchemaResolver(SchemaRegistry{URL: fake.URL()})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	f.Cleanup(cancel)
	known := binary.BigEndian.AppendUint32([]byte{0}, uint32(id))
	f.Add(append(known, 2))
	f.Add(known)
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{1, 0, 0, 0, 1, 2})
	f.Add([]byte(`{"a":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, meta, miss, err := res.apply(ctx, data)
		if err != nil {
			t.Fatalf("the registry is up, yet: %v", err)
		}
		framed := len(data) >= 5 && data[0] == 0
		switch {
		case meta != nil:
			got := int(binary.BigEndian.Uint32(data[1:5]))
			if !framed || !bytes.Equal(out, data[5:]) || meta.SchemaID != strconv.Itoa(got) || meta.DataFormat != "AVRO" || got != id {
				t.Fatalf("%x: stripped to %x with %+v", data, out, meta)
			}
		case !bytes.Equal(out, data):
			t.Fatalf("%x changed to %x without metadata", data, out)
		case miss && !framed:
			t.Fatalf("%x is not framed, yet reported as an unknown schema id", data)
		}
	})
}
