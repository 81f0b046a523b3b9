// Package soak is the reliability suite of kafka-lambda-go: it holds only
// tests, which prove the promises of the README's "Guarantees" section on
// the real path, under injected faults. Nothing here is compiled into a
// user's function.
//
// # The soak (TestSoak)
//
// For each failure policy — FailBatch with the event source mapping's
// retries, bisection and on-failure topic; ReportItemFailures with the
// mapping's item failures and on-failure topic; DeadLetter to a dead-letter
// topic — a few thousand trades go, in the Confluent wire format (Protobuf
// through the registry, as ksqlDB writes them), from user_trades through
// the local event source mapping (package esm, in process, with a 3 s
// function timeout) into the tradesettle function built by app.Wire (its
// secret read through the real AWS SDK from package secretstest), whose
// shared producer writes to trade-settlements on an embedded broker
// (kfake) with an embedded registry (srfake), both requiring credentials.
//
// While it runs, faults are injected from a fixed seed: produce requests
// rejected (retriable and not) and delayed, some past the function's
// deadline so that invocations end during their flush; the broker dropping
// every connection and refusing new ones for a while, then rejecting the
// function's credentials once, and later after a rotation of the secret;
// the registry answering 500 and 503 or not answering; the secret source
// throttling, failing and slow; offset commits failing; Process panicking
// on some trades; and malformed records (bad magic byte, unknown schema id,
// truncated Protobuf).
//
// At the end, per policy, every input record has at least one settlement in
// trade-settlements (matched by app.HeaderSource, with the content the
// rules give for that trade), or is in the dead-letter or on-failure topic
// with its reason: none is lost. No poison record is reported settled.
// Duplicates are counted (delivery is at least once). The consumer group's
// committed offsets reach the end of user_trades. No invocation outlives its
// deadline by more than a grace. The same run with no fault and no poison
// settles every trade exactly once and gives nothing up.
//
// Every log line of every component (handler, producer and librdkafka,
// secret loader, mapping) and every error seen (invocation results,
// dead-letter headers, on-failure records) is scanned for the secret values
// in use: none appears.
//
// # Access (TestAccess)
//
// SASL/PLAIN over TLS to the broker, configured from the secret alone
// (ssl.ca.pem), works end to end; a wrong password, an untrusted broker
// certificate and a wrong registry password each fail the invocation with
// an error that says what is wrong, within the function's timeout, without
// the secret in it.
//
// # Figures
//
// Each run logs one line of figures (t.Logf, shown with -v). When the
// environment variable KAFKALAMBDA_SOAK_REPORT names a file, the lines are
// also appended to it, so that .ci/run can print them after go test.
package soak
