package rie_test

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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
	script := fmt.Sprintf("#!/bin/sh\necho $$ > %s.tmp && mv %s.tmp %s\nexec sleep 60\n", pidFile, pidFile, pidFile)
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The ctx ends once the fake emulator has run (its pid file is there),
	// not at a time: on a loaded machine its shell may start late, and the
	// test is that Start then gives up and stops it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := os.Stat(pidFile); err == nil {
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	_, err := rie.Start(ctx, bootstrap, rie.WithBinary(fake))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "did not listen") {
		t.Fatalf("Start = %v, want an error saying the emulator did not listen, matching the ctx's end", err)
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

// elfHeader returns the 64-byte header of a little-endian ELF64 executable
// for machine, with no program or section headers: enough for debug/elf.
func elfHeader(machine elf.Machine) []byte {
	h := make([]byte, 64)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(h[18:], uint16(machine))
	binary.LittleEndian.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	binary.LittleEndian.PutUint16(h[52:], 64) // e_ehsize
	binary.LittleEndian.PutUint16(h[54:], 56) // e_phentsize
	binary.LittleEndian.PutUint16(h[58:], 64) // e_shentsize
	return h
}

// foreignMachine is an ELF machine that is not this one's.
func foreignMachine() elf.Machine {
	if runtime.GOARCH == "arm64" {
		return elf.EM_X86_64
	}
	return elf.EM_AARCH64
}

// exitingEmulator writes a fake aws-lambda-rie that exits at once, so that
// Start returns after the checks it makes before the emulator listens.
func exitingEmulator(t *testing.T) string {
	t.Helper()
	fake := filepath.Join(t.TempDir(), "aws-lambda-rie")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'fake emulator' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return fake
}

// A bootstrap for another architecture is refused, naming both, before the
// emulator starts; one for this machine is not.
func TestStartRefusesAnotherArchitecture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	foreign := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(foreign, elfHeader(foreignMachine()), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := rie.Start(ctx, foreign, rie.WithBinary(exitingEmulator(t)))
	if !errors.Is(err, rie.ErrArchitecture) || !strings.Contains(err.Error(), strings.TrimPrefix(foreignMachine().String(), "EM_")) {
		t.Fatalf("Start with a %v bootstrap = %v, want ErrArchitecture naming it", foreignMachine(), err)
	}
	self, err := os.Executable() // this test: built for this machine
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rie.Start(ctx, self, rie.WithBinary(exitingEmulator(t))); errors.Is(err, rie.ErrArchitecture) || !strings.Contains(err.Error(), "fake emulator") {
		t.Fatalf("Start with this machine's executable = %v, want the fake emulator's exit", err)
	}
}

// With an interpreter, it runs the emulator, and the emulator's command
// line ends with the interpreter and the bootstrap (for the emulator to run
// it so); it is found in PATH and given as an absolute path; a bootstrap
// for another architecture is let through.
func TestStartWithInterpreter(t *testing.T) {
	dir := t.TempDir()
	argvFile := filepath.Join(dir, "argv")
	interp := filepath.Join(dir, "fake-qemu")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\nexit 3\n", argvFile)
	if err := os.WriteFile(interp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bootstrap, elfHeader(foreignMachine()), 0o755); err != nil {
		t.Fatal(err)
	}
	emulator := filepath.Join(dir, "aws-lambda-rie-arm64")
	t.Setenv("PATH", dir)
	_, err := rie.Start(context.Background(), bootstrap, rie.WithBinary(emulator), rie.WithInterpreter("fake-qemu", "-cpu", "max"))
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("Start = %v, want the fake interpreter's exit", err)
	}
	b, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatalf("the interpreter did not run: %v", err)
	}
	argv := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{"-cpu", "max", emulator, "--runtime-interface-emulator-address", "ADDR", "--runtime-api-address", "ADDR", interp, "-cpu", "max", bootstrap}
	if len(argv) == len(want) {
		argv[4], argv[6] = "ADDR", "ADDR" // free ports
	}
	if !slices.Equal(argv, want) {
		t.Errorf("the interpreter ran with\n%q\nwant\n%q", argv, want)
	}

	_, err = rie.Start(context.Background(), bootstrap, rie.WithBinary(emulator), rie.WithInterpreter("no-such-qemu"))
	if err == nil || !strings.Contains(err.Error(), "no-such-qemu") {
		t.Fatalf("Start with a missing interpreter = %v", err)
	}

	// Without WithBinary, Binary would be this machine's emulator, which
	// the interpreter cannot run.
	_, err = rie.Start(context.Background(), bootstrap, rie.WithInterpreter("fake-qemu"))
	if !errors.Is(err, rie.ErrOption) {
		t.Fatalf("Start with an interpreter and no emulator = %v, want ErrOption", err)
	}
}

// BinaryFor this machine's architecture is Binary's (so $KAFKALAMBDA_RIE
// counts); a malformed GOARCH is refused before any build (it names a
// directory in the cache).
func TestBinaryFor(t *testing.T) {
	t.Setenv(rie.EnvBinary, "/opt/aws-lambda-rie")
	if got, err := rie.BinaryFor(context.Background(), runtime.GOARCH); err != nil || got != "/opt/aws-lambda-rie" {
		t.Fatalf("BinaryFor(%s): %q, %v", runtime.GOARCH, got, err)
	}
	for _, goarch := range []string{"", "arm64/../x", "arm 64"} {
		// Refused, not tried: a failed build would be ErrUnavailable.
		if got, err := rie.BinaryFor(context.Background(), goarch); err == nil || errors.Is(err, rie.ErrUnavailable) || !strings.Contains(err.Error(), "GOARCH") {
			t.Errorf("BinaryFor(%q) = %q, %v: want an error naming GOARCH", goarch, got, err)
		}
	}
}
