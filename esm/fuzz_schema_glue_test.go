package esm

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/kafkalambda/kafka-lambda-go/serde/gluetest"
)

// FuzzGlueSchemaApply: no key or value makes the Glue SOURCE-mode framing
// panic. Data with the header of a version of the registry loses exactly
// its 18 bytes (a zlib body being inflated) and gets AVRO and the version
// id; anything else is passed on unchanged, with miss set only for a
// well-framed id the registry does not have. Run it with:
//
//	go test -run '^$' -fuzz '^FuzzGlueSchemaApply$' -fuzztime 30s ./esm
func FuzzGlueSchemaApply(f *testing.F) {
	srv := gluetest.NewServer(f)
	id, err := srv.Register("reg", "t-value", "AVRO", `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`)
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	client := glue.New(glue.Options{BaseEndpoint: aws.String(srv.URL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	res, err := newSchemaResolver(SchemaRegistry{Glue: client, GlueRegistry: "reg"})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	f.Cleanup(cancel)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write([]byte{2})
	_ = zw.Close()
	known := append([]byte{3, 0}, raw...)
	f.Add(append(known, 2))
	f.Add(append(append([]byte{3, 5}, raw...), z.Bytes()...))
	f.Add(append(append([]byte{3, 5}, raw...), 0x78, 0x9c))
	f.Add(known[:17])
	f.Add(append([]byte{3, 0}, make([]byte, 17)...))
	f.Add([]byte{0, 0, 0, 0, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, meta, miss, err := res.apply(ctx, data)
		if err != nil {
			t.Fatalf("the registry is up, yet: %v", err)
		}
		framed := len(data) >= 18 && data[0] == 3 && (data[1] == 0 || data[1] == 5)
		switch {
		case meta != nil:
			if !framed || !bytes.Equal(data[2:18], raw) || meta.SchemaID != id || meta.DataFormat != "AVRO" {
				t.Fatalf("%x: got %+v", data, meta)
			}
			if data[1] == 0 && !bytes.Equal(out, data[18:]) {
				t.Fatalf("%x stripped to %x", data, out)
			}
			if data[1] == 5 {
				zr, err := zlib.NewReader(bytes.NewReader(data[18:]))
				if err != nil {
					t.Fatalf("%x: inflated although: %v", data, err)
				}
				var want bytes.Buffer
				if _, err := want.ReadFrom(zr); err != nil || !bytes.Equal(out, want.Bytes()) {
					t.Fatalf("%x inflated to %x (%v)", data, out, err)
				}
			}
		case !bytes.Equal(out, data):
			t.Fatalf("%x changed to %x without metadata", data, out)
		case miss && (!framed || bytes.Equal(data[2:18], raw)):
			t.Fatalf("%x reported as an unknown schema version", data)
		}
	})
}
