package serde_test

import (
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/internal/typecheck"
	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

// optionSnippet is a file that calls serde's constructors: the case's code
// goes on line optionSnippetLine.
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

var optionSnippetLine = strings.Count(optionSnippet[:strings.Index(optionSnippet, "%s")], "\n") + 1

// An option that applies to one format only is refused by the compiler
// when given to another format's constructor (WithValidation is JSON
// Schema's), and the option interfaces cannot be implemented outside serde;
// every other use compiles.
func TestOptionsApplyOnlyWhereTheyCompile(t *testing.T) {
	t.Parallel()
	c := typecheck.New(t, "github.com/kafkalambda/kafka-lambda-go/serde", "google.golang.org/protobuf/types/known/wrapperspb", "time")
	tests := []struct {
		name, code string
		reject     string // "" when the code compiles, else a word of the compiler's message
	}{
		{"JSONSchema takes WithValidation", `_, _ = serde.JSONSchema[T](r, serde.WithValidation(false), serde.WithSchema("{}"))`, ""},
		{"JSONSchema takes every Option", `_, _ = serde.JSONSchema[T](r, serde.WithSchema("{}"), serde.WithReferences(), serde.WithSubjectNameStrategy(serde.RecordNameStrategy), serde.WithAutoRegister(false), serde.WithUseLatest(), serde.WithLatestTTL(time.Second), serde.WithEventRecordFormat(serde.EventRecordFormatJSON), serde.WithRetry(1, time.Second, time.Second))`, ""},
		{"a JSONSchemaOption slice", `_, _ = serde.JSONSchema[T](r, append(jsOpts, serde.WithRetry(1, time.Second, time.Second), serde.WithValidation(true))...)`, ""},
		{"Avro takes every Option", `_, _ = serde.Avro[T](r, serde.WithSchema("{}"), serde.WithReferences(), serde.WithSubjectNameStrategy(serde.RecordNameStrategy), serde.WithAutoRegister(false), serde.WithUseLatest(), serde.WithLatestTTL(time.Second), serde.WithEventRecordFormat(serde.EventRecordFormatJSON), serde.WithRetry(1, time.Second, time.Second))`, ""},
		{"Protobuf takes an Option slice", `_, _ = serde.Protobuf[*wrapperspb.StringValue](r, append(opts, serde.WithUseLatest())...)`, ""},
		{"a nil option compiles", `_, _ = serde.Avro[T](r, nil); _, _ = serde.JSONSchema[T](r, nil)`, ""},

		{"Avro refuses WithValidation", `_, _ = serde.Avro[T](r, serde.WithSchema("{}"), serde.WithValidation(false))`, "applyRegistry"},
		{"Protobuf refuses WithValidation", `_, _ = serde.Protobuf[*wrapperspb.StringValue](r, serde.WithValidation(true))`, "applyRegistry"},
		{"WithValidation is no Option", `var o serde.Option = serde.WithValidation(true); _ = o`, "applyRegistry"},
		{"an Option slice is no JSONSchemaOption slice", `_, _ = serde.JSONSchema[T](r, opts...)`, "JSONSchemaOption"},
		{"JSONSchemaOption is sealed", `_, _ = serde.JSONSchema[T](r, mine{})`, "applyJSONSchema"},
		{"Option is sealed", `_, _ = serde.Avro[T](r, mine{})`, "applyJSONSchema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := c.Check(t, strings.Replace(optionSnippet, "%s", tt.code, 1))
			if tt.reject == "" {
				if len(errs) > 0 {
					t.Fatalf("%s\ndoes not compile: %v", tt.code, errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Line != optionSnippetLine || !strings.Contains(errs[0].Msg, tt.reject) {
				t.Fatalf("%s\ngot errors %v; want one, on line %d, naming %s", tt.code, errs, optionSnippetLine, tt.reject)
			}
		})
	}
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
