package esm

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/recordjson"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// The AWS Glue Schema Registry wire format, as AWS's serializers write it:
// byte 0 the header version (3), byte 1 the compression (0 none, 5 zlib),
// bytes 2-17 the schema version id (a UUID), then the body.
const (
	glueVersion   = 3
	glueNone      = 0
	glueZlib      = 5
	glueHeaderLen = 18
	// maxInflated bounds a zlib body once inflated, as serde does: no
	// Kafka record is larger, and a body inflating past it (a zip bomb) is
	// a DESERIALIZATION_ERROR.
	maxInflated = 16 << 20
)

// glueSchemas resolves Glue schema version ids with GetSchemaVersion. What
// it learns is cached per id (a schema version never changes); failures to
// ask are not.
type glueSchemas struct {
	client   *glue.Client
	registry string
	decs     *decoders // where each version's decoder goes
	mu       sync.RWMutex
	metas    map[[16]byte]*serde.SchemaMeta // nil value: not a schema version of the registry
}

func newGlueSchemas(r SchemaRegistry, decs *decoders) *glueSchemas {
	return &glueSchemas{client: r.Glue, registry: r.GlueRegistry, decs: decs, metas: map[[16]byte]*serde.SchemaMeta{}}
}

// apply strips the Glue header of data and returns the body, inflated
// when the header says zlib, with the schema version's metadata. Data that
// is not Glue-framed, or whose zlib body does not inflate, is returned as
// it is with no metadata; miss reports a schema version id the registry
// does not have. err is a registry that cannot be asked.
func (g *glueSchemas) apply(ctx context.Context, data []byte) (out []byte, meta *serde.SchemaMeta, miss bool, err error) {
	if len(data) < glueHeaderLen || data[0] != glueVersion || (data[1] != glueNone && data[1] != glueZlib) {
		return data, nil, false, nil
	}
	var id [16]byte
	copy(id[:], data[2:glueHeaderLen])
	meta, err = g.meta(ctx, id)
	if err != nil {
		return data, nil, false, err
	}
	if meta == nil {
		return data, nil, true, nil
	}
	body := data[glueHeaderLen:]
	if data[1] == glueZlib {
		if body, err = inflate(body); err != nil {
			return data, nil, false, nil
		}
	}
	return body, meta, false, nil
}

// meta returns the metadata of schema version id: its data format and
// the id in its canonical form. Its decoder is in g.decs once it returns
// metadata. It is nil when Glue has no such version,
// the version is not AVAILABLE, or it belongs to a registry other than the
// mapping's.
func (g *glueSchemas) meta(ctx context.Context, id [16]byte) (*serde.SchemaMeta, error) {
	g.mu.RLock()
	m, ok := g.metas[id]
	g.mu.RUnlock()
	if ok {
		return m, nil
	}
	s := uuidString(id)
	out, err := g.client.GetSchemaVersion(ctx, &glue.GetSchemaVersionInput{SchemaVersionId: &s})
	var nf *types.EntityNotFoundException
	switch {
	case errors.As(err, &nf):
		m = nil
	case err != nil:
		return nil, fmt.Errorf("esm: schema registry: AWS Glue schema version %s: %w", s, err)
	case out.Status != types.SchemaVersionStatusAvailable, !g.inRegistry(out.SchemaArn):
		m = nil
	default:
		m = &serde.SchemaMeta{DataFormat: string(out.DataFormat), SchemaID: s}
		dec, err := recordjson.New(ctx, m.DataFormat, aws.ToString(out.SchemaDefinition), nil, true)
		if err != nil {
			err = fmt.Errorf("esm: AWS Glue schema version %s: %w", s, err)
		}
		g.decs.put(s, dec, err)
	}
	g.mu.Lock()
	g.metas[id] = m
	g.mu.Unlock()
	return m, nil
}

// inRegistry reports whether a schema ARN,
// arn:aws:glue:REGION:ACCOUNT:schema/REGISTRY/NAME, names the mapping's
// registry. An answer without an ARN is taken as the registry's.
func (g *glueSchemas) inRegistry(arn *string) bool {
	if arn == nil || *arn == "" {
		return true
	}
	_, rest, ok := strings.Cut(*arn, ":schema/")
	if !ok {
		return false
	}
	registry, _, ok := strings.Cut(rest, "/")
	return ok && registry == g.registry
}

// uuidString is the canonical 8-4-4-4-12 lower-case form of a UUID.
func uuidString(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// inflate decompresses a zlib body of at most maxInflated bytes; memory
// grows with the output produced, never with what the stream claims.
func inflate(body []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	switch {
	case err != nil:
		return nil, err
	case len(out) > maxInflated:
		return nil, errors.New("zlib body inflates past the limit")
	}
	return out, nil
}
