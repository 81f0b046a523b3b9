package serde_test

import (
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/internal/typecheck"
	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

// optionSnippet is a file that calls serde's constructors: each case's code
// goes in place of its %s.
const optionSnippet = `package snippet

import (
	"time"

	"github.com/kafkalambda/kafka-lambda-go/serde"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type T struct{ A int }

// mine tries to implement the sealed option interfaces from outside.
type mine struct{}

func (mine) applyJSONSchema(*struct{}) {}
func (mine) applyRegistry(*struct{})   {}

var (
	_ = time.Second
	_ = wrapperspb.String
	_ = mine{}
)

func use(r serde.Registry, jsOpts []serde.JSONSchemaOption, opts []serde.Option) {
	%s
}
`

// An option that applies to one format only is refused by the compiler
// when given to another format's constructor (WithValidation is JSON
// Schema's), and the option interfaces cannot be implemented outside serde;
// every other use compiles.
func TestOptionsApplyOnlyWhereTheyCompile(t *testing.T) {
	t.Parallel()
	c := typecheck.New(t, "github.com/kafkalambda/kafka-lambda-go/serde", "google.golang.org/protobuf/types/known/wrapperspb", "time")
	c.Run(t, optionSnippet, []typecheck.Case{
		{Name: "JSONSchema takes WithValidation", Code: `_, _ = serde.JSONSchema[T](r, serde.WithValidation(false), serde.WithSchema("{}"))`},
		{Name: "JSONSchema takes every Option", Code: `_, _ = serde.JSONSchema[T](r, serde.WithSchema("{}"), serde.WithReferences(), serde.WithSubjectNameStrategy(serde.RecordNameStrategy), serde.WithAutoRegister(false), serde.WithUseLatest(), serde.WithLatestTTL(time.Second), serde.WithEventRecordFormat(serde.EventRecordFormatJSON), serde.WithRetry(1, time.Second, time.Second))`},
		{Name: "a JSONSchemaOption slice", Code: `_, _ = serde.JSONSchema[T](r, append(jsOpts, serde.WithRetry(1, time.Second, time.Second), serde.WithValidation(true))...)`},
		{Name: "Avro takes every Option", Code: `_, _ = serde.Avro[T](r, serde.WithSchema("{}"), serde.WithReferences(), serde.WithSubjectNameStrategy(serde.RecordNameStrategy), serde.WithAutoRegister(false), serde.WithUseLatest(), serde.WithLatestTTL(time.Second), serde.WithEventRecordFormat(serde.EventRecordFormatJSON), serde.WithRetry(1, time.Second, time.Second))`},
		{Name: "Protobuf takes an Option slice", Code: `_, _ = serde.Protobuf[*wrapperspb.StringValue](r, append(opts, serde.WithUseLatest())...)`},
		{Name: "a nil option compiles", Code: `_, _ = serde.Avro[T](r, nil); _, _ = serde.JSONSchema[T](r, nil)`},

		{Name: "Avro refuses WithValidation", Code: `_, _ = serde.Avro[T](r, serde.WithSchema("{}"), serde.WithValidation(false))`, Reject: "applyRegistry"},
		{Name: "Protobuf refuses WithValidation", Code: `_, _ = serde.Protobuf[*wrapperspb.StringValue](r, serde.WithValidation(true))`, Reject: "applyRegistry"},
		{Name: "WithValidation is no Option", Code: `var o serde.Option = serde.WithValidation(true); _ = o`, Reject: "applyRegistry"},
		{Name: "an Option slice is no JSONSchemaOption slice", Code: `_, _ = serde.JSONSchema[T](r, opts...)`, Reject: "JSONSchemaOption"},
		{Name: "JSONSchemaOption is sealed", Code: `_, _ = serde.JSONSchema[T](r, mine{})`, Reject: "applyJSONSchema"},
		{Name: "Option is sealed", Code: `_, _ = serde.Avro[T](r, mine{})`, Reject: "applyJSONSchema"},
	})
}

// A nil option is ignored, by every constructor.
func TestNilOptionIsIgnored(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	if _, err := ourserde.Avro[Order](reg.client, nil, ourserde.WithUseLatest()); err != nil {
		t.Errorf("Avro: %v", err)
	}
	if _, err := ourserde.JSONSchema[Payment](reg.client, nil, ourserde.WithValidation(false), nil); err != nil {
		t.Errorf("JSONSchema: %v", err)
	}
}
