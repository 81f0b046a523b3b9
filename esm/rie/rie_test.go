package rie_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	// Noticing is an event, not a speed: a Start that dialed on until its
	// context ended would say the emulator "did not listen", and after ctx
	// has ended; a minute leaves a loaded machine all the room it needs.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := rie.Start(ctx, bootstrap, rie.WithBinary(fake))
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "bad flag") {
		t.Fatalf("Start = %v, want an error saying the emulator exited, with its output", err)
	}
	if ctx.Err() != nil {
		t.Error("Start noticed the exit only when its context ended")
	}
}

// An emulator that never listens is dialed until ctx ends, then stopped.
func TestStartGivesUpAtTheContext(t *testing.T) {
	t.Parallel()
	fake := filepath.Join(t.TempDir(), "aws-lambda-rie")
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := fmt.Sprintf("#!/bin/sh\necho $$ > %s\nexec sleep 60\n", pidFile)
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
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
	// The lower bound is safe on a loaded machine (it only makes Start
	// later). "Stopped" is checked as an event, the emulator's process is
	// gone; the upper bound only catches a Start that waited for it to
	// exit by itself (60 s), half of which no loaded machine needs.
	if took := time.Since(start); took < 300*time.Millisecond || took > 30*time.Second {
		t.Errorf("Start gave up after %v, want at the 300ms deadline (and the emulator stopped)", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the fake emulator did not run: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the emulator (pid %d) still runs after Start gave up: kill 0 = %v", pid, err)
	}
}
