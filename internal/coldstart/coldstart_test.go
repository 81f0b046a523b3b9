package coldstart_test

// BenchmarkColdStart measures, under the Runtime Interface Emulator, the time
// from the first invocation request — the emulator starts the function's
// process then, as Lambda does — to its response, for:
//
//   - bare: the smallest aws-lambda-go function;
//   - hand-written (testdata/handwritten): tradesettle's first invocation
//     written directly with aws-lambda-go, confluent-kafka-go, srclient and
//     the Secrets Manager SDK — the baseline a function must not be slower
//     than;
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
// Every function is built as examples/tradesettle/build.sh builds
// (-trimpath -ldflags='-s -w', -tags lambda.norpc, and serde.noglue for
// those importing serde: sdkTags) and runs with Lambda's environment where
// this machine's would differ (lambdaEnv).
//
// Run (it builds the binaries and the emulator first):
//
//	go test -run '^$' -bench ColdStart -benchtime=1x ./internal/coldstart/
//
// It reports the median cold start of each (bare-ms, hand-ms, sdk-ms,
// franz-ms, consume-ms), the differences to bare's (delta-ms for
// tradesettle, target ≤ 30; delta-franz-ms for the franz-go build, target
// ≤ 20; delta-consume-ms, target ≤ 10) and to the hand-written one's
// (sdk-vs-hand-ms, franz-vs-hand-ms: target ≤ 0), and the binaries' sizes.
// Each iteration is 7 cold starts of each, alternating.
//
// BenchmarkBinarySize builds, with -trimpath -ldflags='-s -w' and the tags
// above, bare and consumeonly with CGO_ENABLED=0 for linux/amd64 and
// linux/arm64, tradesettle (cgo, amd64), and tradesettle with the franz-go
// producer (CGO_ENABLED=0, -tags franz, amd64 and arm64; target ≤ 15 MB),
// plus the franz build and consumeonly without build.sh's tags for
// comparison, and reports their sizes in MB (2^20 bytes):
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

// Build tags, as examples/tradesettle/build.sh builds: lambda.norpc drops
// aws-lambda-go's go1.x RPC mode (every function, bare included), and
// serde.noglue the AWS SDK's Glue client, which a function without a Glue
// registry does not use (see serde's package doc, "Binary size").
const (
	bareTags = "lambda.norpc"
	sdkTags  = "lambda.norpc,serde.noglue"
)

// build compiles pkg into dir with tags (none when empty) and returns the
// binary's path; env (e.g. GOARCH=arm64) is added to the build's
// environment, after CGO_ENABLED=1.
func build(b *testing.B, dir, pkg, name, tags string, env ...string) string {
	b.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-tags="+tags, "-o", out, pkg)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=1"), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// lambdaEnv is added to every function's environment, so that it runs in
// Lambda's rather than this machine's: Lambda sets no AWS_CA_BUNDLE, and
// with one set (as on a machine behind a TLS-inspecting proxy),
// config.LoadDefaultConfig parses the whole bundle into a certificate
// pool, 12 to 17 ms here, whether or not the function speaks TLS.
var lambdaEnv = []string{"AWS_CA_BUNDLE="}

