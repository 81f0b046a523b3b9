package kafkalambdatest

import (
	"net"
	"testing"
)

// ClosedAddr returns a 127.0.0.1 address at which nothing listens, so that
// a connection to it is refused at once: brokers or a registry that are
// down, for a test of how a function fails.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
