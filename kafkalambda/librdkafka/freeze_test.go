package librdkafka_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// freezableListener lets a test make every connection accepted so far
// silently dead — reads block, writes vanish, nothing is closed — as a
// NAT or VPC interface does to connections idle while Lambda froze the
// process. Connections accepted later work.
type freezableListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*freezableConn
}

func (l *freezableListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &freezableConn{Conn: c, dead: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, fc)
	l.mu.Unlock()
	return fc, nil
}

func (l *freezableListener) killSilently() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.once.Do(func() { close(c.dead) })
	}
	l.conns = nil
}

type freezableConn struct {
	net.Conn
	dead chan struct{}
	once sync.Once
}

func (c *freezableConn) Read(b []byte) (int, error) {
	select {
	case <-c.dead:
		return 0, io.EOF
	default:
	}
	n, err := c.Conn.Read(b)
	select {
	case <-c.dead:
		<-make(chan struct{}) // a dead path: nothing ever arrives
	default:
	}
	return n, err
}

func (c *freezableConn) Write(b []byte) (int, error) {
	select {
	case <-c.dead:
		return len(b), nil // written into the void
	default:
		return c.Conn.Write(b)
	}
}

// TestFreezeChild is the frozen process of TestProducerSurvivesFreeze: it
// serves invocations of a handler over HTTP and prints its address.
func TestFreezeChild(t *testing.T) {
	brokers := os.Getenv("KAFKALAMBDA_FREEZE_CHILD")
	if brokers == "" {
		t.Skip("run by TestProducerSurvivesFreeze")
	}
	maxIdle, _ := time.ParseDuration(os.Getenv("KAFKALAMBDA_FREEZE_MAXIDLE"))
	p, err := librdkafka.NewProducer(func(context.Context) (map[string]any, error) {
		return map[string]any{"bootstrap.servers": brokers}, nil
	}, librdkafka.WithMaxIdle(maxIdle))
	if err != nil {
		t.Fatal(err)
	}
	h := echoHandler(t, p, "out", nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ADDR", l.Addr())
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, _ := io.ReadAll(r.Body)
		// 10 s: room for the rebuilt producer on a loaded machine, and a third
		// of librdkafka's 30 s request timeout that a request written to a
		// dead connection waits out (the control's failure).
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if _, err := h.Invoke(ctx, payload); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	io.Copy(io.Discard, os.Stdin) // until the parent is done
}

// TestProducerSurvivesFreeze freezes a process running a handler (SIGSTOP)
// between two invocations while its broker connections die silently, as
// Lambda and its network do, and checks that the invocation after the thaw
// still succeeds within its deadline — and, as a control, that it does not
// without the idle rebuild (so the test can fail).
func TestProducerSurvivesFreeze(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	for _, tc := range []struct {
		name    string
		maxIdle time.Duration
		ok      bool
	}{{"rebuilt after idle", time.Second, true}, {"never rebuilt (control)", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var fl *freezableListener
			c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.ListenFn(func(network, addr string) (net.Listener, error) {
				l, err := net.Listen(network, addr)
				fl = &freezableListener{Listener: l}
				return fl, err
			}))
			cmd := exec.Command(os.Args[0], "-test.run=^TestFreezeChild$")
			cmd.Env = append(os.Environ(), "KAFKALAMBDA_FREEZE_CHILD="+c.Kafka().ListenAddrs()[0],
				"KAFKALAMBDA_FREEZE_MAXIDLE="+tc.maxIdle.String())
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Signal(syscall.SIGCONT)
				stdin.Close()
				cmd.Wait()
			})
			addr := ""
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
					addr = a
					break
				}
			}
			if addr == "" {
				t.Fatal("child did not start")
			}
			go io.Copy(io.Discard, stdout)
			invoke := func() error {
				resp, err := http.Post("http://"+addr, "application/json", bytes.NewReader(inputEvent(t, 3, "in-0")))
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("%s", body)
				}
				return nil
			}
			if err := invoke(); err != nil {
				t.Fatalf("before the freeze: %v", err)
			}
			cmd.Process.Signal(syscall.SIGSTOP)
			fl.killSilently()
			// The freeze itself, part of the scenario: it must outlast the
			// child's max idle (1 s), which a loaded machine only helps.
			time.Sleep(2 * time.Second)
			cmd.Process.Signal(syscall.SIGCONT)
			err := invoke()
			if tc.ok && err != nil {
				t.Fatalf("after the thaw: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("the control succeeded: the freeze did not cut the connections, so the test proves nothing")
			}
		})
	}
}
