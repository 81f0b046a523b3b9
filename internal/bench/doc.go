// Package bench holds benchmarks that span the SDK's packages: a whole
// invocation (parse, deserialize, a no-op Process) with String, Avro and
// Protobuf values against the hand-written equivalent a Go team writes
// today. It holds only tests; see BENCHMARKS.md at the repository root.
package bench
