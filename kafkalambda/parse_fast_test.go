package kafkalambda

import (
	"reflect"
	"strings"
	"testing"
)

// TestFastRecord: records written as event source mappings write them are
// read by fastRecord (all of their first eight fields), anything else by
// the careful reader after fastRecord has left the parser as it was; and
// either way ParseEvent decodes what encoding/json does.
func TestFastRecord(t *testing.T) {
	const esm = `{"topic":"orders","partition":1,"offset":42,"timestamp":1700000000000,"timestampType":"CREATE_TIME","key":"a2V5","value":"dmFsdWU=","headers":[{"h":[1,-2,3]}]}`
	cases := []struct {
		name   string
		record string
		fast   bool
	}{
		{"as an ESM writes it", esm, true},
		{"no headers", strings.Replace(esm, `[{"h":[1,-2,3]}]`, `[]`, 1), true},
		{"null key and value", strings.NewReplacer(`"a2V5"`, `null`, `"dmFsdWU="`, `null`).Replace(esm), true},
		{"log append time", strings.Replace(esm, "CREATE_TIME", "LOG_APPEND_TIME", 1), true},
		{"offset 0", strings.Replace(esm, `"offset":42`, `"offset":0`, 1), true},
		{"schema metadata after the headers", strings.Replace(esm, `]}]}`, `]}],"valueSchemaMetadata":{"dataFormat":"AVRO","schemaId":"1"}}`, 1), true},
		{"white space", strings.Replace(esm, `"partition":1`, `"partition": 1`, 1), false},
		{"fields in another order", strings.Replace(strings.Replace(esm, `"partition":1,`, ``, 1), `"headers"`, `"partition":1,"headers"`, 1), false},
		{"negative offset", strings.Replace(esm, `"offset":42`, `"offset":-1`, 1), false},
		{"null timestamp", strings.Replace(esm, `1700000000000`, `null`, 1), false},
		{"another timestamp type", strings.Replace(esm, "CREATE_TIME", "NO_TIMESTAMP_TYPE", 1), false},
		{"escaped topic", strings.Replace(esm, `"topic":"orders"`, `"topic":"\u006frders"`, 1), false},
		{"a 19-digit offset", strings.Replace(esm, `"offset":42`, `"offset":1000000000000000000`, 1), false},
		{"key not base64", strings.Replace(esm, `"a2V5"`, `"a2V"`, 1), false},
		{"bad header", strings.Replace(esm, `[1,-2,3]`, `[1,-2,300]`, 1), false},
		// The first header moves the full headers array; the second fails.
		{"bad second header", strings.Replace(esm, `[{"h":[1,-2,3]}]`, `[{"h":[1]},{"h":[300]}]`, 1), false},
		{"leading zero", strings.Replace(esm, `"offset":42`, `"offset":042`, 1), false},
		{"fraction", strings.Replace(esm, `"offset":42`, `"offset":42.0`, 1), false},
		{"no headers field", strings.Replace(esm, `,"headers":[{"h":[1,-2,3]}]`, ``, 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The headers array is full: a header read moves to a new one,
			// which a rollback must give up for this one.
			hdrs := []Header{{Key: "x"}, {Key: "y"}}
			p := parser{buf: []byte(c.record), arena: make([]byte, 0, 64), chunk: 64, rec: -1, hdr: -1, hdrs: hdrs, nhdr: 2}
			pt := Partition{Topic: "orders", Partition: 1}
			var r RawRecord
			n := p.fastRecord(&r, &pt, true)
			if (n == fastFields) != c.fast {
				t.Fatalf("fastRecord read %d fields, want fast %v", n, c.fast)
			}
			sameHdrs := len(p.hdrs) == 2 && cap(p.hdrs) == 2 && &p.hdrs[0] == &hdrs[0] && p.nhdr == 2 && p.hdrs[1].Key == "y"
			if n == 0 && (p.pos != 0 || len(p.arena) != 0 || !sameHdrs || !reflect.DeepEqual(r, RawRecord{})) {
				t.Fatalf("fastRecord read nothing but left pos %d, %d arena bytes, headers %v (%d counted), record %+v",
					p.pos, len(p.arena), p.hdrs, p.nhdr, r)
			}
			// Strings it interned (header keys) are not in arena memory
			// it may have given back: the next writes there leave them.
			full := p.arena[:cap(p.arena)]
			for i := range full {
				full[i] = 0xff
			}
			for k, v := range p.strs {
				if k != "h" || v != "h" {
					t.Fatalf("interned header key %q (%q) changed when the arena was written", k, v)
				}
			}
			payload := []byte(`{"eventSource":"aws:kafka","records":{"orders-1":[` + c.record + `]}}`)
			got, err := ParseEvent(payload)
			want, refErr := refParse(payload)
			if (err != nil) != (refErr != nil) {
				t.Fatalf("ParseEvent: %v; encoding/json: %v", err, refErr)
			}
			if err == nil && !reflect.DeepEqual(normalize(got), normalize(want)) {
				t.Fatalf("ParseEvent %+v\nencoding/json %+v", got, want)
			}
		})
	}
	// A topic that needs escaping in JSON is never compared as bytes.
	p := parser{buf: []byte(`{"topic":"a"b","partition":0`)}
	var r RawRecord
	if n := p.fastRecord(&r, &Partition{Topic: `a"b`}, plainJSON(`a"b`)); n != 0 {
		t.Fatalf("fastRecord read %d fields of a topic with a quote", n)
	}
}
