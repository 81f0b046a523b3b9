package rie_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
)

// The emulator running a real bootstrap is tested in package esm
// (TestRuntimeInterfaceEmulator); these are the failure paths.

func TestBinaryFromEnvironment(t *testing.T) {
	t.Setenv(rie.EnvBinary, "/opt/aws-lambda-rie")
	if got, err := rie.Binary(context.Background()); err != nil || got != "/opt/aws-lambda-rie" {
		t.Fatalf("Binary: %q, %v", got, err)
	}
}

func TestStartFailures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := rie.Start(ctx, filepath.Join(dir, "missing"), rie.WithBinary("/bin/true")); err == nil {
		t.Fatal("a missing bootstrap was accepted")
	}
	if _, err := rie.Start(ctx, dir, rie.WithBinary("/bin/true")); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("a directory as bootstrap: %v", err)
	}
	boot := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(boot, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := rie.Start(ctx, boot, rie.WithBinary(filepath.Join(dir, "no-such-rie"))); err == nil {
		t.Fatal("a missing emulator binary was accepted")
	}
}

func TestStartNoticesAnEmulatorThatExits(t *testing.T) {
	t.Parallel()
	fake := filepath.Join(t.TempDir(), "aws-lambda-rie")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'cannot start: bad flag' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := rie.Start(ctx, bootstrap, rie.WithBinary(fake))
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "bad flag") {
		t.Fatalf("Start = %v, want an error saying the emulator exited, with its output", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Start took %v to notice", took)
	}
}

// An emulator that never listens is dialed until ctx ends, then stopped.
func TestStartGivesUpAtTheContext(t *testing.T) {
	t.Parallel()
	fake := filepath.Join(t.TempDir(), "aws-lambda-rie")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := rie.Start(ctx, bootstrap, rie.WithBinary(fake))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not listen") {
		t.Fatalf("Start = %v, want an error saying the emulator did not listen, matching context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("Start gave up after %v, want at the 300ms deadline (and the emulator stopped)", took)
	}
}
