// Package soak is the reliability suite of kafka-lambda-go (issue 7): it
// holds only tests, which prove the promises of the README's "Guarantees"
// section on the real path, under injected faults. Nothing here is
// compiled into a user's function.
//
// # The soak (TestSoak)
//
// Four configurations run at the same time, each once under faults and once
// without; then the same four, with the same faults, in exactly-once mode
// (tradesettle's EXACTLY_ONCE_GROUP: "<policy>/EOS"):
//
//   - FailBatch (FAIL_BATCH), with bisection and an on-failure topic;
//   - ReportItemFailures (REPORT_BATCH_ITEM_FAILURES), with the mapping's
//     item failures read as a checkpoint (esm.ResumeFromLowest) and an
//     on-failure topic;
//   - DeadLetter (DEAD_LETTER) to a dead-letter topic, with unlimited
//     retries and no on-failure topic;
//   - IsolatePoison (ISOLATE_POISON: DeadLetter, and failures that are not
//     a record's reported as item failures instead of failing the
//     invocation), with the mapping retrying only the records listed
//     (esm.RetryListed) and an on-failure topic.
//
// With an on-failure topic the mapping retries a batch 10 times in a clean
// run (esm.RetriesWithOnFailure, AWS's default), and as many times as the
// faults can fail one batch in a faulted run (see below), after a backoff
// of 20 ms doubling to 200 ms.
// In each, 2,000 trades go, in the Confluent wire format (Protobuf through
// the registry with ksqlDB's schema, the second half with an altered
// version of it), from user_trades (8 partitions) through the local event
// source mapping (package esm, in process, AWS's default batch size of 100,
// a 3 s function timeout) into the tradesettle function built by app.Wire,
// its secret read through the real AWS SDK from package secretstest, whose
// producer writes to trade-settlements on an embedded broker (kfake,
// SASL/PLAIN) with an embedded registry (srfake, basic auth). The mapping
// invokes the function for its partitions at once; as Lambda does, each
// invocation runs in an execution environment of its own (a handler built
// by app.Wire, with its own secret cache, registry client and shared
// producer), made at the first invocation that finds none free (a cold
// start, whose INIT runs the deployed function's init check, the secret
// read and the producer created, before the invocation and outside its
// timeout) and reused while warm: up to one per partition. The broker has
// two ports: the one it advertises, which the function's producers use,
// and one that the mapping's clients reach through their dialer, so that
// the brokers can be unreachable for the function alone.
//
// While it runs, faults are injected from a fixed seed: produce requests
// rejected (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, INVALID_RECORD) and
// delayed, two of them (never back to back) past the function's deadline
// so that invocations end during their flush; the broker closing its ports
// and every connection for a while, twice — after the first outage it
// refuses the function's credentials once, and the second comes with a
// rotation of the secret to new credentials and the revocation of the old
// ones; the brokers unreachable for the function's producers alone (their
// port closed: their connections dropped, their dials refused) for 4 s,
// longer than the function's timeout, from the start of the first
// invocation after the second outage, while the mapping goes on invoking
// the function, so that invocations reach their flush deadline with their
// sends unacknowledged behind "Connection refused" (broker faults never
// overlap and are at least 1 s apart); the registry answering a plain-text
// 404 (as a wrong URL or path prefix does, not Confluent's JSON error) to
// every request for 100 ms from the function's first one, so that the cold
// start cannot deserialize anything, then 500 and 503, and, when the
// function first needs the altered schema, not answering at all, then 503
// more times than serde tries in a call; the secret source throttling,
// failing, refusing once and answering slowly; offset commits failing;
// Process panicking on some trades; and malformed records (bad magic byte,
// unknown schema id, truncated Protobuf).
//
// The faults that are not a record's fault fail invocations, which the
// mapping retries. Each kind fails a bounded number of one batch's
// attempts, and a batch that lives through the whole run can meet every
// kind in turn: a faulted run gives the mapping as many retries as the
// bounds add up to, with some to spare for the random faults (newPlan says
// how; 24 here, against AWS's 10), so that none gives a good record up. The
// figures show the most failed attempts of a batch that starts with a good
// record. A fault that fails invocations for longer than the budget gives
// good records up under every policy: that is the mapping's retry setting
// (at AWS's 10 retries and esm's default backoff, 200 ms to 5 s, the budget
// is about 31 s of backoff), not something a function can prevent.
//
// The function sends through the producer app.Wire builds: librdkafka by
// default; built with -tags franz, the pure-Go franz-go producer (package
// kafkalambda/franz), under the same faults and checks — the soak's
// producer dimension (go test -race -tags franz ./internal/soak; .ci/run
// runs both). Its report lines then start with "[franz]".
//
// At the end, per configuration, every input record has at least one
// settlement in trade-settlements (matched by app.HeaderSource, with the
// content the rules give for that trade), or is in the dead-letter or
// on-failure topic with its reason and its original bytes: none is lost. No
// poison record is reported settled, and every one is given up (a malformed
// one at the deserialize stage, a panicking one at the process stage); under
// DeadLetter and IsolatePoison by the function, to the dead-letter topic,
// never by the mapping. No good record is dead-lettered or given up to the
// on-failure topic, with one exception that is counted apart ("behind
// poison"): under ReportItemFailures the function reports a poison record
// with the rest of its partition, the mapping retries them together, and
// when the poison runs out of retries the good records after it in its
// batch go to the on-failure topic with it. That is the policy's design
// (tradesettle's REPORT_BATCH_ITEM_FAILURES says so); FailBatch with
// bisection, DeadLetter and IsolatePoison isolate the poison record and give
// up none. A good record given up for any other reason fails every run.
// DeadLetter can give up none because its mapping has no on-failure topic:
// with one (and so 10 retries) it could, since a failure that is not a
// record's retries its whole batch, which then meets every fault of its
// time; IsolatePoison retries only the records not yet done.
//
// Every injected fault kind is met in every faulted run, and at least one
// invocation ends at its flush deadline, while the brokers are unreachable
// for the function, with sends unacknowledged behind a refused connection. Duplicates are counted (delivery is at least once).
//
// Outputs are read back with a read_committed consumer (in exactly-once
// mode once no transaction is open on them: one an environment left open
// holds back what such a consumer sees until it is fenced or times out).
// In exactly-once mode the progress group is created first (see createProgressGroup: a
// kfake difference), every fifth invocation that succeeds is invoked again with the same
// batch, at once, as the mapping does when the function's answer is lost
// or its poller restarts (a forced redelivery of a batch whose invocation
// succeeded); and there must be no duplicate at all, under faults too,
// with the rest of the checks as in the default mode, but one: the
// brokers' unreachability meets an exactly-once invocation mostly in its
// transaction (InitTransactions of a replaced producer, the progress read,
// the commit) rather than at the flush deadline, so what must be seen there
// is an invocation failing in its transaction, or with its sends
// unacknowledged behind a refused connection, while the brokers were
// unreachable.
// The consumer group's committed offsets reach the end of user_trades. No
// invocation outlives its deadline by more than a grace. The same run with
// no fault and no poison (and a 10 s timeout, so that a loaded machine
// cannot cause a retry) settles every trade exactly once and gives nothing
// up.
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
// Each run logs one line of figures (t.Logf, shown with -v): where the
// records went, good records given up (behind poison, other) and
// dead-lettered, duplicates, lost, invocations failed or partial, those
// that ended with sends unacknowledged (and of those, at their flush
// deadline behind a refused connection), the most failed attempts of a
// batch that starts with a good record, the execution environments, and
// the faults injected by kind. When the
// environment variable KAFKALAMBDA_SOAK_REPORT names a file, the lines are
// also appended to it, so that .ci/run can print them after go test. When
// KAFKALAMBDA_SOAK_LOGS names a directory, each run's logs (with the
// injector's, saying when each timed fault started and ended) and the
// errors it saw are written there.
package soak
