// Package tradepb holds the Protobuf messages of the trade settlement
// example: UserTrade (the function's input, as ksqlDB writes it) and
// TradeSettlement (its output). The generated Go code is committed next to
// the .proto files.
//
// To regenerate it (Debian: apt-get install protobuf-compiler; then
// go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12), run
// go generate in this folder. The files are compiled from the parent folder
// so that they register as "tradepb/…proto", a name unlikely to clash with
// other .proto files linked into the same binary.
//
// The Go import path is given here (the M options) rather than with a
// go_package option in the .proto files, so that the generated code does not
// hold it: a copy of this folder in another module renames its import paths
// in .go and .proto files, and a path inside a generated file's raw
// descriptor cannot be renamed that way.
package tradepb

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative --go_opt=Mtradepb/user_trade.proto=github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb --go_opt=Mtradepb/trade_settlement.proto=github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb tradepb/user_trade.proto tradepb/trade_settlement.proto
