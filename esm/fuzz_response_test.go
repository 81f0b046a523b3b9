package esm

import (
	"bytes"
	"testing"
)

// Fuzz target of the Invoke API response classification (added by the
// reliability suite, issue 7): a function's response is untrusted. Run it
// with:
//
//	go test -run '^$' -fuzz '^FuzzInvokeResponse$' -fuzztime 30s ./esm

// FuzzInvokeResponse: telling an error document from a response never
// panics, nor does reading the error out of it; a response the batch item
// failures parser accepts as naming failures is never taken for an error
// document (the mapping would retry the whole batch instead of resuming
// the failed partitions).
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
		fe := functionError(Result{Payload: payload, FunctionError: "Unhandled"})
		if fe == nil || fe.Kind != "Unhandled" {
			t.Fatalf("functionError = %+v", fe)
		}
		_ = fe.Error()
		if !isErr && bytes.HasPrefix(bytes.TrimSpace(payload), []byte("Task timed out after")) {
			t.Fatal("a timeout text is not an error")
		}
		failed, err := parseItemFailures(payload, testJob())
		if err == nil && len(failed) > 0 && isErr {
			t.Fatalf("%q names item failures and is taken for an error document", payload)
		}
	})
}
