// Command kafkalambda-new starts a new Lambda function from one of the
// SDK's examples, in one command:
//
//	go run github.com/kafkalambda/kafka-lambda-go/cmd/kafkalambda-new@latest example.com/orders
//
// It copies the example (default tradesettle: the function, its tests, its
// build script, SAM template and README) into a new folder (default: the
// last element of the module path), renames the example's import path to
// the new module's in every .go and .proto file, writes a go.mod that
// requires github.com/kafkalambda/kafka-lambda-go at the version the
// command was built from, seeds go.sum with the SDK's checksums, and runs
// go mod tidy. Then `./build.sh` builds the function and `sam build` the
// deployment.
//
// The arguments follow golang.org/x/tools/cmd/gonew's, without its source
// module argument: gonew copies a whole module, and the examples are
// folders of the SDK's module, not modules of their own.
//
//	kafkalambda-new [-example tradesettle] [-src dir] [-tidy=false] module [dir]
//
// -src takes the example from a local clone of the SDK instead of the
// module cache (go mod download) and makes the new module use that clone
// (a replace directive): for trying out unreleased changes, and for the
// SDK's own CI.
//
// The exit status is 0 on success, 1 on failure, 2 on bad arguments.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "kafkalambda-new:", err)
		return 2
	}
	if cfg == nil { // -h
		return 0
	}
	if err := create(ctx, *cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "kafkalambda-new:", err)
		return 1
	}
	return 0
}
