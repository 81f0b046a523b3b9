package kafkalambda_test

// Benchmarks of ParseEvent against the naive path (events.KafkaEvent with
// encoding/json, then base64) and against the floor (the bare base64
// decode of the same keys and values). Run:
//
//	go test -run '^$' -bench 'ParseEvent' -benchmem ./kafkalambda/
//
// Each size ends with a ratio row: x-floor (ParseEvent / floor) and
// Parser-x-floor (a reused Parser / floor; target ≤ 4 on every shape), and
// naive/ours, from the rows above it.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	asmbase64 "github.com/segmentio/asm/base64"

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
// that fit in 6 MiB, Lambda's invocation payload limit (about 9,400); then
// the shapes of lambdaEvent: one 32-byte header per record and ~130-byte
// JSON values over 6 partitions, and many small records.
var benchSizes = []struct {
	name    string
	records int // 0: as many as fit in 6 MiB
	value   int
	build   func(n, value int) []byte // nil: benchEvent
}{
	{"records=100", 100, 260, nil},
	{"records=10000", 10000, 260, nil},
	{"size=6MB", 0, 260, nil},
	{"header32/records=10000", 10000, 130, lambdaEvent(1)},
	{"small/records=25000", 25000, 16, lambdaEvent(0)},
}

// lambdaEvent returns a builder of an event as aws-lambda-go marshals an
// events.KafkaEvent (encoding/json, its field order and its signed-byte
// headers): n records over 6 partitions of topic "orders", a 12-byte key,
// a JSON object of about value bytes as the value, and headers random
// 32-byte headers per record (a binary trace context).
func lambdaEvent(headers int) func(n, value int) []byte {
	return func(n, value int) []byte {
		rng := rand.New(rand.NewPCG(3, 4))
		ev := events.KafkaEvent{
			EventSource:      kafkalambda.SourceMSK,
			EventSourceARN:   "arn:aws:kafka:us-east-1:123456789012:cluster/bench/0000-1",
			BootstrapServers: "b-1.bench:9098,b-2.bench:9098",
			Records:          map[string][]events.KafkaRecord{},
		}
		for i := range n {
			p := i % 6
			key := fmt.Sprintf("order-%06d", i%1000000)
			v := fmt.Sprintf(`{"id":%d,"sku":"SKU-%05d","qty":%d,"price":%d.%02d,"note":"`, i, rng.IntN(100000), rng.IntN(50), rng.IntN(1000), rng.IntN(100))
			for len(v) < value-2 {
				v += string(rune('a' + rng.IntN(26)))
			}
			v += `"}`
			r := events.KafkaRecord{
				Topic: "orders", Partition: int64(p), Offset: int64(5000 + i/6),
				Timestamp:     events.MilliSecondsEpochTime{Time: time.UnixMilli(1700000000000 + int64(i))},
				TimestampType: kafkalambda.TimestampCreateTime,
				Key:           base64.StdEncoding.EncodeToString([]byte(key)),
				Value:         base64.StdEncoding.EncodeToString([]byte(v)),
				Headers:       []map[string]events.JSONNumberBytes{},
			}
			for range headers {
				h := make([]byte, 32)
				for j := range h {
					h[j] = byte(rng.Uint32())
				}
				r.Headers = append(r.Headers, map[string]events.JSONNumberBytes{"traceparent": h})
			}
			k := fmt.Sprintf("orders-%d", p)
			ev.Records[k] = append(ev.Records[k], r)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			panic(err)
		}
		return b
	}
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

// parseFloor is the floor every row is measured against: base64-decoding
// the event's keys and values, each into its own place in dst, one buffer
// sized for all of them (floorBuf) and reused across iterations, so that
// the floor allocates nothing and writes as many distinct bytes as a parse.
func parseFloor(b *testing.B, fields [][]byte, dst []byte) {
	for _, f := range fields {
		n, err := base64.StdEncoding.Decode(dst, f)
		if err != nil {
			b.Fatal(err)
		}
		dst = dst[n:]
	}
}

// parseVectorFloor is parseFloor with the vectorised decoder the parser
// uses (segmentio/asm), for the rows that report the parse against a floor
// that is as fast as the parser's own decoding.
func parseVectorFloor(b *testing.B, fields [][]byte, dst []byte) {
	for _, f := range fields {
		n, err := asmbase64.StdEncoding.Decode(dst, f)
		if err != nil {
			b.Fatal(err)
		}
		dst = dst[n:]
	}
}

// floorBuf returns the buffer parseFloor decodes fields into.
func floorBuf(fields [][]byte) []byte {
	n := 0
	for _, f := range fields {
		n += base64.StdEncoding.DecodedLen(len(f))
	}
	return make([]byte, n)
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
		build := size.build
		if build == nil {
			build = benchEvent
		}
		payload := build(size.records, size.value)
		fields := base64Fields(b, payload)
		dst := floorBuf(fields)
		t := benchkit.Timings{}
		t.Run(b, size.name+"/impl=kafkalambda", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				parseOurs(b, payload)
			}
			b.ReportMetric(float64(testing.AllocsPerRun(1, func() { parseOurs(b, payload) }))/float64(size.records), "allocs/record")
		})
		t.Run(b, size.name+"/impl=kafkalambda-Parser", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			var ps kafkalambda.Parser
			for b.Loop() {
				if _, err := ps.Parse(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		t.Run(b, size.name+"/impl=base64-floor", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				parseFloor(b, fields, dst)
			}
		})
		t.Run(b, size.name+"/impl=base64-vector-floor", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				parseVectorFloor(b, fields, dst)
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
			benchkit.Ratio{Num: size.name + "/impl=kafkalambda-Parser", Den: size.name + "/impl=base64-floor", Unit: "Parser-x-floor"},
			benchkit.Ratio{Num: size.name + "/impl=kafkalambda-Parser", Den: size.name + "/impl=base64-vector-floor", Unit: "Parser-x-vector-floor"},
			benchkit.Ratio{Num: size.name + "/impl=events.KafkaEvent", Den: size.name + "/impl=kafkalambda", Unit: "naive/ours"})
	}
}
