package kafkalambda_test

// Benchmarks of ParseEvent against the naive path (events.KafkaEvent with
// encoding/json, then base64) and against the floor (the bare base64
// decode of the same keys and values). Run:
//
//	go test -run '^$' -bench 'ParseEvent' -benchmem ./kafkalambda/
//
// Each size ends with a ratio row: x-floor (ours / floor; target ≤ 5, aim
// 3) and naive/ours, from the rows above it.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kafkalambda/kafka-lambda-go/internal/benchkit"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// benchEvent builds an MSK event of n records over 3 partitions with
// valueSize-byte values, 16-byte keys and two headers per record.
func benchEvent(n, valueSize int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	ev := &kafkalambda.Event{
		Source:           kafkalambda.SourceMSK,
		SourceARN:        "arn:aws:kafka:us-east-1:123456789012:cluster/bench/0000-1",
		BootstrapServers: []string{"b-1.bench:9098", "b-2.bench:9098"},
	}
	for p := range 3 {
		ev.Partitions = append(ev.Partitions, kafkalambda.Partition{
			Key: fmt.Sprintf("user_trades-%d", p), Topic: "user_trades", Partition: int32(p)})
	}
	ts := time.UnixMilli(1700000000000)
	for i := range n {
		pt := &ev.Partitions[i%3]
		key := make([]byte, 16)
		value := make([]byte, valueSize)
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		pt.Records = append(pt.Records, kafkalambda.RawRecord{
			Topic: pt.Topic, Partition: pt.Partition, Offset: int64(1000 + i/3),
			Timestamp: ts.Add(time.Duration(i) * time.Millisecond), TimestampType: kafkalambda.TimestampCreateTime,
			Key: key, Value: value,
			Headers: []kafkalambda.Header{
				{Key: "trace-id", Value: []byte("0af7651916cd43dd8448eb211c80319c")},
				{Key: "source", Value: []byte("ksqldb")},
			},
		})
	}
	return ev.AppendJSON(nil)
}

// benchSizes are the events measured: 100 and 10,000 records of ~660 bytes
// of JSON each (the 10,000-record event is 6.6 MB), and the most records
// that fit in 6 MiB, Lambda's invocation payload limit (about 9,400).
var benchSizes = []struct {
	name    string
	records int // 0: as many as fit in 6 MiB
	value   int
}{
	{"records=100", 100, 260},
	{"records=10000", 10000, 260},
	{"size=6MB", 0, 260},
}

// recordsIn returns how many benchEvent records of value bytes fit in max
// bytes of event.
func recordsIn(max, value int) int {
	per := float64(len(benchEvent(100, value))) / 100
	n := int(float64(max) / per)
	for n > 0 && len(benchEvent(n, value)) > max {
		n -= n / 100
	}
	return n
}

// base64Fields extracts the base64 strings of all keys and values.
func base64Fields(b *testing.B, payload []byte) [][]byte {
	var ev events.KafkaEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for _, recs := range ev.Records {
		for _, r := range recs {
			out = append(out, []byte(r.Key), []byte(r.Value))
		}
	}
	return out
}

func parseOurs(b *testing.B, payload []byte) {
	if _, err := kafkalambda.ParseEvent(payload); err != nil {
		b.Fatal(err)
	}
}

func parseFloor(b *testing.B, fields [][]byte, dst []byte) {
	for _, f := range fields {
		if _, err := base64.StdEncoding.Decode(dst, f); err != nil {
			b.Fatal(err)
		}
	}
}

func parseNaive(b *testing.B, payload []byte) {
	var ev events.KafkaEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		b.Fatal(err)
	}
	for _, recs := range ev.Records {
		for _, r := range recs {
			if _, err := base64.StdEncoding.DecodeString(r.Key); err != nil {
				b.Fatal(err)
			}
			if _, err := base64.StdEncoding.DecodeString(r.Value); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseEvent(b *testing.B) {
	for _, size := range benchSizes {
		if size.records == 0 {
			size.records = recordsIn(6<<20, size.value)
		}
		payload := benchEvent(size.records, size.value)
		fields := base64Fields(b, payload)
		dst := make([]byte, len(payload))
		t := benchkit.Timings{}
		t.Run(b, size.name+"/impl=kafkalambda", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				parseOurs(b, payload)
			}
			b.ReportMetric(float64(testing.AllocsPerRun(1, func() { parseOurs(b, payload) }))/float64(size.records), "allocs/record")
		})
		t.Run(b, size.name+"/impl=base64-floor", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				parseFloor(b, fields, dst)
			}
		})
		t.Run(b, size.name+"/impl=events.KafkaEvent", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				parseNaive(b, payload)
			}
		})
		t.Ratio(b, size.name+"/ratio", benchkit.Ratio{Num: size.name + "/impl=kafkalambda", Den: size.name + "/impl=base64-floor", Unit: "x-floor"},
			benchkit.Ratio{Num: size.name + "/impl=events.KafkaEvent", Den: size.name + "/impl=kafkalambda", Unit: "naive/ours"})
	}
}
