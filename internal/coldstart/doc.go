// Package coldstart measures the cold start of functions built with
// kafka-lambda-go (the tradesettle example, which sends, and the pure-Go
// consumeonly example) against a bare aws-lambda-go function, all under
// the AWS Lambda Runtime Interface Emulator, and the sizes of their
// binaries. It holds only benchmarks; see coldstart_test.go.
package coldstart