// coldStart starts a fresh emulator with bootstrap and times one
// invocation from request to response.
func coldStart(b *testing.B, bootstrap string, payload []byte, env ...string) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env = append(lambdaEnv[:len(lambdaEnv):len(lambdaEnv)], env...)
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
	bare := build(b, dir, "./testdata/bare", "bare", bareTags)
	hand := build(b, dir, "./testdata/handwritten", "handwritten", bareTags)
	sdk := build(b, dir, "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle", "tradesettle", sdkTags)
	franz := build(b, dir, "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle", "tradesettle-franz",
		sdkTags+",franz", "CGO_ENABLED=0")
	consume := build(b, dir, "github.com/kafkalambda/kafka-lambda-go/examples/consumeonly", "consumeonly", sdkTags,
		"CGO_ENABLED=0")

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
	coldStart(b, hand, payload, env...)
	coldStart(b, sdk, payload, env...)
	coldStart(b, franz, payload, env...)
	coldStart(b, consume, views)
	// Each iteration is 7 cold starts of each, alternating, so that the
	// default -benchtime gives a median of at least 7.
	var bareTimes, handTimes, sdkTimes, franzTimes, consumeTimes []time.Duration
	for b.Loop() {
		for range 7 {
			bareTimes = append(bareTimes, coldStart(b, bare, []byte(`{}`)))
			handTimes = append(handTimes, coldStart(b, hand, payload, env...))
			sdkTimes = append(sdkTimes, coldStart(b, sdk, payload, env...))
			franzTimes = append(franzTimes, coldStart(b, franz, payload, env...))
			consumeTimes = append(consumeTimes, coldStart(b, consume, views))
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(median(bareTimes)), "bare-ms")
	b.ReportMetric(ms(median(handTimes)), "hand-ms")
	b.ReportMetric(ms(median(sdkTimes)), "sdk-ms")
	b.ReportMetric(ms(median(franzTimes)), "franz-ms")
	b.ReportMetric(ms(median(consumeTimes)), "consume-ms")
	b.ReportMetric(ms(median(sdkTimes))-ms(median(bareTimes)), "delta-ms")
	b.ReportMetric(ms(median(franzTimes))-ms(median(bareTimes)), "delta-franz-ms")
	b.ReportMetric(ms(median(consumeTimes))-ms(median(bareTimes)), "delta-consume-ms")
	b.ReportMetric(ms(median(sdkTimes))-ms(median(handTimes)), "sdk-vs-hand-ms")
	b.ReportMetric(ms(median(franzTimes))-ms(median(handTimes)), "franz-vs-hand-ms")
	b.ReportMetric(size(b, bare), "bare-MB")
	b.ReportMetric(size(b, hand), "hand-MB")
	b.ReportMetric(size(b, sdk), "sdk-MB")
	b.ReportMetric(size(b, franz), "franz-MB")
	b.ReportMetric(size(b, consume), "consume-MB")
	b.Logf("cold start medians over %d runs: bare %v, hand-written %v, tradesettle %v, tradesettle-franz %v, consumeonly %v",
		len(bareTimes), median(bareTimes), median(handTimes), median(sdkTimes), median(franzTimes), median(consumeTimes))
}

func BenchmarkBinarySize(b *testing.B) {
	dir := b.TempDir()
	const (
		ts = "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle"
		co = "github.com/kafkalambda/kafka-lambda-go/examples/consumeonly"
	)
	amd64 := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}
	arm64 := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}
	sizes := []struct {
		metric, pkg, tags string
		env               []string
	}{
		{"bare-amd64-MB", "./testdata/bare", bareTags, amd64},
		{"bare-arm64-MB", "./testdata/bare", bareTags, arm64},
		{"consume-amd64-MB", co, sdkTags, amd64},
		{"consume-arm64-MB", co, sdkTags, arm64},
		{"tradesettle-MB", ts, sdkTags, nil}, // cgo, this machine's arch
		{"tradesettle-franz-amd64-MB", ts, sdkTags + ",franz", amd64},
		{"tradesettle-franz-arm64-MB", ts, sdkTags + ",franz", arm64},
		// Without build.sh's tags, for comparison: what a plain
		// go build -tags franz gives.
		{"tradesettle-franz-plain-amd64-MB", ts, "franz", amd64},
		{"consume-plain-amd64-MB", co, "", amd64},
	}
	mb := make([]float64, len(sizes))
	for i, s := range sizes {
		mb[i] = size(b, build(b, dir, s.pkg, s.metric, s.tags, s.env...))
	}
	for b.Loop() { // the sizes are the result; there is nothing to time
	}
	// After the loop: its first call deletes metrics reported before it.
	for i, s := range sizes {
		b.ReportMetric(mb[i], s.metric)
	}
}
