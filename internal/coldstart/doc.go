// Package coldstart measures the cold start of functions built with
// kafka-lambda-go (the tradesettle example, which sends, and the pure-Go
// consumeonly example) against a bare aws-lambda-go function and a
// hand-written equivalent of tradesettle (testdata/handwritten), all under
// the AWS Lambda Runtime Interface Emulator, and the sizes of their
// binaries. It holds benchmarks (coldstart_test.go) and a test that the
// build tags they build with leave out what they are for (deps_test.go).
package coldstart
