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
package tradepb

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative tradepb/user_trade.proto tradepb/trade_settlement.proto
