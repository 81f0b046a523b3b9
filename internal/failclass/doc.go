// Package failclass holds no code, only tests: the failure classification
// table of the README's "Failure handling" section.
//
// Each row of the table is one way a Lambda function built with package
// kafkalambda can fail — the Schema Registry, a deserializer, Process,
// Output.Send, the brokers, the secret source — with the class the SDK gives
// it (kafkalambda.Classify: the record's fault, the environment's or the
// operator's) and what the handler does with it. The tests produce each
// failure with the real component (srfake, an httptest server, kfake, the
// Secrets Manager test server with the AWS SDK client, a librdkafka
// producer), through a kafkalambda.Handler, and check the class of the error
// the user meets: Invoke's error, or the *kafkalambda.RecordError a
// DeadLetterFunc receives.
//
// The tests render the table as Markdown and compare it with the README's
// section between the failure-classes markers, so that the documented
// table cannot drift from the code. After changing a row, rewrite the
// section with
//
//	go test ./internal/failclass -update
package failclass
