// Package rie runs a Lambda function's bootstrap under the AWS Lambda
// Runtime Interface Emulator (aws-lambda-rie), for a local event source
// mapping (package esm) to invoke through the Invoke API:
//
//	emu, err := rie.Start(ctx, "dist/bootstrap", rie.WithEnv("SECRET_ARN=..."))
//	if err != nil { ... }
//	defer emu.Close()
//	target, err := esm.NewEndpointTarget(emu.Endpoint)
//
// The emulator is not a dependency of this module: [Binary] finds it
// ($KAFKALAMBDA_RIE, a previous build in the user cache directory) or builds
// it once from the Go module proxy with `go install` ([Module]).
//
// # Another architecture
//
// A bootstrap built for Graviton (arm64) runs on an x86-64 machine under
// QEMU's user-mode emulation (Debian/Ubuntu: apt-get install
// qemu-user-static), with the emulator built for arm64 too, so that the
// whole of it runs as on Lambda arm64:
//
//	bin, err := rie.BinaryFor(ctx, "arm64")
//	if err != nil { ... }
//	emu, err := rie.Start(ctx, "dist/bootstrap", rie.WithBinary(bin),
//		rie.WithInterpreter("qemu-aarch64-static"))
//
// Start refuses a bootstrap for another architecture without an
// interpreter (ErrArchitecture) rather than let its first invocation fail.
package rie

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
	"github.com/kafkalambda/kafka-lambda-go/internal/syncbuf"
)

// Option configures Start.
type Option func(*config)

type config struct {
	binary      string
	interpreter []string
	env         []string
	timeout     time.Duration
	output      io.Writer
}

// WithBinary runs this aws-lambda-rie instead of the one Binary returns.
func WithBinary(path string) Option { return func(c *config) { c.binary = path } }

// WithInterpreter runs the emulator, and the emulator runs the bootstrap,
// under command (its first element a program looked up in PATH, the rest
// its arguments before the program to run): a user-mode emulator such as
// QEMU's qemu-aarch64-static, for a bootstrap and an emulator (BinaryFor)
// built for another architecture than this machine's. Both go through it
// explicitly, so that no binfmt_misc registration is needed. Default: none,
// each runs directly.
func WithInterpreter(command ...string) Option {
	return func(c *config) { c.interpreter = append([]string(nil), command...) }
}

// WithEnv adds "NAME=value" variables to the function's environment (the
// emulator passes its own environment on to the function).
func WithEnv(kv ...string) Option { return func(c *config) { c.env = append(c.env, kv...) } }

