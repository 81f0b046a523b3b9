package rie

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Module is the emulator the package builds: the command's import path at
// a pinned version of github.com/aws/aws-lambda-runtime-interface-emulator.
const Module = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// EnvBinary names the environment variable that, when set, is the path of
// the aws-lambda-rie binary to use on this machine's architecture (see
// Binary; BinaryFor another architecture does not read it).
const EnvBinary = "KAFKALAMBDA_RIE"

// Binary returns the path of aws-lambda-rie: $KAFKALAMBDA_RIE when set, else
// a build cached under os.UserCacheDir()/kafkalambda, made on first use with
// `go install Module` (about a minute on a cold build cache; instant after).
// Concurrent callers, in one process or several, are safe.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, nil
	}
	return cached(ctx, "", func(ctx context.Context, tmp string) error {
		cmd := exec.CommandContext(ctx, "go", "install", Module)
		cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
		cmd.Dir = tmp // outside any module
		return goRun(cmd)
	})
}

// BinaryFor returns the path of aws-lambda-rie built for Linux on goarch
// (as GOARCH spells it: "amd64", "arm64"), the emulator for a bootstrap
// built for that architecture. For this machine's architecture (on Linux)
// it is Binary's. For another one, the emulator is cross-compiled (it is
// pure Go: no C toolchain), cached beside Binary's build, and runs, with
// its bootstrap, under a user-mode emulator such as qemu-aarch64-static
// (WithInterpreter). Concurrent callers, in one process or several, are
// safe.
func BinaryFor(ctx context.Context, goarch string) (string, error) {
	if goarch == "" || strings.ContainsAny(goarch, `/\ `) {
		return "", fmt.Errorf("rie: BinaryFor: bad GOARCH %q", goarch)
	}
	if runtime.GOOS == "linux" && goarch == runtime.GOARCH {
		return Binary(ctx)
	}
	// `go install` does not install a cross-compiled command where GOBIN
	// says, so the build is a `go build -o` in a throwaway module that
	// requires the emulator's.
	return cached(ctx, "-linux-"+goarch, func(ctx context.Context, tmp string) error {
		mod, err := os.MkdirTemp(filepath.Dir(tmp), "rie-module-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(mod)
		pkg, version, _ := strings.Cut(Module, "@")
		env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		for _, args := range [][]string{
			{"mod", "init", "kafkalambda.invalid/rie"},
			{"get", pkg + "@" + version},
		} {
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Env, cmd.Dir = env, mod
			if err := goRun(cmd); err != nil {
				return err
			}
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(tmp, "aws-lambda-rie"), pkg)
		cmd.Env = append(env, "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
		cmd.Dir = mod
		return goRun(cmd)
	})
}

// goRun runs a go command, its output kept for the error.
func goRun(cmd *exec.Cmd) error {
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

// cached returns the emulator cached in the directory named for Module's
// version and suffix, built there first by build, which writes
// aws-lambda-rie into the (fresh, empty) directory it is given.
func cached(ctx context.Context, suffix string, build func(ctx context.Context, dir string) error) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	version := Module[strings.LastIndexByte(Module, '@')+1:]
	dir := filepath.Join(cache, "kafkalambda", "aws-lambda-rie-"+version+suffix)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	// Build into a fresh directory and rename it into place, so that no
	// caller ever sees a half-written binary.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "rie-build-")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer os.RemoveAll(tmp)
	if err := build(ctx, tmp); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// Out of time is the caller's budget, not a missing emulator:
			// callers that skip on ErrUnavailable must not skip on this.
			return "", fmt.Errorf("rie: building %s: %w", Module, ctxErr)
		}
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(bin); statErr != nil { // not another caller's build either
			return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return bin, nil
}
