// Package coldstart measures the cold start of a function built with
// kafka-lambda-go (the tradesettle example) against a bare aws-lambda-go
// function, both under the AWS Lambda Runtime Interface Emulator. It holds
// only a benchmark; see coldstart_test.go.
package coldstart
