package kafkalambda

import (
	"cmp"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

//go:embed testdata/*.json
var fuzzFixtures embed.FS

// The reference decoding: encoding/json into the plainest struct that can
// tell null from absent, then the same event semantics as ParseEvent.
type refEvent struct {
	EventSource      string                 `json:"eventSource"`
	EventSourceArn   string                 `json:"eventSourceArn"`
	BootstrapServers string                 `json:"bootstrapServers"`
	Records          map[string][]refRecord `json:"records"`
}

type refRecord struct {
	Topic               string               `json:"topic"`
	Partition           int64                `json:"partition"`
	Offset              int64                `json:"offset"`
	Timestamp           *int64               `json:"timestamp"`
	TimestampType       string               `json:"timestampType"`
	Key                 *string              `json:"key"`
	Value               *string              `json:"value"`
	Headers             []map[string]*[]int8 `json:"headers"`
	KeySchemaMetadata   *refMeta             `json:"keySchemaMetadata"`
	ValueSchemaMetadata *refMeta             `json:"valueSchemaMetadata"`
}

type refMeta struct {
	DataFormat string `json:"dataFormat"`
	SchemaID   string `json:"schemaId"`
}

// errRefStrict marks a payload that the reference accepts but whose shape
// ParseEvent rejects on purpose.
var errRefStrict = errors.New("strict")

func refParse(payload []byte) (*Event, error) {
	var re refEvent
	if err := json.Unmarshal(payload, &re); err != nil {
		return nil, err
	}
	if ambiguousNames(payload) {
		// encoding/json folds case and lets the last duplicate win, so
		// a value ParseEvent rejects may be overwritten before it counts.
		return nil, errRefStrict
	}
	ev := &Event{Source: re.EventSource, SourceARN: re.EventSourceArn}
	switch re.EventSource {
	case SourceMSK, SourceSelfManaged, SourceSelfManagedAlt:
	case "":
		// A non-nil event with errRefStrict: ParseEvent must reject it.
		return &Event{}, errRefStrict
	default:
		return nil, fmt.Errorf("source %q", re.EventSource)
	}
	if re.BootstrapServers != "" {
		for _, s := range strings.Split(re.BootstrapServers, ",") {
			ev.BootstrapServers = append(ev.BootstrapServers, strings.TrimSpace(s))
		}
	}
	var strict bool
	for key, recs := range re.Records {
		// The key must be the one an event source mapping writes for its
		// records: topic + "-" + partition, built here with strconv, not
		// with ParseEvent's helpers.
		pt := Partition{Key: key}
		if i := strings.LastIndexByte(key, '-'); i >= 0 {
			if n, err := strconv.ParseInt(key[i+1:], 10, 32); err == nil && key == key[:i]+"-"+strconv.FormatInt(n, 10) {
				pt.Topic, pt.Partition = key[:i], int32(n)
			} else {
				strict = true
			}
		} else {
			strict = true
		}
		for i, rr := range recs {
			if rr.Partition < 0 || rr.Partition > math.MaxInt32 {
				return nil, errors.New("partition out of range")
			}
			if rr.Topic+"-"+strconv.FormatInt(rr.Partition, 10) != key {
				strict = true // a record under another partition's key
			}
			if i > 0 && rr.Offset <= recs[i-1].Offset {
				strict = true // offsets that do not increase
			}
			r := RawRecord{Topic: rr.Topic, Partition: int32(rr.Partition), Offset: rr.Offset, TimestampType: rr.TimestampType}
			if rr.Timestamp != nil {
				r.Timestamp = time.UnixMilli(*rr.Timestamp)
			}
			var err error
			if rr.Key != nil {
				if r.Key, err = base64.StdEncoding.DecodeString(*rr.Key); err != nil {
					return nil, err
				}
			}
			if rr.Value != nil {
				if r.Value, err = base64.StdEncoding.DecodeString(*rr.Value); err != nil {
					return nil, err
				}
			}
			for _, h := range rr.Headers {
				if len(h) != 1 {
					strict = true
				}
				for k, v := range h {
					hd := Header{Key: k}
					if v != nil {
						hd.Value = make([]byte, len(*v))
						for j, b := range *v {
							hd.Value[j] = byte(b)
						}
					}
					r.Headers = append(r.Headers, hd)
				}
			}
			if m := rr.KeySchemaMetadata; m != nil {
				r.KeySchema = &serde.SchemaMeta{DataFormat: m.DataFormat, SchemaID: m.SchemaID}
			}
			if m := rr.ValueSchemaMetadata; m != nil {
				r.ValueSchema = &serde.SchemaMeta{DataFormat: m.DataFormat, SchemaID: m.SchemaID}
			}
			pt.Records = append(pt.Records, r)
		}
		ev.Partitions = append(ev.Partitions, pt)
	}
	slices.SortFunc(ev.Partitions, func(a, b Partition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
			strings.Compare(a.Key, b.Key))
	})
	if strict {
		return ev, errRefStrict
	}
	return ev, nil
}

