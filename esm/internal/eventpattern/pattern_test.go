package eventpattern

import (
	"errors"
	"testing"
)

// AWS's examples, verbatim: the Kafka filtering page ("Filtering events
// from Amazon MSK and self-managed Apache Kafka event sources") and the
// comparison operators the event pattern documentation lists with their
// rule syntax, each as a pattern on a record's value. Every example is
// tried against a document it must match and one it must not.
func TestAWSExamples(t *testing.T) {
	for _, tc := range []struct {
		pattern    string
		match, not string // documents: {"value": ...}
	}{
		// Kafka page: device_ID begins with AB.
		{`{ "value" : { "device_ID" : [ { "prefix": "AB" } ] } }`,
			`{"value": { "device_ID": "AB1234", "session":{ "start_time": "yyyy-mm-ddThh:mm:ss", "duration": 162 } }}`,
			`{"value": { "device_ID": "CD1234", "session":{ "start_time": "yyyy-mm-ddThh:mm:ss", "duration": 162 } }}`},
		// Kafka page: a plain string value other than "error".
		{`{ "value" : [ { "anything-but": [ "error" ] } ] }`, `{"value": "Hello, this is a test."}`, `{"value": "error"}`},
		// Comparison operators, as rule syntax inside value.
		{`{"value": {"Location": [ "New York" ], "Day": ["Monday"]}}`, `{"value": {"Location": "New York", "Day": "Monday"}}`, `{"value": {"Location": "New York", "Day": "Tuesday"}}`},
		{`{"value": {"state": [ { "anything-but": "initializing" } ]}}`, `{"value": {"state": "running"}}`, `{"value": {"state": "initializing"}}`},
		{`{"value": {"Region": [ { "anything-but": {"prefix": "us-" } } ]}}`, `{"value": {"Region": "eu-west-1"}}`, `{"value": {"Region": "us-east-1"}}`},
		{`{"value": {"FileName": [ { "anything-but": { "suffix": ".png" } } ]}}`, `{"value": {"FileName": "a.jpg"}}`, `{"value": {"FileName": "a.png"}}`},
		{`{"value": {"Region": [ {"prefix": "us-" } ]}}`, `{"value": {"Region": "us-east-1"}}`, `{"value": {"Region": "eu-west-1"}}`},
		{`{"value": {"service" : [{ "prefix": { "equals-ignore-case": "eventb" }}]}}`, `{"value": {"service": "EventBridge"}}`, `{"value": {"service": "Lambda"}}`},
		{`{"value": {"LastName": [""]}}`, `{"value": {"LastName": ""}}`, `{"value": {"LastName": "Doe"}}`},
		{`{"value": {"Name": [ "Alice" ]}}`, `{"value": {"Name": "Alice"}}`, `{"value": {"Name": "alice"}}`},
		{`{"value": {"Name": [ { "equals-ignore-case": "alice" } ]}}`, `{"value": {"Name": "ALICE"}}`, `{"value": {"Name": "Bob"}}`},
		{`{"value": {"FileName": [ { "suffix": ".png" } ]}}`, `{"value": {"FileName": "a.png"}}`, `{"value": {"FileName": "a.jpg"}}`},
		{`{"value": {"service" : [{ "suffix": { "equals-ignore-case": "tbridge" }}]}}`, `{"value": {"service": "EventBridge"}}`, `{"value": {"service": "Lambda"}}`},
		{`{"value": {"UserID": [ null ]}}`, `{"value": {"UserID": null}}`, `{"value": {"UserID": "u1"}}`},
		{`{"value": {"PaymentType": [ "Credit", "Debit"]}}`, `{"value": {"PaymentType": "Debit"}}`, `{"value": {"PaymentType": "Cash"}}`},
		{`{"value": {"$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ]}}`, `{"value": {"Location": "Boston", "Day": "Monday"}}`, `{"value": {"Location": "Boston", "Day": "Tuesday"}}`},
		{`{"value": {"Weather": [ { "anything-but": [ "Raining" ] } ]}}`, `{"value": {"Weather": "Sunny"}}`, `{"value": {"Weather": "Raining"}}`},
		{`{"value": {"Price": [ { "numeric": [ "=", 100 ] } ]}}`, `{"value": {"Price": 100.0}}`, `{"value": {"Price": "100"}}`},
		{`{"value": {"Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ]}}`, `{"value": {"Price": 20}}`, `{"value": {"Price": 10}}`},
		{`{"value": {"ProductName": [ { "exists": true } ]}}`, `{"value": {"ProductName": "x"}}`, `{"value": {"Other": "x"}}`},
		{`{"value": {"ProductName": [ { "exists": false } ]}}`, `{"value": {"Other": "x"}}`, `{"value": {"ProductName": "x"}}`},
		// An array in the document matches when an element does.
		{`{"value": {"tags": ["a"]}}`, `{"value": {"tags": ["b", "a"]}}`, `{"value": {"tags": ["b"]}}`},
		// A rule does not match an object.
		{`{"value": [{"anything-but": ["error"]}]}`, `{"value": "ok"}`, `{"value": {"k": "error"}}`},
		// A nested pattern does not match a plain string value.
		{`{"value": {"k": ["v"]}}`, `{"value": {"k": "v"}}`, `{"value": "k"}`},
	} {
		p, err := Compile(tc.pattern)
		if err != nil {
			t.Errorf("%s: %v", tc.pattern, err)
			continue
		}
		for doc, want := range map[string]bool{tc.match: true, tc.not: false} {
			v, ok := Decode([]byte(doc))
			if !ok {
				t.Fatalf("bad test document %s", doc)
			}
			if got := p.Match(v.(map[string]any)); got != want {
				t.Errorf("%s on %s: %v, want %v", tc.pattern, doc, got, want)
			}
		}
	}
}

