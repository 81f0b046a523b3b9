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
package rie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
	"github.com/kafkalambda/kafka-lambda-go/internal/syncbuf"
)

// Module is the emulator the package builds: the command's import path at
// a pinned version of github.com/aws/aws-lambda-runtime-interface-emulator.
const Module = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// EnvBinary names the environment variable that, when set, is the path of
// the aws-lambda-rie binary to use.
const EnvBinary = "KAFKALAMBDA_RIE"

// ErrUnavailable is matched (errors.Is) by the error of Binary when the
// emulator is neither given nor cached and cannot be built (no go command,
// no network).
var ErrUnavailable = errors.New("rie: emulator unavailable")

// Binary returns the path of aws-lambda-rie: $KAFKALAMBDA_RIE when set, else
// a build cached under os.UserCacheDir()/kafkalambda, made on first use with
// `go install Module` (about a minute on a cold build cache; instant after).
// Concurrent callers, in one process or several, are safe.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	version := Module[strings.LastIndexByte(Module, '@')+1:]
	dir := filepath.Join(cache, "kafkalambda", "aws-lambda-rie-"+version)
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
	cmd := exec.CommandContext(ctx, "go", "install", Module)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	cmd.Dir = tmp // outside any module
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// Out of time is the caller's budget, not a missing emulator:
			// callers that skip on ErrUnavailable must not skip on this.
			return "", fmt.Errorf("rie: go install %s: %w", Module, ctxErr)
		}
		return "", fmt.Errorf("%w: go install %s: %w\n%s", ErrUnavailable, Module, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(bin); statErr != nil { // not another caller's build either
			return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return bin, nil
}

// Option configures Start.
type Option func(*config)

type config struct {
	binary  string
	env     []string
	timeout time.Duration
	output  io.Writer
}

// WithBinary runs this aws-lambda-rie instead of the one Binary returns.
func WithBinary(path string) Option { return func(c *config) { c.binary = path } }

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
	if cfg.binary == "" {
		bin, err := Binary(ctx)
		if err != nil {
			return nil, err
		}
		cfg.binary = bin
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
	e.cmd = exec.Command(cfg.binary, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, abs)
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

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("rie: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
