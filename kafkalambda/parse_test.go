package kafkalambda_test

import (
	"embed"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

//go:embed testdata/*.json
var fixtures embed.FS

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ms(v int64) time.Time { return time.UnixMilli(v) }

func TestParseEventFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want *kafkalambda.Event
	}{
		{"msk.json", &kafkalambda.Event{
			Source:    kafkalambda.SourceMSK,
			SourceARN: "arn:aws:kafka:us-east-1:123456789012:cluster/demo-cluster/751d2973-a626-431c-9d4e-d7975eb44dd7-2",
			BootstrapServers: []string{
				"b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
				"b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
			},
			Partitions: []kafkalambda.Partition{{
				Key: "mytopic-0", Topic: "mytopic", Partition: 0,
				Records: []kafkalambda.RawRecord{{
					Topic: "mytopic", Partition: 0, Offset: 15,
					Timestamp: ms(1545084650987), TimestampType: "CREATE_TIME",
					Key:     []byte("recordKey"),
					Value:   []byte("Hello, this is a test."),
					Headers: []kafkalambda.Header{{Key: "headerKey", Value: []byte("headerValue")}},
				}},
			}},
		}},
		{"self-managed.json", &kafkalambda.Event{
			Source:           kafkalambda.SourceSelfManaged,
			BootstrapServers: []string{"pkc-abc12.us-east-1.aws.confluent.cloud:9092"},
			Partitions: []kafkalambda.Partition{{
				Key: "user_trades-2", Topic: "user_trades", Partition: 2,
				Records: []kafkalambda.RawRecord{
					{Topic: "user_trades", Partition: 2, Offset: 100, Timestamp: ms(1700000000000),
						TimestampType: "LOG_APPEND_TIME", Key: []byte("User_1"), Value: []byte(`{"symbol":"ZVZZT"}`)},
					{Topic: "user_trades", Partition: 2, Offset: 101, Timestamp: ms(1700000000001),
						TimestampType: "LOG_APPEND_TIME", Key: []byte("User_2"), Value: []byte(`{"symbol":"ZTST"}`)},
				},
			}},
		}},
		{"tombstones.json", &kafkalambda.Event{
			Source:           kafkalambda.SourceSelfManagedAlt,
			BootstrapServers: []string{"localhost:9092"},
			Partitions: []kafkalambda.Partition{{
				Key: "users-0", Topic: "users",
				Records: []kafkalambda.RawRecord{
					{Topic: "users", Offset: 7, Timestamp: ms(1700000000000), TimestampType: "CREATE_TIME", Key: []byte("User_1")},
					{Topic: "users", Offset: 8, Timestamp: ms(1700000000000), TimestampType: "CREATE_TIME", Key: []byte("User_2")},
					{Topic: "users", Offset: 9, Timestamp: ms(1700000000000), TimestampType: "CREATE_TIME", Key: []byte("User_3"), Value: []byte{}},
					{Topic: "users", Offset: 10, Timestamp: ms(1700000000000), TimestampType: "CREATE_TIME", Value: []byte{0}},
					{Topic: "users", Offset: 11, Timestamp: ms(1700000000000), TimestampType: "CREATE_TIME", Value: []byte{0}},
					{Topic: "users", Offset: 12, Timestamp: ms(1700000000000), TimestampType: "CREATE_TIME", Key: []byte{}, Value: []byte{0}},
				},
			}},
		}},
		{"signed-headers.json", &kafkalambda.Event{
			Source:           kafkalambda.SourceMSK,
			SourceARN:        "arn:aws:kafka:us-west-2:012345678901:cluster/ExampleMSKCluster/e9f754c6-d29a-4430-a7db-958a19fd2c54-4",
			BootstrapServers: []string{"b-1.example:9098"},
			Partitions: []kafkalambda.Partition{{
				Key: "AWSKafkaTopic-0", Topic: "AWSKafkaTopic",
				Records: []kafkalambda.RawRecord{{
					Topic: "AWSKafkaTopic", Timestamp: ms(1595035749700), TimestampType: "CREATE_TIME",
					Key:   []byte("8d5596b4-1813-4238-b24b-6dad8e3d1c0c"),
					Value: []byte("8d5596b4-1813-4238-b24b-6dad8e3d1c0c"),
					Headers: []kafkalambda.Header{
						{Key: "headerKey", Value: []byte{118, 220, 0, 127, 128}},
						{Key: "trace-id", Value: []byte("abc")},
						{Key: "trace-id", Value: []byte("d")},
						{Key: "empty", Value: []byte{}},
						{Key: "nothing", Value: nil},
						{Key: "café", Value: []byte("é")},
					},
				}},
			}},
		}},
		{"schema-metadata.json", &kafkalambda.Event{
			Source:           kafkalambda.SourceMSK,
			SourceARN:        "arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc-1",
			BootstrapServers: []string{"b-1.demo:9098", "b-2.demo:9098"},
			Partitions: []kafkalambda.Partition{{
				Key: "orders-0", Topic: "orders",
				Records: []kafkalambda.RawRecord{
					{Topic: "orders", Offset: 42, Timestamp: ms(1745846213000), TimestampType: "CREATE_TIME",
						Key:         []byte("\x00\x00\x00\x00\x01\n\border-1"),
						Value:       []byte("\x00\x00\x00\x00\x02\x00\n\border-1\x10\x03"),
						KeySchema:   &serde.SchemaMeta{DataFormat: "AVRO", SchemaID: "1"},
						ValueSchema: &serde.SchemaMeta{DataFormat: "PROTOBUF", SchemaID: "2"}},
					{Topic: "orders", Offset: 43, Timestamp: ms(1745846213001), TimestampType: "CREATE_TIME",
						Key:         []byte("\n\border-2"),
						Value:       []byte(`{"id":"order-2"}`),
						ValueSchema: &serde.SchemaMeta{DataFormat: "JSON", SchemaID: "3"}},
				},
			}},
		}},
		{"multi-partition.json", &kafkalambda.Event{
			Source:           kafkalambda.SourceMSK,
			SourceARN:        "arn:aws:kafka:eu-west-1:123456789012:cluster/c/uuid-1",
			BootstrapServers: []string{"b-1:9092", "b-2:9092"},
			Partitions: []kafkalambda.Partition{
				{Key: "a-2-topic-1", Topic: "a-2-topic", Partition: 1, Records: []kafkalambda.RawRecord{
					{Topic: "a-2-topic", Partition: 1, Offset: 0, Timestamp: ms(1700000000000), TimestampType: "CREATE_TIME", Value: []byte("f")}}},
				{Key: "a-2-topic-2", Topic: "a-2-topic", Partition: 2, Records: []kafkalambda.RawRecord{
					{Topic: "a-2-topic", Partition: 2, Offset: 3, Timestamp: ms(1700000000003), TimestampType: "CREATE_TIME", Value: []byte("b")}}},
				{Key: "trade-settlements-2", Topic: "trade-settlements", Partition: 2, Records: []kafkalambda.RawRecord{
					{Topic: "trade-settlements", Partition: 2, Offset: 7, Timestamp: ms(1700000000007), TimestampType: "CREATE_TIME", Value: []byte("d")},
					{Topic: "trade-settlements", Partition: 2, Offset: 8, Timestamp: ms(1700000000008), TimestampType: "CREATE_TIME", Value: []byte("e")},
					{Topic: "trade-settlements", Partition: 2, Offset: 9, Timestamp: ms(1700000000009), TimestampType: "CREATE_TIME", Value: []byte("c")}}},
				{Key: "trade-settlements-10", Topic: "trade-settlements", Partition: 10, Records: []kafkalambda.RawRecord{
					{Topic: "trade-settlements", Partition: 10, Offset: 5, Timestamp: ms(1700000000005), TimestampType: "CREATE_TIME", Value: []byte("a")}}},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := kafkalambda.ParseEvent(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseEvent(%s):\n got %+v\nwant %+v", tt.file, got, tt.want)
			}
			// What AppendJSON writes, ParseEvent reads back the same.
			again, err := kafkalambda.ParseEvent(got.AppendJSON(nil))
			if err != nil {
				t.Fatalf("ParseEvent(AppendJSON): %v", err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("round trip:\n got %+v\nwant %+v", again, got)
			}
		})
	}
}

func TestParseEventNullIsNotEmpty(t *testing.T) {
	t.Parallel()
	ev, err := kafkalambda.ParseEvent(fixture(t, "tombstones.json"))
	if err != nil {
		t.Fatal(err)
	}
	recs := ev.Partitions[0].Records
	for i, want := range []struct{ keyNil, valueNil bool }{
		{false, true}, {false, true}, {false, false}, {true, false}, {true, false}, {false, false},
	} {
		if (recs[i].Key == nil) != want.keyNil || (recs[i].Value == nil) != want.valueNil {
			t.Errorf("record %d: key nil %v value nil %v, want %v %v", i,
				recs[i].Key == nil, recs[i].Value == nil, want.keyNil, want.valueNil)
		}
		if recs[i].IsTombstone() != want.valueNil {
			t.Errorf("record %d: IsTombstone %v", i, recs[i].IsTombstone())
		}
	}
}

func TestParseEventSlicesAreCapped(t *testing.T) {
	t.Parallel()
	ev, err := kafkalambda.ParseEvent(fixture(t, "self-managed.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Partitions[0].Records
	_ = append(r[0].Value, "overwrite"...)
	if string(r[1].Key) != "User_2" {
		t.Fatalf("append to one record's value changed the next record's key: %q", r[1].Key)
	}
}

// Fields the SDK does not know (a newer ESM may add some) are validated as
// JSON and skipped, whatever their value.
func TestParseEventSkipsUnknownFields(t *testing.T) {
	t.Parallel()
	for _, v := range []string{`0`, `-0.5e+10`, `12E3`, `1.25`, `"s\u00e9"`, `[1,{"a":[true,false,null]}]`, `{}`} {
		payload := `{"eventSource":"aws:kafka","future":` + v + `,"records":{"t-0":[` +
			`{"topic":"t","partition":0,"offset":1,"extra":` + v + `,"value":"YQ=="}]}}`
		ev, err := kafkalambda.ParseEvent([]byte(payload))
		if err != nil {
			t.Errorf("unknown fields holding %s: %v", v, err)
			continue
		}
		if r := ev.Partitions[0].Records[0]; r.Offset != 1 || string(r.Value) != "a" {
			t.Errorf("unknown fields holding %s: record %+v", v, r)
		}
	}
}

func TestParseEventMalformed(t *testing.T) {
	t.Parallel()
	const rec = `{"topic":"t","partition":0,"offset":1,"timestamp":1,"timestampType":"CREATE_TIME",%s"headers":[]}`
	ev := func(record string) string {
		return `{"eventSource":"aws:kafka","bootstrapServers":"b:9092","records":{"t-0":[` + record + `]}}`
	}
	withField := func(f string) string { return ev(strings.Replace(rec, "%s", f, 1)) }
	tests := []struct {
		name, payload, path, msg string
	}{
		{"empty", ``, "", "not a JSON object"},
		{"not json", `hello`, "", "not a JSON object"},
		{"array", `[]`, "", "not a JSON object"},
		{"truncated", withField("")[:len(withField(""))-2], "records", "unexpected end of input"},
		{"truncated in a string", withField("")[:60], "", "unterminated string"},
		{"trailing data", withField("") + `x`, "", "data after the event"},
		{"bad base64 value", withField(`"value":"!!!!",`), `records["t-0"][0].value`, "bad base64"},
		{"base64 without padding", withField(`"value":"YQ",`), `records["t-0"][0].value`, "bad base64"},
		{"raw newline in value", withField("\"value\":\"YQ==\nYQ==\","), `records["t-0"][0].value`, "control character"},
		{"key is a number", withField(`"key":5,`), `records["t-0"][0].key`, "want a base64 string"},
		{"header byte too large", ev(`{"topic":"t","partition":0,"offset":1,"headers":[{"h":[1,128]}]}`), `records["t-0"][0].headers[0]`, "out of range"},
		{"header byte too small", ev(`{"topic":"t","partition":0,"offset":1,"headers":[{"h":[-129]}]}`), `records["t-0"][0].headers[0]`, "out of range"},
		{"header byte float", ev(`{"topic":"t","partition":0,"offset":1,"headers":[{"h":[1.5]}]}`), `records["t-0"][0].headers[0]`, "not an integer"},
		{"header is a string", ev(`{"topic":"t","partition":0,"offset":1,"headers":[{"h":"abc"}]}`), `records["t-0"][0].headers[0]`, "want an array of signed bytes"},
		{"header object with two keys", ev(`{"topic":"t","partition":0,"offset":1,"headers":[{"a":[1],"b":[2]}]}`), `records["t-0"][0].headers[0]`, "more than one key"},
		{"offset is a string", ev(`{"topic":"t","partition":0,"offset":"1"}`), `records["t-0"][0].offset`, "want an integer"},
		{"offset overflows", ev(`{"topic":"t","partition":0,"offset":9223372036854775808}`), `records["t-0"][0].offset`, "out of range"},
		{"negative partition", ev(`{"topic":"t","partition":-1,"offset":1}`), `records["t-0"][0].partition`, "out of range"},
		{"no offset", ev(`{"topic":"t","partition":0}`), `records["t-0"][0]`, "record has no offset"},
		{"null topic", ev(`{"topic":null,"partition":0,"offset":1}`), `records["t-0"][0].topic`, "topic is null"},
		{"duplicate field", ev(`{"topic":"t","partition":0,"offset":1,"offset":2}`), `records["t-0"][0].offset`, "duplicate field"},
		{"case-mismatched field", ev(`{"topic":"t","partition":0,"offset":1,"Value":"YQ=="}`), `records["t-0"][0]`, "does not match"},
		{"records disagree", ev(`{"topic":"t","partition":0,"offset":1},{"topic":"u","partition":0,"offset":2}`), `records["t-0"][1]`, "under records key"},
		{"records not an object", `{"eventSource":"aws:kafka","records":[]}`, "records", "want an object"},
		{"not a kafka event", `{"eventSource":"aws:sqs","records":{}}`, "", "not a Kafka event source"},
		{"no event source", `{"records":{}}`, "", "no eventSource"},
		{"bad escape", ev(`{"topic":"t\q","partition":0,"offset":1}`), `records["t-0"][0].topic`, "bad escape"},
		{"unterminated string", `{"eventSource":"aws:kafka`, "eventSource", "unterminated string"},
		{"missing comma", ev(`{"topic":"t" "partition":0,"offset":1}`), `records["t-0"][0]`, "want ',' or '}'"},
		{"trailing comma", ev(`{"topic":"t","partition":0,"offset":1,}`), `records["t-0"][0]`, "want a string"},
		{"unknown field, number without digits", withField(`"extra":-,`), `records["t-0"][0]`, "want a digit"},
		{"unknown field, fraction without digits", withField(`"extra":1.,`), `records["t-0"][0]`, "want a digit"},
		{"unknown field, exponent without digits", withField(`"extra":1e+,`), `records["t-0"][0]`, "want a digit"},
		{"unknown field, leading zero", withField(`"extra":01,`), `records["t-0"][0]`, "want ',' or '}'"},
		{"bad schema metadata", withField(`"valueSchemaMetadata":{"schemaId":7},`), `records["t-0"][0].valueSchemaMetadata.schemaId`, "want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := kafkalambda.ParseEvent([]byte(tt.payload))
			if err == nil {
				t.Fatalf("ParseEvent(%s) = %+v, want an error", tt.payload, ev)
			}
			if !errors.Is(err, kafkalambda.ErrMalformedEvent) {
				t.Errorf("error %v is not ErrMalformedEvent", err)
			}
			var pe *kafkalambda.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Path != tt.path {
				t.Errorf("path %q, want %q (%v)", pe.Path, tt.path, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if pe.Offset < 0 || pe.Offset > len(tt.payload) {
				t.Errorf("offset %d outside the payload", pe.Offset)
			}
		})
	}
}

func TestParseEventEscapes(t *testing.T) {
	t.Parallel()
	payload := `{"eventSource":"aws:kafka","records":{"t\u002d0":[{"topic":"\u0074","partition":0,"offset":1,` +
		`"key":"YW\/j","value":"\u0059\u0051\u003d\u003d","headers":[{"\ud83d\ude00 \ud800":[1]}]}]}}`
	ev, err := kafkalambda.ParseEvent([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Partitions[0].Records[0]
	if ev.Partitions[0].Key != "t-0" || r.Topic != "t" || string(r.Key) != "ao\xe3" || string(r.Value) != "a" {
		t.Fatalf("got key %q topic %q record key %q value %q", ev.Partitions[0].Key, r.Topic, r.Key, r.Value)
	}
	if r.Headers[0].Key != "😀 \uFFFD" {
		t.Fatalf("header key %q", r.Headers[0].Key)
	}
}

// Anything but white space after the event object is an error at its byte
// offset, a NUL byte included (the lexer's peek answers 0 both for a NUL
// and at the end of input), and so is a NUL anywhere else outside a
// string, as encoding/json has it.
func TestParseEventNULAndTrailingBytes(t *testing.T) {
	t.Parallel()
	const obj = `{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":1,"headers":[{"h":[1,2]}]}]}}`
	tests := []struct {
		name    string
		payload string
		off     int // the offset of the error; -1: the payload's first NUL
		path    string
	}{
		{"NUL after the object", obj + "\x00", -1, ""},
		{"NUL and data after the object", obj + "\x00{\"more\":1}", -1, ""},
		{"white space, then NUL", obj + " \n\t\r\x00", -1, ""},
		{"NUL, then white space", obj + "\x00 ", -1, ""},
		{"a second object", obj + ` {}`, len(obj) + 1, ""},
		{"a letter", obj + `x`, len(obj), ""},
		{"NUL before the object", "\x00" + obj, -1, ""},
		{"NUL between members", strings.Replace(obj, `,"records"`, ",\x00\"records\"", 1), -1, ""},
		{"NUL before a colon", strings.Replace(obj, `"eventSource":`, "\"eventSource\"\x00:", 1), -1, ""},
		{"NUL for a value", strings.Replace(obj, `"offset":1`, "\"offset\":\x001", 1), -1, `records["t-0"][0].offset`},
		{"NUL after a number", strings.Replace(obj, `"offset":1`, "\"offset\":1\x00", 1), -1, `records["t-0"][0]`},
		{"NUL in a header byte array", strings.Replace(obj, `[1,2]`, "[1,\x002]", 1), -1, `records["t-0"][0].headers[0]`},
		{"NUL after a header byte", strings.Replace(obj, `[1,2]`, "[1\x00,2]", 1), -1, `records["t-0"][0].headers[0]`},
		{"NUL in place of a closing brace", obj[:len(obj)-1] + "\x00", -1, ""},
		{"NUL in a string", strings.Replace(obj, `"aws:kafka"`, "\"aws:\x00kafka\"", 1), -1, "eventSource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			payload := []byte(tt.payload)
			if json.Valid(payload) {
				t.Fatalf("encoding/json accepts %q: not a test of strictness", tt.payload)
			}
			want := tt.off
			if want < 0 {
				want = strings.IndexByte(tt.payload, 0)
			}
			ev, err := kafkalambda.ParseEvent(payload)
			if err == nil {
				t.Fatalf("ParseEvent(%q) = %+v, want an error", tt.payload, ev)
			}
			var pe *kafkalambda.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, kafkalambda.ErrMalformedEvent) {
				t.Fatalf("error %T %v is not a *ParseError matching ErrMalformedEvent", err, err)
			}
			if pe.Offset != want {
				t.Errorf("offset %d, want %d (%v)", pe.Offset, want, err)
			}
			if pe.Path != tt.path {
				t.Errorf("path %q, want %q (%v)", pe.Path, tt.path, err)
			}
		})
	}
}

// recJSON is a minimal record object.
func recJSON(topic string, partition int32, offset int64) string {
	return `{"topic":"` + topic + `","partition":` + strconv.Itoa(int(partition)) + `,"offset":` + strconv.FormatInt(offset, 10) + `}`
}

func recordsEvent(records string) string {
	return `{"eventSource":"aws:kafka","records":{` + records + `}}`
}

// A records key is "<topic>-<partition>" of every record under it, checked
// by building that key from the record's own topic and partition (a topic
// may hold '-'); so no two keys name one topic partition. Offsets within a
// partition strictly increase, with gaps allowed (compaction, transaction
// markers).
func TestParseEventRecordsKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records string
		want    []kafkalambda.Partition // topic, partition and offsets only
	}{
		{"topic with dashes", `"a-b-1":[` + recJSON("a-b", 1, 4) + `]`,
			[]kafkalambda.Partition{{Key: "a-b-1", Topic: "a-b", Partition: 1, Records: []kafkalambda.RawRecord{{Offset: 4}}}}},
		{"topic ending in a dash and digits", `"x-1-10":[` + recJSON("x-1", 10, 4) + `],"x-11-0":[` + recJSON("x-11", 0, 1) + `]`,
			[]kafkalambda.Partition{
				{Key: "x-1-10", Topic: "x-1", Partition: 10, Records: []kafkalambda.RawRecord{{Offset: 4}}},
				{Key: "x-11-0", Topic: "x-11", Partition: 0, Records: []kafkalambda.RawRecord{{Offset: 1}}}}},
		{"offsets with gaps", `"t-2":[` + recJSON("t", 2, 1) + `,` + recJSON("t", 2, 5) + `,` + recJSON("t", 2, 900) + `]`,
			[]kafkalambda.Partition{{Key: "t-2", Topic: "t", Partition: 2, Records: []kafkalambda.RawRecord{{Offset: 1}, {Offset: 5}, {Offset: 900}}}}},
		{"negative offsets in order", `"t-0":[` + recJSON("t", 0, -5) + `,` + recJSON("t", 0, 0) + `]`,
			[]kafkalambda.Partition{{Key: "t-0", Topic: "t", Records: []kafkalambda.RawRecord{{Offset: -5}, {Offset: 0}}}}},
		{"null and empty record lists", `"t-3":null,"t-1":[]`,
			[]kafkalambda.Partition{{Key: "t-1", Topic: "t", Partition: 1}, {Key: "t-3", Topic: "t", Partition: 3}}},
		{"largest partition", `"t-2147483647":[]`,
			[]kafkalambda.Partition{{Key: "t-2147483647", Topic: "t", Partition: 2147483647}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := kafkalambda.ParseEvent([]byte(recordsEvent(tt.records)))
			if err != nil {
				t.Fatal(err)
			}
			var got []kafkalambda.Partition
			for _, pt := range ev.Partitions {
				g := kafkalambda.Partition{Key: pt.Key, Topic: pt.Topic, Partition: pt.Partition}
				for _, r := range pt.Records {
					if r.Topic != pt.Topic || r.Partition != pt.Partition {
						t.Errorf("record %s-%d@%d under %q", r.Topic, r.Partition, r.Offset, pt.Key)
					}
					g.Records = append(g.Records, kafkalambda.RawRecord{Offset: r.Offset})
				}
				got = append(got, g)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseEventRecordsKeyMismatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records string
		at      string // the error is at the first '|' of at, found in the records with the '|' removed
		path    string
		msg     []string
	}{
		{"partition differs from the key", `"t-7":[` + recJSON("t", 0, 12) + `]`, `|` + recJSON("t", 0, 12),
			`records["t-7"][0]`, []string{`records key "t-7"`, "offset 12", `"t-0"`}},
		{"topic differs from the key", `"orders-0":[` + recJSON("payments", 0, 5) + `]`, `|` + recJSON("payments", 0, 5),
			`records["orders-0"][0]`, []string{`records key "orders-0"`, "offset 5", `"payments-0"`}},
		{"a later record differs", `"t-0":[` + recJSON("t", 0, 1) + `,` + recJSON("t", 1, 2) + `]`, `|` + recJSON("t", 1, 2),
			`records["t-0"][1]`, []string{`records key "t-0"`, "offset 2", `"t-1"`}},
		{"the key split at its first dash", `"a-1-2":[` + recJSON("a", 12, 3) + `]`, `|` + recJSON("a", 12, 3),
			`records["a-1-2"][0]`, []string{`records key "a-1-2"`, `"a-12"`}},
		{"the key split elsewhere", `"a-b-1":[` + recJSON("a", 1, 3) + `]`, `|` + recJSON("a", 1, 3),
			`records["a-b-1"][0]`, []string{`records key "a-b-1"`, `"a-1"`}},
		{"a key with a leading zero", `"t-01":[` + recJSON("t", 1, 1) + `]`, `"t-01":|[`,
			`records["t-01"]`, []string{`records key "t-01"`, "<topic>-<partition>"}},
		{"an empty list under a key with a leading zero", `"t-1":[],"t-01":[]`, `"t-01":|[`,
			`records["t-01"]`, []string{`records key "t-01"`}},
		{"a key without a partition", `"t":[]`, `"t":|[`, `records["t"]`, []string{`records key "t"`}},
		{"an empty key", `"":null`, `"":|null`, `records[""]`, []string{`records key ""`}},
		{"a key with a plus sign", `"t-+1":[]`, `"t-+1":|[`, `records["t-+1"]`, []string{`records key "t-+1"`}},
		{"a partition beyond int32", `"t-2147483648":[]`, `"t-2147483648":|[`, `records["t-2147483648"]`, []string{`records key "t-2147483648"`}},
		{"one topic partition under two spellings of its key", `"t-0":[` + recJSON("t", 0, 1) + `],"t\u002d0":[` + recJSON("t", 0, 2) + `]`, `"t\u002d0":|[`,
			`records["t-0"]`, []string{`records key "t-0"`, "twice"}},
		{"a decreasing offset", `"t-0":[` + recJSON("t", 0, 2) + `,` + recJSON("t", 0, 1) + `]`, `|` + recJSON("t", 0, 1),
			`records["t-0"][1]`, []string{"offset 1 after offset 2"}},
		{"a repeated offset", `"t-0":[` + recJSON("t", 0, 1) + `,` + recJSON("t", 0, 1) + `]`, `,|` + recJSON("t", 0, 1),
			`records["t-0"][1]`, []string{"offset 1 after offset 1"}},
		{"a decrease after an increase", `"u-0":[` + recJSON("u", 0, 1) + `,` + recJSON("u", 0, 3) + `,` + recJSON("u", 0, 2) + `]`, `|` + recJSON("u", 0, 2),
			`records["u-0"][2]`, []string{"offset 2 after offset 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			payload := recordsEvent(tt.records)
			marker := strings.Replace(tt.at, "|", "", 1)
			at := strings.Index(payload, marker)
			if at < 0 {
				t.Fatalf("%q not in %s", marker, payload)
			}
			at += strings.Index(tt.at, "|")
			ev, err := kafkalambda.ParseEvent([]byte(payload))
			if err == nil {
				t.Fatalf("ParseEvent(%s) = %+v, want an error", payload, ev)
			}
			var pe *kafkalambda.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, kafkalambda.ErrMalformedEvent) {
				t.Fatalf("error %T %v is not a *ParseError matching ErrMalformedEvent", err, err)
			}
			if pe.Path != tt.path {
				t.Errorf("path %q, want %q (%v)", pe.Path, tt.path, err)
			}
			if pe.Offset != at {
				t.Errorf("offset %d, want %d (%v)", pe.Offset, at, err)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not say %q", err, m)
				}
			}
		})
	}
}
