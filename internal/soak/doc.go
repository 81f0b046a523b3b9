// Package soak is the reliability suite of kafka-lambda-go (issue 7): it
// holds only tests, which prove the promises of the README's "Guarantees"
// section on the real path, under injected faults. Nothing here is
// compiled into a user's function.
//
// # The soak (TestSoak)
//
// For each failure policy — FailBatch with bisection and an on-failure
// topic; ReportItemFailures with the mapping's item failures and an
// on-failure topic; both with the event source mapping's default retries,
// which with an on-failure topic are 10 (esm.RetriesWithOnFailure);
// DeadLetter to a dead-letter topic, with unlimited retries and no
// on-failure topic — 2,000 trades go, in the Confluent wire format
// (Protobuf through the registry with ksqlDB's schema, the second half with
// an altered version of it), from user_trades (8 partitions) through the
// local event source mapping (package esm, in process, AWS's default batch
// size of 100, a 3 s function timeout) into the tradesettle function
// built by app.Wire, its secret read through the real AWS SDK from package
// secretstest, whose shared producer writes to trade-settlements on an
// embedded broker (kfake, SASL/PLAIN) with an embedded registry (srfake,
// basic auth).
//
// While it runs, faults are injected from a fixed seed: produce requests
// rejected (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, INVALID_RECORD) and
// delayed, two of them past the function's deadline so that invocations end
// during their flush; the broker closing its port and every connection for
// a while, twice — after the first outage it refuses the function's
// credentials once, and the second comes with a rotation of the secret to
// new credentials and the revocation of the old ones; the registry
// answering 500 and 503, and not answering at all when the function first
// needs the altered schema; the secret source throttling, failing, refusing
// once and answering slowly; offset commits failing; Process panicking on
// some trades; and malformed records (bad magic byte, unknown schema id,
// truncated Protobuf).
//
// At the end, per policy, every input record has at least one settlement in
// trade-settlements (matched by app.HeaderSource, with the content the
// rules give for that trade), or is in the dead-letter or on-failure topic
// with its reason and its original bytes: none is lost. No poison record is
// reported settled, and every one is given up (a malformed one at the
// deserialize stage, a panicking one at the process stage); under DeadLetter
// nothing else is (a transient failure is retried). Duplicates are
// counted (delivery is at least once). The consumer group's committed
// offsets reach the end of user_trades. No invocation outlives its deadline
// by more than a grace. The same run with no fault and no poison (and a
// 10 s timeout, so that a loaded machine cannot cause a retry) settles every
// trade exactly once and gives nothing up.
//
// Every log line of every component (handler, producer and librdkafka with
// its security debug on, secret loader, mapping) and every error seen
// (invocation results, batch results, dead-letter headers) is scanned for
// the secret values in use, as such and inside a basic auth header: none
// appears.
//
// # Access (TestAccess)
//
// SASL/PLAIN over TLS to the broker, configured from the secret alone
// (ssl.ca.pem), works end to end; a wrong password, an untrusted broker
// certificate and a wrong registry password each fail the invocation within
// the function's timeout, with an error or an error log line that says what
// is wrong, and without a secret value anywhere; the event source mapping
// with a wrong password stops with an error within its connect timeout.
//
// # Regressions
//
// The bugs the soak found in other packages each have a test here that
// shows the bug in a few steps: a mapping that never resumed a partition
// after a lost group session; DeadLetter dead-lettering good records on a
// transient failure; and a record reported done whose send librdkafka
// reported delivered without any broker acknowledging it (an inferred
// "implicit ack" of a request the broker had refused, unwritten).
//
// # Figures and logs
//
// Each run logs one line of figures (t.Logf, shown with -v). When the
// environment variable KAFKALAMBDA_SOAK_REPORT names a file, the lines are
// also appended to it, so that .ci/run can print them after go test. When
// KAFKALAMBDA_SOAK_LOGS names a directory, each run's logs and the errors
// it saw are written there.
package soak