// Patterns Lambda does not take are errors naming where.
func TestSyntaxErrors(t *testing.T) {
	for pattern, path := range map[string]string{
		`[]`:                                    "",
		`{"value": "x"}`:                        "value",
		`{"value": []}`:                         "value",
		`{"value": {"a": [{"wildcard": "*"}]}}`: "value.a[0].wildcard",
		`{"value": {"a": [{"numeric": [">", "1"]}]}}`:        "value.a[0].numeric[1]",
		`{"value": {"a": [{"numeric": ["<", 5, ">", 1]}]}}`:  "value.a[0].numeric",
		`{"value": {"a": [{"prefix": 1}]}}`:                  "value.a[0].prefix",
		`{"value": {"a": [{"exists": "yes"}]}}`:              "value.a[0].exists",
		`{"value": {"a": [{"prefix": "x", "suffix": "y"}]}}`: "value.a[0]",
		`{"$or": [{"value": ["x"]}]}`:                        "$or",
		`{"value": {"a": [{"anything-but": []}]}}`:           "value.a[0].anything-but",
		`{} {}`: "",
	} {
		_, err := Compile(pattern)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Path != path {
			t.Errorf("%s: %v, want a SyntaxError at %q", pattern, err, path)
		}
	}
}

// Compile never panics, and a compiled pattern never panics on any
// document, nor on the document that is the pattern itself.
func FuzzPattern(f *testing.F) {
	f.Add(`{ "value" : { "device_ID" : [ { "prefix": "AB" } ] } }`, `{"value": {"device_ID": "AB1"}}`)
	f.Add(`{ "value" : [ { "anything-but": [ "error" ] } ] }`, `{"value": "error"}`)
	f.Add(`{"value": {"$or": [{"a": [{"numeric": [">", 1, "<", 5]}]}, {"b": [{"exists": false}]}]}}`, `{"value": {"a": [2, "x", null]}}`)
	f.Fuzz(func(t *testing.T, pattern, doc string) {
		p, err := Compile(pattern)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SyntaxError", err)
			}
			return
		}
		for _, d := range []string{doc, pattern} {
			if v, ok := Decode([]byte(d)); ok {
				if m, ok := v.(map[string]any); ok {
					p.Match(m)
				}
			}
		}
	})
}
