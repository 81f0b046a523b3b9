package main

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
)

// modulePath is the import path prefix of this example's packages, which a
// copy of the folder replaces with its own module path.
const modulePath = "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle"

// TestCopyBuildsForLambda does what the README asks of a user: make a new
// module from this folder with cmd/kafkalambda-new, build the function with
// build.sh (static, musl, glibc-checked) and with the Makefile target sam
// build runs, and run that bootstrap through the pipeline under the
// Runtime Interface Emulator.
//
// It takes a few minutes on a cold build cache (librdkafka through cgo and
// musl), so it is opt-in; .ci/run runs it after build.sh, whose build cache
// it shares:
//
//	TRADESETTLE_BUILD=1 go test -run TestCopyBuildsForLambda -v ./examples/tradesettle
//
// The copy requires github.com/kafkalambda/kafka-lambda-go with a replace
// directive to this repository (-src; a user gets the published module instead),
// and resolves everything else as a user's copy does, through GOPROXY, with
// the checksums of the SDK's own go.sum. (Tidy needs modules a build of the
// SDK never downloads, such as go.mod files of old dependencies' own
// requirements, so it cannot run from the module cache alone.)
func TestCopyBuildsForLambda(t *testing.T) {
	if os.Getenv("TRADESETTLE_BUILD") == "" {
		t.Skip("set TRADESETTLE_BUILD=1 to copy the example into a new module and run build.sh (minutes on a cold cache)")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tradesettle")
	modEnv := []string{"GOFLAGS=-mod=mod"}

	// The README's one command: the example copied into a new module, its
	// imports renamed, the SDK required (here: this clone, through -src)
	// with the SDK's checksums, tidied.
	run(t, repo, modEnv, "go", "run", "./cmd/kafkalambda-new", "-src", repo, "example.com/tradesettle", dir)
	run(t, dir, modEnv, "go", "vet", "./...")
	if out := run(t, dir, nil, "grep", "-rl", "--include=*.go", "--include=*.proto", modulePath, "."); out != "" {
		t.Fatalf("the copy still refers to %s:\n%s", modulePath, out)
	}

	// build.sh, run from elsewhere: its paths are relative to its folder.
	out := run(t, t.TempDir(), modEnv, filepath.Join(dir, "build.sh"))
	t.Logf("build.sh:\n%s", out)
	bootstrap := filepath.Join(dir, "dist", "bootstrap")
	f, err := elf.Open(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("dist/bootstrap has a program interpreter: not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("dist/bootstrap needs %v", libs)
	}
	f.Close()
	zr, err := zip.OpenReader(filepath.Join(dir, "dist", "function.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm()&0o111 == 0 {
		t.Errorf("function.zip holds %v, want an executable bootstrap at its root", zr.File)
	}
	zr.Close()

	// sam build, as SAM calls the makefile method: the target named after
	// the template's logical id, in a scratch copy of the folder, with
	// ARTIFACTS_DIR set; what it leaves there is the function's code, and
	// that bootstrap is the one run below.
	scratch := filepath.Join(t.TempDir(), "scratch")
	run(t, dir, nil, "cp", "-r", dir, scratch)
	artifacts := t.TempDir()
	out = run(t, scratch, append(modEnv, "ARTIFACTS_DIR="+artifacts), "make", "build-SettleFunction")
	t.Logf("make build-SettleFunction:\n%s", out)
	bootstrap = filepath.Join(artifacts, "bootstrap")
	if st, err := os.Stat(bootstrap); err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Fatalf("$ARTIFACTS_DIR/bootstrap: %v, %v; want an executable", st, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var emu bytes.Buffer
	res, err := pipeline.Run(ctx, pipeline.Config{Trades: 3000, Partitions: 2, BatchSize: 200,
		RIE: &pipeline.RIE{Bootstrap: bootstrap, Output: &emu}})
	if err != nil {
		t.Fatalf("%v\n%s", err, emu.String())
	}
	if res.Settled != res.Trades || res.Duplicates != 0 {
		t.Fatalf("settled %d of %d trades (%d duplicates); emulator output:\n%s", res.Settled, res.Trades, res.Duplicates, emu.String())
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if name == "grep" { // exit 1: no match
		return string(out)
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