// ambiguousNames reports whether some object of the payload has a member
// name that matches a field name case-insensitively only, or a field name
// twice.
func ambiguousNames(payload []byte) bool {
	known := append(append(slices.Clone(eventFields), recordFields...), metaFields...)
	type frame struct {
		object, wantKey bool
		seen            map[string]bool
	}
	var stack []*frame
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].wantKey = true
				}
				continue
			}
			name := tok.(string)
			for _, k := range known {
				if strings.EqualFold(name, k) && (name != k || top.seen[k]) {
					return true
				}
			}
			top.seen[name] = true
			top.wantKey = false
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &frame{object: true, wantKey: true, seen: map[string]bool{}})
			continue
		case '[':
			stack = append(stack, &frame{})
			continue
		case '}', ']':
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// FuzzParseEvent checks ParseEvent against encoding/json: it never panics;
// what encoding/json rejects, it rejects; what both accept decodes the
// same; what only encoding/json accepts is a shape ParseEvent rejects on
// purpose (a strictError), never a bug. And what ParseEvent accepts,
// AppendJSON writes back so that ParseEvent reads the same event.
func FuzzParseEvent(f *testing.F) {
	entries, err := fuzzFixtures.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := fuzzFixtures.ReadFile("testdata/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := ParseEvent(payload)
		want, refErr := refParse(payload)
		switch {
		case refErr != nil && !errors.Is(refErr, errRefStrict):
			if err == nil {
				t.Fatalf("ParseEvent accepted what encoding/json rejects (%v):\n%+v", refErr, got)
			}
		case err != nil:
			if !isStrict(err) && !errors.Is(refErr, errRefStrict) {
				t.Fatalf("ParseEvent rejected what encoding/json accepts: %v\nreference: %+v", err, want)
			}
		case errors.Is(refErr, errRefStrict):
			if want != nil {
				t.Fatalf("ParseEvent accepted a shape it should reject: %+v", got)
			}
		default:
			if !reflect.DeepEqual(normalize(got), normalize(want)) {
				t.Fatalf("decodings differ:\n ParseEvent %+v\nencoding/json %+v", got, want)
			}
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			return
		}
		again, err := ParseEvent(got.AppendJSON(nil))
		if err != nil {
			t.Fatalf("ParseEvent(AppendJSON) failed: %v\n%s", err, got.AppendJSON(nil))
		}
		if !reflect.DeepEqual(normalize(again), normalize(got)) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", again, got)
		}
	})
}

// normalize makes empty header lists nil: "headers":[] and no headers mean
// the same.
func normalize(ev *Event) *Event {
	for i := range ev.Partitions {
		for j := range ev.Partitions[i].Records {
			if r := &ev.Partitions[i].Records[j]; len(r.Headers) == 0 {
				r.Headers = nil
			}
		}
	}
	return ev
}
