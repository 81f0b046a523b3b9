package kafkalambda

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// MarshalJSON encodes the event as a Kafka event source mapping sends it.
// See AppendJSON.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, e.sizeHint())), nil
}

// AppendJSON appends the event, as a Kafka event source mapping sends it, to
// dst: eventSource, eventSourceArn (left out when empty), the joined
// bootstrapServers, and the records map keyed by each partition's Key (or
// "<topic>-<partition>" when Key is empty) in the order of e.Partitions.
// Keys and values are base64; a nil key or value is left out, which
// ParseEvent reads back as nil; headers are arrays of signed bytes; the
// timestamp is left out when it is the zero Time. For an Event that
// ParseEvent returned, ParseEvent(AppendJSON(e)) gives back e.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"eventSource":`...)
	dst = appendString(dst, e.Source)
	if e.SourceARN != "" {
		dst = append(dst, `,"eventSourceArn":`...)
		dst = appendString(dst, e.SourceARN)
	}
	dst = append(dst, `,"bootstrapServers":"`...)
	for i, s := range e.BootstrapServers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendStringBody(dst, s)
	}
	dst = append(dst, `","records":{`...)
	for i := range e.Partitions {
		pt := &e.Partitions[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		if pt.Key != "" {
			dst = appendString(dst, pt.Key)
		} else {
			dst = append(dst, '"')
			dst = appendStringBody(dst, pt.Topic)
			dst = append(dst, '-')
			dst = strconv.AppendInt(dst, int64(pt.Partition), 10)
			dst = append(dst, '"')
		}
		dst = append(dst, ":["...)
		for j := range pt.Records {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = pt.Records[j].appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}"...)
}

func (r *RawRecord) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendString(dst, r.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	if !r.Timestamp.IsZero() {
		dst = append(dst, `,"timestamp":`...)
		dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
	}
	if r.TimestampType != "" {
		dst = append(dst, `,"timestampType":`...)
		dst = appendString(dst, r.TimestampType)
	}
	if r.Key != nil {
		dst = append(dst, `,"key":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Key)
		dst = append(dst, '"')
	}
	if r.Value != nil {
		dst = append(dst, `,"value":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Value)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = appendString(dst, h.Key)
		if h.Value == nil {
			dst = append(dst, ":null}"...)
			continue
		}
		dst = append(dst, ":["...)
		for j, b := range h.Value {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(int8(b)), 10)
		}
		dst = append(dst, "]}"...)
	}
	dst = append(dst, ']')
	dst = appendMeta(dst, `,"keySchemaMetadata":`, r.KeySchema)
	dst = appendMeta(dst, `,"valueSchemaMetadata":`, r.ValueSchema)
	return append(dst, '}')
}

func appendMeta(dst []byte, name string, m *serde.SchemaMeta) []byte {
	if m == nil {
		return dst
	}
	dst = append(dst, name...)
	dst = append(dst, `{"dataFormat":`...)
	dst = appendString(dst, m.DataFormat)
	dst = append(dst, `,"schemaId":`...)
	dst = appendString(dst, m.SchemaID)
	return append(dst, '}')
}

// sizeHint estimates the encoded size of the event.
func (e *Event) sizeHint() int {
	n := 128
	for i := range e.Partitions {
		for j := range e.Partitions[i].Records {
			r := &e.Partitions[i].Records[j]
			n += 160 + len(r.Topic) + (len(r.Key)+len(r.Value))*4/3
			for _, h := range r.Headers {
				n += 8 + len(h.Key) + 5*len(h.Value)
			}
		}
	}
	return n
}

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

// appendStringBody appends s escaped for a JSON string, as encoding/json
// does minus its HTML escaping: invalid UTF-8 becomes \ufffd.
func appendStringBody(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
