package esm

import (
	"fmt"
	"testing"
)

// Fuzz target of the Invoke API response classification (added by the
// reliability suite, issue 7): a function's response is untrusted. Run it
// with:
//
//	go test -run '^$' -fuzz '^FuzzInvokeResponse$' -fuzztime 30s ./esm

// FuzzInvokeResponse: telling an error document from a response never
// panics, nor does reading the error out of it; neither the classification
// nor the batch item failures read from a response change with whitespace
// around it (the emulator ends its responses with a newline); and a
// response the batch item failures parser accepts as naming failures is
// never taken for an error document (the mapping would retry the whole
// batch instead of resuming the failed partitions).
func FuzzInvokeResponse(f *testing.F) {
	f.Add([]byte(`{"errorMessage":"boom","errorType":"RecordError"}`))
	f.Add([]byte(`{"errorMessage":"x","batchItemFailures":[]}`))
	f.Add([]byte(`{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":12}}]}`))
	f.Add([]byte("  Task timed out after 3.00 seconds"))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"errorType":null}`))
	f.Add([]byte("\xff{"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		isErr := looksLikeError(payload)
		_ = functionError(Result{Payload: payload, FunctionError: "Unhandled"}).Error()
		failed, err := parseItemFailures(payload, testJob())
		if err == nil && len(failed) > 0 && isErr {
			t.Fatalf("%q names item failures and is taken for an error document", payload)
		}

		padded := append(append([]byte(" \t\r\n"), payload...), "\n "...)
		if looksLikeError(padded) != isErr {
			t.Fatalf("%q: whitespace around it changes whether it is an error document", payload)
		}
		pFailed, pErr := parseItemFailures(padded, testJob())
		if (pErr == nil) != (err == nil) || fmt.Sprint(byKey(pFailed)) != fmt.Sprint(byKey(failed)) {
			t.Fatalf("%q: whitespace around it changes the item failures: %v (%v), padded %v (%v)",
				payload, byKey(failed), err, byKey(pFailed), pErr)
		}
	})
}

// byKey keys item failures by partition, for comparing two answers for
// different jobs.
func byKey(failed map[*partState][]int64) map[string][]int64 {
	out := make(map[string][]int64, len(failed))
	for ps, offs := range failed {
		out[ps.key] = offs
	}
	return out
}
