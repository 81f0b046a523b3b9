// Package testpb holds the Protobuf messages used by the serde tests, with
// their generated Go code committed next to the .proto files.
package testpb

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative testpb/common.proto testpb/trade.proto
