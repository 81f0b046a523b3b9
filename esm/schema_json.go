package esm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/recordjson"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// maxReferences bounds the .proto files a Protobuf schema may import
// through registry references, all levels together.
const maxReferences = 64

// decoders holds, per schema id (as the metadata names it), what checks
// and renders the bodies written with that schema: a decoder, or why the
// schema cannot be used. A schema never changes, so neither is asked again.
type decoders struct {
	mu sync.RWMutex
	m  map[string]decoderEntry
}

type decoderEntry struct {
	dec *recordjson.Decoder
	err error // the schema cannot be used: its records are rejected
}

func newDecoders() *decoders { return &decoders{m: map[string]decoderEntry{}} }

func (d *decoders) put(id string, dec *recordjson.Decoder, err error) {
	d.mu.Lock()
	d.m[id] = decoderEntry{dec, err}
	d.mu.Unlock()
}

// check decodes body, a key or value of the schema meta names, with that
// schema: it returns what the event delivers, the JSON rendering when json
// is set, else body itself. An error is a body that does not decode, or a
// schema that cannot be used; the record is rejected either way.
func (d *decoders) check(meta *serde.SchemaMeta, body []byte, json bool) ([]byte, error) {
	d.mu.RLock()
	e, ok := d.m[meta.SchemaID]
	d.mu.RUnlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("esm: schema %s: no decoder", meta.SchemaID)
	case e.err != nil:
		return nil, e.err
	}
	out, err := e.dec.JSON(body)
	if err != nil {
		return nil, err
	}
	if json {
		return out, nil
	}
	return body, nil
}

// confluentDecoder builds the decoder of a Confluent registry's schema id,
// fetching the .proto files a Protobuf schema references (recursively, by
// subject and version). It fails only when the registry cannot be asked;
// a schema that cannot be used is recorded as such.
func (s *schemaResolver) confluentDecoder(ctx context.Context, id int, sch sr.Schema, meta *serde.SchemaMeta) error {
	var refs map[string]string
	if len(sch.References) > 0 {
		if sch.Type != sr.TypeProtobuf {
			s.decs.put(meta.SchemaID, nil, fmt.Errorf("esm: schema %d: %s schema references are not supported", id, sch.Type))
			return nil
		}
		refs = map[string]string{}
		var unusable error
		var walk func(rs []sr.SchemaReference) error
		walk = func(rs []sr.SchemaReference) error {
			for _, r := range rs {
				if _, ok := refs[r.Name]; ok {
					continue
				}
				if len(refs) == maxReferences {
					unusable = fmt.Errorf("esm: schema %d: more than %d references", id, maxReferences)
					return nil
				}
				ss, err := s.client.SchemaByVersion(ctx, r.Subject, r.Version)
				var re *sr.ResponseError
				switch {
				case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
					unusable = fmt.Errorf("esm: schema %d: reference %s (subject %s version %d) not in the registry", id, r.Name, r.Subject, r.Version)
					return nil
				case err != nil:
					return fmt.Errorf("esm: schema registry: schema %d: reference %s: %w", id, r.Name, err)
				}
				refs[r.Name] = ss.Schema.Schema
				if err := walk(ss.Schema.References); err != nil || unusable != nil {
					return err
				}
			}
			return nil
		}
		if err := walk(sch.References); err != nil {
			return err
		}
		if unusable != nil {
			s.decs.put(meta.SchemaID, nil, unusable)
			return nil
		}
	}
	dec, err := recordjson.New(ctx, meta.DataFormat, sch.Schema, refs, false)
	if err != nil {
		err = fmt.Errorf("esm: schema %d: %w", id, err)
	}
	s.decs.put(meta.SchemaID, dec, err)
	return nil
}
