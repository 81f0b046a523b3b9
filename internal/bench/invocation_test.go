package bench_test

// Whole invocations (parse, deserialize, no-op Process) with JSON, String,
// Avro and Protobuf values, against the hand-written equivalent:
// events.KafkaEvent with encoding/json, base64, then the value decoded by
// hand — JSON with encoding/json, the string as is, Avro through srclient's
// goavro codec (schema cached by id), Protobuf with the Confluent header
// skipped and proto.Unmarshal. Run:
//
//	go test -run '^$' -bench Invocation -benchmem ./internal/bench/
//
// Each case ends with a ratio row: naive/ours (for JSON values the target
// is ≥ 4, the aim 5; see BENCHMARKS.md).

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/riferrei/srclient"
	"google.golang.org/protobuf/proto"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
	"github.com/kafkalambda/kafka-lambda-go/internal/benchkit"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

const avroTradeSchema = `{"type":"record","name":"UserTrade","namespace":"bench","fields":[
 {"name":"userid","type":"string"},{"name":"regionid","type":"string"},{"name":"quantity","type":"int"},
 {"name":"symbol","type":"string"},{"name":"price","type":"int"},{"name":"account","type":"string"},
 {"name":"side","type":"string"}]}`

// records is the size of an event, but for JSON values, which are also
// measured at 100 and 10,000.
const records = 1000

// trade is the i-th trade of an event.
func trade(i int) benchkit.Trade {
	return benchkit.Trade{UserID: fmt.Sprintf("User_%d", i%9), RegionID: "Region_3", Quantity: int32(100 + i%5000),
		Symbol: "ZVZZT", Price: int32(10 + i%990), Account: "ABC123", Side: "BUY"}
}

// event builds an event of n records over 3 partitions with values
// serialized by values.
func event[V any](b *testing.B, n int, values serde.Serializer[V], value func(i int) V) []byte {
	b.Helper()
	ev := kafkalambdatest.NewEvent(serde.String(), values, kafkalambdatest.MSK("arn:aws:kafka:us-east-1:1:cluster/c/u"))
	for i := range n {
		ev.Add("user_trades", int32(i%3), kafkalambdatest.Record[string, V]{Key: trade(i).UserID, Value: value(i)})
	}
	payload, err := ev.Payload(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

// naive walks an event the hand-written way and decodes each value with
// decode.
func naive(payload []byte, decode func(raw []byte) error) error {
	var ev events.KafkaEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	for _, recs := range ev.Records {
		for _, r := range recs {
			if _, err := base64.StdEncoding.DecodeString(r.Key); err != nil {
				return err
			}
			raw, err := base64.StdEncoding.DecodeString(r.Value)
			if err != nil {
				return err
			}
			if err := decode(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

func compare[V any](b *testing.B, name string, values serde.Deserializer[V], payload []byte, decode func([]byte) error) {
	h, err := kafkalambda.NewHandler(serde.String(), values,
		func(ctx context.Context, r *kafkalambda.Record[string, V]) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), payload); err != nil { // warm caches
		b.Fatal(err)
	}
	if err := naive(payload, decode); err != nil {
		b.Fatal(err)
	}
	t := benchkit.Timings{}
	t.Run(b, name+"/impl=kafkalambda", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Invoke(context.Background(), payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	t.Run(b, name+"/impl=naive", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := naive(payload, decode); err != nil {
				b.Fatal(err)
			}
		}
	})
	t.Ratio(b, name+"/ratio", benchkit.Ratio{Num: name + "/impl=naive", Den: name + "/impl=kafkalambda", Unit: "naive/ours"})
}

func BenchmarkInvocation(b *testing.B) {
	cluster := kafkalambdatest.NewCluster(b)
	reg := cluster.RegistryClient()

	// JSON values, 100 and 10,000 records.
	for _, n := range []int{100, 10000} {
		payload := event(b, n, serde.Serializer[benchkit.Trade](serde.JSON[benchkit.Trade]()), trade)
		compare(b, fmt.Sprintf("value=json/records=%d", n), serde.Deserializer[benchkit.Trade](serde.JSON[benchkit.Trade]()), payload,
			func(raw []byte) error { var t benchkit.Trade; return json.Unmarshal(raw, &t) })
	}

	// String values.
	payload := event(b, records, serde.String(), func(i int) string {
		t := trade(i)
		return fmt.Sprintf("%s bought %d at %d", t.UserID, t.Quantity, t.Price)
	})
	compare(b, "value=string", serde.String(), payload, func(raw []byte) error { _ = string(raw); return nil })

	// Avro values, in the Confluent wire format.
	avroCodec, err := serde.Avro[benchkit.Trade](reg, serde.WithSchema(avroTradeSchema))
	if err != nil {
		b.Fatal(err)
	}
	payload = event(b, records, avroCodec, trade)
	naiveReg := srclient.CreateSchemaRegistryClient(cluster.RegistryURL())
	schemas := map[int]*srclient.Schema{}
	compare(b, "value=avro", serde.Deserializer[benchkit.Trade](avroCodec), payload, func(raw []byte) error {
		if len(raw) < 5 || raw[0] != 0 {
			return errors.New("not the Confluent wire format")
		}
		id := int(binary.BigEndian.Uint32(raw[1:5]))
		s, ok := schemas[id]
		if !ok {
			if s, err = naiveReg.GetSchema(id); err != nil {
				return err
			}
			schemas[id] = s
		}
		native, _, err := s.Codec().NativeFromBinary(raw[5:])
		if err != nil {
			return err
		}
		m := native.(map[string]any)
		t := benchkit.Trade{UserID: m["userid"].(string), RegionID: m["regionid"].(string), Quantity: m["quantity"].(int32),
			Symbol: m["symbol"].(string), Price: m["price"].(int32), Account: m["account"].(string), Side: m["side"].(string)}
		_ = t
		return nil
	})

	// Protobuf values, in the Confluent wire format.
	pbCodec, err := serde.Protobuf[*tradepb.UserTrade](reg)
	if err != nil {
		b.Fatal(err)
	}
	payload = event(b, records, pbCodec, func(i int) *tradepb.UserTrade {
		t := trade(i)
		return &tradepb.UserTrade{Userid: t.UserID, Regionid: t.RegionID, Quantity: t.Quantity, Symbol: t.Symbol, Price: t.Price,
			Account: t.Account, Side: t.Side}
	})
	compare(b, "value=protobuf", serde.Deserializer[*tradepb.UserTrade](pbCodec), payload, func(raw []byte) error {
		// magic byte, schema id, then the message indexes: one 0 byte
		// for the first message of the file.
		if len(raw) < 6 || raw[0] != 0 || raw[5] != 0 {
			return errors.New("not the Confluent wire format of a first message")
		}
		var t tradepb.UserTrade
		return proto.Unmarshal(raw[6:], &t)
	})
}
