package recordjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Decoder turns the bodies written with one writer schema into JSON.
// It is safe for concurrent use.
type Decoder struct {
	avro  avro.Schema
	proto *protoSchema
	json  *jsonschema.Schema
	glue  bool
}

// New compiles a writer schema of format ("AVRO", "PROTOBUF" or "JSON", as
// a registry names them) for the bodies written with it. refs holds the
// .proto files a Protobuf schema imports, by import path (the
// google/protobuf ones are built in); Avro and JSON Schema references are
// not supported. A JSON Schema is compiled as serde compiles it (draft
// 2020-12 unless "$schema" says another, no URL ever loaded). glue says a Protobuf body starts with AWS Glue's message
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
		if len(refs) > 0 {
			return nil, errors.New("recordjson: JSON Schema references are not supported")
		}
		comp := jsonschema.NewCompiler()
		comp.LoadURL = func(u string) (io.ReadCloser, error) {
			return nil, fmt.Errorf("%q: references are not supported", u)
		}
		if err := comp.AddResource(jsonSchemaURL, strings.NewReader(text)); err != nil {
			return nil, fmt.Errorf("recordjson: JSON Schema: %w", err)
		}
		js, err := comp.Compile(jsonSchemaURL)
		if err != nil {
			return nil, fmt.Errorf("recordjson: JSON Schema: %w", err)
		}
		return &Decoder{json: js}, nil
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, errors.New("recordjson: JSON Schema: the body is not one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("recordjson: JSON Schema: the body is not one JSON value")
	}
	if err := d.json.Validate(doc); err != nil {
		return nil, fmt.Errorf("recordjson: JSON Schema: the body fails %s", keyword(err))
	}
	return body, nil
}

// jsonSchemaURL is where a JSON Schema is compiled, as serde compiles it.
const jsonSchemaURL = "mem://input/"

// keyword names the schema keyword a JSON Schema validation failed at: the
// validator's messages can quote the value, which must not reach a log.
func keyword(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "validation"
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	return strconv.Quote(ve.KeywordLocation)
}
