package pipeline

import (
	"bytes"
	"context"

	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// RIEModule is the AWS Lambda Runtime Interface Emulator that a run under
// the emulator uses, built with `go install` when no binary is given (the
// same version and cache location as the esm package's tests).
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// EnvRIE names a prebuilt aws-lambda-rie binary to use.
const EnvRIE = "KAFKALAMBDA_RIE"

// rieBinary returns path, or $KAFKALAMBDA_RIE, or a build of RIEModule
// cached under the user cache directory, made on first use (which needs the
// Go module proxy).
func rieBinary(ctx context.Context, path string) (string, error) {
	if path == "" {
		path = os.Getenv(EnvRIE)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("pipeline: emulator: %w", err)
		}
		return path, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	version := RIEModule[strings.LastIndexByte(RIEModule, '@')+1:]
	dir := filepath.Join(cache, "kafkalambda", "aws-lambda-rie-"+version)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("pipeline: emulator cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "rie-build-")
	if err != nil {
		return "", fmt.Errorf("pipeline: emulator cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", RIEModule)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	cmd.Dir = tmp // outside any module
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pipeline: build the Runtime Interface Emulator (%s; or set %s): %w\n%s", RIEModule, EnvRIE, err, out)
	}
	// Rename into place so that concurrent runs never see half a binary.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(bin); statErr != nil {
			return "", fmt.Errorf("pipeline: emulator cache: %w", err)
		}
	}
	return bin, nil
}

// rieProcess is the emulator running the function's bootstrap.
type rieProcess struct {
	Endpoint string // the Invoke API, e.g. http://127.0.0.1:40123
	cmd      *exec.Cmd
	out      *lockedBuffer
	done     chan struct{}
}

// startRIE runs bootstrap under the emulator rie with env added to this
// process's environment, and waits until the emulator listens.
func startRIE(ctx context.Context, rie, bootstrap string, env []string) (*rieProcess, error) {
	bootstrap, err := filepath.Abs(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if _, err := os.Stat(bootstrap); err != nil {
		return nil, fmt.Errorf("pipeline: bootstrap: %w (build it with build.sh)", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &rieProcess{Endpoint: "http://" + addr, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bootstrap)
	p.cmd.Dir = filepath.Dir(bootstrap)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pipeline: start the emulator: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("pipeline: the emulator exited:\n%s", p.out.String())
		case <-ctx.Done():
			p.Close()
			return nil, fmt.Errorf("pipeline: emulator: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, fmt.Errorf("pipeline: the emulator did not listen on %s: %w\n%s", addr, err, p.out.String())
		}
	}
}

// Output returns what the emulator and the function wrote so far.
func (p *rieProcess) Output() string { return p.out.String() }

// Close stops the emulator (and with it the function: SIGTERM first, so
// that the function closes its producer).
func (p *rieProcess) Close() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pipeline: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes, keeping the
// last 1 MB.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		rest := l.b.Bytes()[l.b.Len()-(1<<19):]
		l.b = *bytes.NewBuffer(append([]byte(nil), rest...))
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
