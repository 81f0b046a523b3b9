package esm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/recordjson"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// glueSchemas resolves Glue schema version ids with GetSchemaVersion. What
// it learns is cached per id (a schema version never changes); failures to
// ask are not.
type glueSchemas struct {
	client   *glue.Client
	registry string
	decs     *decoders // where each version's decoder goes
	mu       sync.RWMutex
	metas    map[string]*serde.SchemaMeta // nil value: not a schema version of the registry
}

func newGlueSchemas(r SchemaRegistry, decs *decoders) *glueSchemas {
	return &glueSchemas{client: r.Glue, registry: r.GlueRegistry, decs: decs, metas: map[string]*serde.SchemaMeta{}}
}

// apply strips the Glue header of data and returns the body, inflated
// when the header says zlib (serde.ParseGlueHeader, which bounds it at
// 16 MiB), with the schema version's metadata. Data that is not
// Glue-framed, or whose zlib body does not inflate, is returned as it is
// with no metadata; miss reports a schema version id the registry does not
// have. err is a registry that cannot be asked.
func (g *glueSchemas) apply(ctx context.Context, data []byte) (out []byte, meta *serde.SchemaMeta, miss bool, err error) {
	id, body, perr := serde.ParseGlueHeader(data)
	if perr != nil {
		return data, nil, false, nil
	}
	meta, err = g.meta(ctx, id)
	switch {
	case err != nil:
		return data, nil, false, err
	case meta == nil:
		return data, nil, true, nil
	}
	return body, meta, false, nil
}

// meta returns the metadata of schema version id: its data format and
// the id in its canonical form. Its decoder is in g.decs once it returns
// metadata. It is nil when Glue has no such version,
// the version is not AVAILABLE, or it belongs to a registry other than the
// mapping's.
func (g *glueSchemas) meta(ctx context.Context, id string) (*serde.SchemaMeta, error) {
	g.mu.RLock()
	m, ok := g.metas[id]
	g.mu.RUnlock()
	if ok {
		return m, nil
	}
	s := id
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