// WithFunctionTimeout sets the function timeout (default 60 s; the
// emulator's AWS_LAMBDA_FUNCTION_TIMEOUT).
func WithFunctionTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithOutput sends the emulator's and the function's output (START, END,
// REPORT lines and the function's logs) to w. Default: kept for
// Emulator.Output.
func WithOutput(w io.Writer) Option { return func(c *config) { c.output = w } }

// Emulator is a running aws-lambda-rie with a bootstrap.
type Emulator struct {
	// Endpoint is the Invoke API base URL, e.g. "http://127.0.0.1:40123";
	// the function's name there is "function".
	Endpoint string
	cmd      *exec.Cmd
	out      *syncbuf.Buffer
	once     sync.Once
	exited   chan struct{} // closed when the emulator's process has ended
	waitErr  error         // how it ended; read after exited is closed
}

// Start runs bootstrap (an executable built for the provided.al2023 runtime,
// or any program using aws-lambda-go's lambda.Start) under the emulator,
// listening on a free 127.0.0.1 port, and returns once it accepts
// connections. The function itself starts on the first invocation, as in
// Lambda. ctx bounds the start only; Close stops the emulator.
func Start(ctx context.Context, bootstrap string, opts ...Option) (*Emulator, error) {
	cfg := config{timeout: 60 * time.Second}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	abs, err := filepath.Abs(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("rie: bootstrap: %w", err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("rie: bootstrap: %w", err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("rie: bootstrap %s is a directory", abs)
	}
	interp := cfg.interpreter
	if len(interp) > 0 {
		// The emulator runs it again from its own process (as the
		// bootstrap's interpreter): an absolute path, checked here.
		p, err := exec.LookPath(interp[0])
		if err != nil {
			return nil, fmt.Errorf("rie: interpreter: %w", err)
		}
		if p, err = filepath.Abs(p); err != nil {
			return nil, fmt.Errorf("rie: interpreter: %w", err)
		}
		interp = append([]string{p}, interp[1:]...)
	} else if err := checkArch(abs); err != nil {
		return nil, err
	}
	// The bootstrap is checked first: a bad one fails fast, with no
	// emulator to build.
	if cfg.binary == "" && len(interp) > 0 {
		// Binary is this machine's emulator; under an interpreter the
		// emulator must be the bootstrap's architecture's.
		return nil, fmt.Errorf("rie: %w: WithInterpreter needs WithBinary, the emulator built for the bootstrap's architecture (BinaryFor)", ErrOption)
	}
	if cfg.binary == "" {
		bin, err := Binary(ctx)
		if err != nil {
			return nil, err
		}
		cfg.binary = bin
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	e := &Emulator{Endpoint: "http://" + addr, out: &syncbuf.Buffer{}}
	// The emulator's own listener and the Runtime API it gives the
	// function both get a port of their own, so emulators can run side by
	// side.
	// With an interpreter, it runs the emulator, which runs it with the
	// bootstrap: the emulator's command line ends with the bootstrap's.
	args := append(append([]string(nil), interp...), cfg.binary,
		"--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr)
	args = append(append(args, interp...), abs)
	e.cmd = exec.Command(args[0], args[1:]...)
	e.cmd.Dir = filepath.Dir(abs)
	e.cmd.Env = append(append(os.Environ(), fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", max(1, int(cfg.timeout.Seconds())))), cfg.env...)
	var w io.Writer = e.out
	if cfg.output != nil {
		w = io.MultiWriter(e.out, cfg.output)
	}
	e.cmd.Stdout, e.cmd.Stderr = w, w
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("rie: start %s: %w", cfg.binary, err)
	}
	e.exited = make(chan struct{})
	go func() {
		e.waitErr = e.cmd.Wait()
		close(e.exited)
	}()
	if err := e.waitListening(ctx, addr); err != nil {
		if errors.Is(err, errExited) {
			return nil, fmt.Errorf("rie: the emulator exited before it listened (%v)\n%s", e.waitErr, e.Output())
		}
		e.Close()
		return nil, fmt.Errorf("rie: the emulator did not listen on %s: %w\n%s", addr, err, e.Output())
	}
	return e, nil
}

// errExited: the emulator's process ended.
var errExited = errors.New("rie: the emulator exited")

// waitListening dials addr until a connection is accepted, ctx ends
// (ctx.Err()) or the emulator exits (errExited). There is no event to wait
// for instead: the emulator says nothing once it listens (it logs
// "Listening on" only after its server has stopped) and cannot be handed a
// listener, so retry.Do paces the dials (10 ms doubling to 200 ms), until
// ctx ends rather than a backoff before its deadline.
func (e *Emulator) waitListening(ctx context.Context, addr string) error {
	dctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	defer context.AfterFunc(ctx, func() { cancel(ctx.Err()) })()
	go func() {
		select {
		case <-e.exited:
			cancel(errExited)
		case <-dctx.Done():
		}
	}()
	var d net.Dialer
	p := retry.Policy{Attempts: math.MaxInt, Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}
	err := retry.Do(dctx, p, func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return true, err
		}
		c.Close()
		return false, nil
	})
	if err != nil {
		return context.Cause(dctx)
	}
	return nil
}

// Output returns what the emulator and the function have written so far.
func (e *Emulator) Output() string { return e.out.String() }

// Close stops the emulator and the function: SIGTERM first, which the
// emulator passes on to the function as Lambda does at shutdown (so a
// function's SIGTERM handling, such as closing its producer, runs), then
// SIGKILL after 3 seconds. It is safe to call more than once.
func (e *Emulator) Close() {
	e.once.Do(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(3 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
		}
	})
}

// machines maps GOARCH to the ELF machine of its executables.
var machines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"riscv64": elf.EM_RISCV, "ppc64": elf.EM_PPC64, "ppc64le": elf.EM_PPC64,
	"s390x": elf.EM_S390, "loong64": elf.EM_LOONGARCH,
}

// checkArch returns an error matching ErrArchitecture when bootstrap is an
// ELF executable for another machine than this one: without binfmt_misc
// and QEMU, its exec would fail only at the first invocation, inside the
// emulator. Anything else (a script, an unknown machine) is let through.
func checkArch(bootstrap string) error {
	want, ok := machines[runtime.GOARCH]
	if !ok {
		return nil
	}
	f, err := elf.Open(bootstrap)
	if err != nil {
		return nil // not ELF: a script, run by its #! line
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%w: %s is an executable for %s, this machine is %s (%s): run it under a user-mode emulator such as qemu (WithInterpreter)",
			ErrArchitecture, bootstrap, strings.TrimPrefix(f.Machine.String(), "EM_"), strings.TrimPrefix(want.String(), "EM_"), runtime.GOARCH)
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("rie: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
