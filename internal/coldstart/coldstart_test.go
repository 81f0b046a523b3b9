package coldstart_test

// BenchmarkColdStart measures, under the Runtime Interface Emulator, the time
// from the first invocation request — the emulator starts the function's
// process then, as Lambda does — to its response, for:
//
//   - bare: the smallest aws-lambda-go function;
//   - tradesettle: the example function (package main of
//     examples/tradesettle) settling one trade: process start, reading the
//     AWS configuration, fetching the secret from a local Secrets Manager
//     endpoint, the schema from the registry, creating the producer, sending
//     the settlement and waiting for the broker's acknowledgement;
//   - tradesettle-franz: the same function built with the pure-Go franz-go
//     producer (CGO_ENABLED=0, -tags franz; see the example's README,
//     "Choosing the producer");
//   - consumeonly: the pure-Go example function (examples/consumeonly,
//     built with CGO_ENABLED=0) counting one JSON record.
//
// Run (it builds the binaries and the emulator first):
//
//	go test -run '^$' -bench ColdStart ./internal/coldstart/
//
// It reports the median cold start of each (bare-ms, sdk-ms, franz-ms,
// consume-ms), the difference of tradesettle's to bare's (delta-ms, target
// ≤ 30; delta-franz-ms for the franz-go build, target ≤ 20) and the
// binaries' sizes.
//
// BenchmarkBinarySize builds, with -trimpath -ldflags='-s -w' as a user
// would, bare and consumeonly with CGO_ENABLED=0 for linux/amd64 and
// linux/arm64, tradesettle (cgo, amd64), and tradesettle with the franz-go
// producer (CGO_ENABLED=0, -tags franz, amd64 and arm64; target ≤ 15 MB),
// and reports their sizes in MB
// (2^20 bytes):
//
//	go test -run '^$' -bench BinarySize ./internal/coldstart/

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm/rie"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// build compiles pkg into dir and returns the binary's path; env (e.g.
// GOARCH=arm64) is added to the build's environment, after CGO_ENABLED=1.
func build(b *testing.B, dir, pkg, name string, env ...string) string {
	b.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=1"), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// coldStart starts a fresh emulator with bootstrap and times one
// invocation from request to response.
func coldStart(b *testing.B, bootstrap string, payload []byte, env ...string) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	emu, err := rie.Start(ctx, bootstrap, rie.WithEnv(env...), rie.WithFunctionTimeout(20*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	url := emu.Endpoint + "/2015-03-31/functions/function/invocations"
	start := time.Now()
	resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if os.Getenv("COLDSTART_TRACE") != "" {
		b.Logf("%s: %v\n%s", filepath.Base(bootstrap), took, emu.Output())
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("errorMessage")) {
		b.Fatalf("invocation failed: %d %s\n%s", resp.StatusCode, body, emu.Output())
	}
	return took
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func size(b *testing.B, path string) float64 {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(st.Size()) / (1 << 20)
}

func BenchmarkColdStart(b *testing.B) {
	if _, err := rie.Binary(context.Background()); err != nil {
		b.Skipf("no Runtime Interface Emulator: %v", err)
	}
	dir := b.TempDir()
	bare := build(b, dir, "./testdata/bare", "bare")
	sdk := build(b, dir, "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle", "tradesettle")
	franz := build(b, dir, "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle", "tradesettle-franz",
		"CGO_ENABLED=0", "GOFLAGS=-tags=franz")
	consume := build(b, dir, "github.com/kafkalambda/kafka-lambda-go/examples/consumeonly", "consumeonly", "CGO_ENABLED=0")

	cluster := kafkalambdatest.NewCluster(b, kafkalambdatest.WithTopic("user_trades", 1),
		kafkalambdatest.WithTopic("trade-settlements", 1))
	secret, _ := json.Marshal(map[string]string{
		"bootstrap.servers":   cluster.BootstrapServers(),
		"schema.registry.url": cluster.RegistryURL(),
	})
	sm := secretstest.NewServer(b, map[string]string{"tradesettle/kafka": string(secret)})
	env := []string{
		"KAFKA_SECRET_ID=tradesettle/kafka",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + sm.URL,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=local-only",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	trades, err := serde.Protobuf[*tradepb.UserTrade](cluster.RegistryClient())
	if err != nil {
		b.Fatal(err)
	}
	payload, err := kafkalambdatest.NewEvent(serde.String(), trades).Add("user_trades", 0,
		kafkalambdatest.Record[string, *tradepb.UserTrade]{Key: "User_1", Value: &tradepb.UserTrade{
			Userid: "User_1", Regionid: "Region_1", Quantity: 10, Symbol: "ZVZZT", Price: 100, Account: "ABC123", Side: "BUY"}}).
		Payload(context.Background())
	if err != nil {
		b.Fatal(err)
	}

	type view struct {
		Page string `json:"page"`
	}
	views, err := kafkalambdatest.NewEvent(serde.String(), serde.JSON[view]()).
		Add("views", 0, kafkalambdatest.Record[string, view]{Key: "u1", Value: view{Page: "/"}}).
		Payload(context.Background())
	if err != nil {
		b.Fatal(err)
	}

	// One untimed run each, so that the page cache holds the binaries.
	coldStart(b, bare, []byte(`{}`))
	coldStart(b, sdk, payload, env...)
	coldStart(b, franz, payload, env...)
	coldStart(b, consume, views)
	// Each iteration is 7 cold starts of each, alternating, so that the
	// default -benchtime gives a median of at least 7.
	var bareTimes, sdkTimes, franzTimes, consumeTimes []time.Duration
	for b.Loop() {
		for range 7 {
			bareTimes = append(bareTimes, coldStart(b, bare, []byte(`{}`)))
			sdkTimes = append(sdkTimes, coldStart(b, sdk, payload, env...))
			franzTimes = append(franzTimes, coldStart(b, franz, payload, env...))
			consumeTimes = append(consumeTimes, coldStart(b, consume, views))
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(median(bareTimes)), "bare-ms")
	b.ReportMetric(ms(median(sdkTimes)), "sdk-ms")
	b.ReportMetric(ms(median(franzTimes)), "franz-ms")
	b.ReportMetric(ms(median(consumeTimes)), "consume-ms")
	b.ReportMetric(ms(median(sdkTimes))-ms(median(bareTimes)), "delta-ms")
	b.ReportMetric(ms(median(franzTimes))-ms(median(bareTimes)), "delta-franz-ms")
	b.ReportMetric(size(b, bare), "bare-MB")
	b.ReportMetric(size(b, sdk), "sdk-MB")
	b.ReportMetric(size(b, franz), "franz-MB")
	b.ReportMetric(size(b, consume), "consume-MB")
	b.Logf("cold start medians over %d runs: bare %v, tradesettle %v, tradesettle-franz %v, consumeonly %v",
		len(bareTimes), median(bareTimes), median(sdkTimes), median(franzTimes), median(consumeTimes))
}

func BenchmarkBinarySize(b *testing.B) {
	dir := b.TempDir()
	sizes := []struct {
		metric, pkg string
		env         []string
	}{
		{"bare-amd64-MB", "./testdata/bare", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}},
		{"bare-arm64-MB", "./testdata/bare", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}},
		{"consume-amd64-MB", "github.com/kafkalambda/kafka-lambda-go/examples/consumeonly",
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}},
		{"consume-arm64-MB", "github.com/kafkalambda/kafka-lambda-go/examples/consumeonly",
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}},
		{"tradesettle-MB", "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle", nil}, // cgo, this machine's arch
		{"tradesettle-franz-amd64-MB", "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle",
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-tags=franz"}},
		{"tradesettle-franz-arm64-MB", "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle",
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOFLAGS=-tags=franz"}},
	}
	mb := make([]float64, len(sizes))
	for i, s := range sizes {
		mb[i] = size(b, build(b, dir, s.pkg, s.metric, s.env...))
	}
	for b.Loop() { // the sizes are the result; there is nothing to time
	}
	// After the loop: its first call deletes metrics reported before it.
	for i, s := range sizes {
		b.ReportMetric(mb[i], s.metric)
	}
}
