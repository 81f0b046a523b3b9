package rie_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
)

// A bootstrap built for another architecture than this machine's, such as
// `GOARCH=arm64 build.sh`'s for Graviton on an x86-64 machine, runs under
// QEMU's user-mode emulation (apt-get install qemu-user-static), with the
// emulator built for that architecture too. Without an interpreter, Start
// refuses it.
func ExampleWithInterpreter() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// Stands for the built function: the header of an executable for
	// arm64 (for x86-64 on an arm64 machine).
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(bootstrap, elfHeader(foreignMachine()), 0o755); err != nil {
		fmt.Println(err)
		return
	}

	_, err = rie.Start(ctx, bootstrap)
	fmt.Println(errors.Is(err, rie.ErrArchitecture))

	// What runs it:
	//
	//	bin, err := rie.BinaryFor(ctx, "arm64")
	//	...
	//	emu, err := rie.Start(ctx, bootstrap, rie.WithBinary(bin),
	//		rie.WithInterpreter("qemu-aarch64-static"))

	// Output:
	// true
}
