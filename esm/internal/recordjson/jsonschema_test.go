package recordjson_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/recordjson"
)

// A JSON Schema body is delivered as it is when it is one JSON value that
// the schema validates; anything else is an error that names the failing
// keyword, never the value.
func TestJSONSchema(t *testing.T) {
	t.Parallel()
	const schema = `{"type":"object","properties":{"id":{"type":"string","format":"email"},"qty":{"type":"integer","minimum":1}},"required":["id"]}`
	dec, err := recordjson.New(context.Background(), "JSON", schema, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	good := `{"id":"a@b.example","qty":2}`
	if js, err := dec.JSON([]byte(good)); err != nil || string(js) != good {
		t.Fatalf("%s: %q, %v", good, js, err)
	}
	for name, body := range map[string]string{
		"not JSON":       `{"id":`,
		"two values":     good + ` {}`,
		"wrong type":     `{"id":"a@b.example","qty":"secret-2"}`,
		"below minimum":  `{"id":"a@b.example","qty":0}`,
		"missing id":     `{"qty":2}`,
		"not an object":  `"secret-value"`,
		"bad format":     `{"id":"secret-value"}`,
		"empty":          ``,
		"trailing comma": `{"id":"a@b.example",}`,
	} {
		_, err := dec.JSON([]byte(body))
		if err == nil {
			t.Errorf("%s: %s validated", name, body)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error quotes the value: %v", name, err)
		}
	}
	if _, err := recordjson.New(context.Background(), "JSON", `{"$ref":"http://example.com/s.json"}`, nil, false); err == nil {
		t.Error("a schema with a remote $ref compiled")
	}
}
