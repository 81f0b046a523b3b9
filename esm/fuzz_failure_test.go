package esm_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/esm"
)

// Fuzz target of the on-failure record parser (added by the reliability
// suite, issue 7): what a consumer of the on-failure topic reads may come
// from any producer. Run it with:
//
//	go test -run '^$' -fuzz '^FuzzParseFailureRecord$' -fuzztime 30s ./esm

// fuzzFailureRecord is a record as the mapping writes one.
const fuzzFailureRecord = `{"requestContext":{"requestId":"9b3c1a2e-1f0a-4c1e-9d1e-3f1b2a4c5d6e","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:local","condition":"RetriesExhausted","approximateInvokeCount":3},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-11-07T10:00:00.000Z","KafkaBatchInfo":{"batchSize":1,"bootstrapServers":"127.0.0.1:9092","payloadSize":231,"recordInfo":{"offset":"5","timestamp":"2026-11-07T09:59:59.000Z"}},"payload":{"eventSource":"SelfManagedKafka","bootstrapServers":"127.0.0.1:9092","records":{"t-0":[{"topic":"t","partition":0,"offset":5,"timestamp":1700000000000,"timestampType":"CREATE_TIME","key":"azc=","value":"AAAAAAE=","headers":[{"h":[104,105]}]}]}}}`

// FuzzParseFailureRecord: the parser and the payload's event parser never
// panic, and a record they accept survives a round trip through JSON.
func FuzzParseFailureRecord(f *testing.F) {
	f.Add([]byte(fuzzFailureRecord))
	f.Add([]byte(`{"requestContext":{"condition":"RecordAgeExceeded"},"responseContext":null,"payload":null}`))
	f.Add([]byte(`{"payload":{"records":{"t-0":[{"offset":1e3}]}}}`))
	f.Add([]byte(`{"KafkaBatchInfo":{"recordInfo":{"offset":5}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"payload":"x"}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		fr, err := esm.ParseFailureRecord(value)
		if err != nil {
			return
		}
		if ev, err := fr.Event(); err == nil && ev == nil {
			t.Fatal("Event returned neither an event nor an error")
		}
		b, err := json.Marshal(fr)
		if err != nil {
			t.Fatalf("an accepted record does not marshal: %v", err)
		}
		again, err := esm.ParseFailureRecord(b)
		if err != nil {
			t.Fatalf("a marshaled record does not parse: %v\n%s", err, b)
		}
		p1, p2 := jsonValue(t, fr.Payload), jsonValue(t, again.Payload)
		fr.Payload, again.Payload = nil, nil
		if !reflect.DeepEqual(fr, again) || !reflect.DeepEqual(p1, p2) {
			t.Fatalf("round trip changed the record:\n%+v %v\n%+v %v", fr, p1, again, p2)
		}
	})
}

// jsonValue decodes raw (numbers kept as written), an absent value as null:
// a payload is compared by value, since marshaling may re-escape it.
func jsonValue(t *testing.T, raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("payload %q is not JSON: %v", raw, err)
	}
	return v
}
