package pipeline_test

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
)

// The function built for Graviton (Lambda arm64) under the arm64 build of
// the Runtime Interface Emulator, both run by QEMU's user-mode emulation
// on this x86-64 machine, as they run on Lambda arm64: a short pipeline
// run whose Kafka events the event source mapping reads from the embedded
// cluster and invokes the arm64 bootstrap with; it loads its secret,
// decodes, settles and sends every settlement through its producer.
//
// Opt in with TRADESETTLE_RIE=1, as for TestRunUnderRIE. The user-mode
// emulator is $TRADESETTLE_QEMU when set, and then the test fails, never
// skips, when it cannot run; else qemu-aarch64-static (or qemu-aarch64)
// from PATH, and the test skips without one. No binfmt_misc registration
// is needed: the emulator and the bootstrap both go through QEMU
// explicitly. TRADESETTLE_BOOTSTRAP_ARM64 names the bootstrap (CI: what
// `GOARCH=arm64 build.sh` built, with either producer); else the test
// builds the franz-go one (pure Go, no C cross compiler).
//
//	TRADESETTLE_RIE=1 TRADESETTLE_QEMU=qemu-aarch64-static go test -run TestRunUnderQEMU -v ./examples/tradesettle/pipeline
func TestRunUnderQEMU(t *testing.T) {
	if os.Getenv("TRADESETTLE_RIE") == "" {
		t.Skip("set TRADESETTLE_RIE=1 (and have qemu-user-static) to run the arm64 function under QEMU and the Runtime Interface Emulator")
	}
	if runtime.GOARCH == "arm64" {
		t.Skip("this machine is arm64: TestRunUnderRIE runs the arm64 function natively")
	}
	qemu := os.Getenv("TRADESETTLE_QEMU")
	if qemu == "" {
		for _, name := range []string{"qemu-aarch64-static", "qemu-aarch64"} {
			if p, err := exec.LookPath(name); err == nil {
				qemu = p
				break
			}
		}
		if qemu == "" {
			t.Skip("no qemu-aarch64-static in PATH (Debian/Ubuntu: apt-get install qemu-user-static); TRADESETTLE_QEMU names one and makes this test required")
		}
	}
	t.Parallel()
	bootstrap := os.Getenv("TRADESETTLE_BOOTSTRAP_ARM64")
	if bootstrap == "" {
		bootstrap = filepath.Join(t.TempDir(), "bootstrap")
		build := exec.Command("go", "build", "-tags", "franz,lambda.norpc", "-o", bootstrap, "..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build the function for arm64 (-tags franz): %v\n%s", err, out)
		}
	} else if abs, err := filepath.Abs(bootstrap); err == nil {
		bootstrap = abs
	}
	if f, err := elf.Open(bootstrap); err != nil {
		t.Fatalf("bootstrap %s: %v", bootstrap, err)
	} else {
		m := f.Machine
		f.Close()
		if m != elf.EM_AARCH64 {
			t.Fatalf("bootstrap %s is for %v, want EM_AARCH64", bootstrap, m)
		}
	}
	ctx := context.Background()
	emulator, err := rie.BinaryFor(ctx, "arm64") // cross-compiled on first use: minutes on a cold build cache
	if err != nil {
		t.Fatal(err)
	}

	const trades = 300
	var out strings.Builder
	res, err := pipeline.Run(ctx, pipeline.Config{
		Trades: trades, Partitions: 2, BatchSize: 100, Timeout: 3 * time.Minute,
		RIE: &pipeline.RIE{Bootstrap: bootstrap, Emulator: emulator, Interpreter: []string{qemu}, Output: &out},
	})
	if err != nil {
		t.Fatalf("%v\nemulator output:\n%s", err, out.String())
	}
	checkResult(t, res, trades)
	t.Logf("%d trades settled in %d invocations of the arm64 bootstrap in %v (%s)", res.Settled, res.Invocations, res.Elapsed.Round(time.Millisecond), bootstrap)
}
