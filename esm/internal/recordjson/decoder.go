package recordjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"
)

// Decoder turns the bodies written with one writer schema into JSON.
// It is safe for concurrent use.
type Decoder struct {
	avro  avro.Schema
	proto *protoSchema
	glue  bool
}

// New compiles a writer schema of format ("AVRO", "PROTOBUF" or "JSON", as
// a registry names them) for the bodies written with it. refs holds the
// .proto files a Protobuf schema imports, by import path (the
// google/protobuf ones are built in); Avro and JSON Schema references are
// not supported. glue says a Protobuf body starts with AWS Glue's message
// index rather than Confluent's list. An error is a schema that cannot be
// used.
func New(ctx context.Context, format, text string, refs map[string]string, glue bool) (*Decoder, error) {
	switch format {
	case "AVRO":
		if len(refs) > 0 {
			return nil, errors.New("recordjson: Avro schema references are not supported")
		}
		s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("recordjson: Avro schema: %w", err)
		}
		return &Decoder{avro: s}, nil
	case "PROTOBUF":
		p, err := compileProto(ctx, text, refs)
		if err != nil {
			return nil, fmt.Errorf("recordjson: Protobuf schema: %w", err)
		}
		return &Decoder{proto: p, glue: glue}, nil
	case "JSON":
		return &Decoder{}, nil
	}
	return nil, fmt.Errorf("recordjson: unknown schema format %q", format)
}

// JSON decodes body, a key or value without its registry prefix, and
// returns it as JSON. An error is a body that does not decode with the
// schema.
func (d *Decoder) JSON(body []byte) ([]byte, error) {
	switch {
	case d.avro != nil:
		return AvroJSON(d.avro, body)
	case d.proto != nil:
		return d.proto.json(body, d.glue)
	}
	if !json.Valid(body) {
		return nil, errors.New("recordjson: JSON Schema: the body is not one JSON value")
	}
	return body, nil
}
