package librdkafka

/*
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

// librdkafka's public C API, declared as rdkafka.h declares it (librdkafka
// 2.11.1, the one confluent-kafka-go links into the binary; these functions
// and rd_kafka_message_t are part of its stable ABI). Only what rdClient
// uses; the types it only passes around are incomplete.
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_topic_conf_s rd_kafka_topic_conf_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_op_s rd_kafka_event_t;
typedef struct rd_kafka_headers_s rd_kafka_headers_t;
typedef struct {
	int err;
	rd_kafka_topic_t *rkt;
	int32_t partition;
	void *payload;
	size_t len;
	void *key;
	size_t key_len;
	int64_t offset;
	void *_private;
} kl_message_t;

extern rd_kafka_conf_t *rd_kafka_conf_new(void);
extern int rd_kafka_conf_set(rd_kafka_conf_t *, const char *, const char *, char *, size_t);
extern void rd_kafka_conf_destroy(rd_kafka_conf_t *);
extern void rd_kafka_conf_set_events(rd_kafka_conf_t *, int);
extern void rd_kafka_conf_set_default_topic_conf(rd_kafka_conf_t *, rd_kafka_topic_conf_t *);
extern rd_kafka_topic_conf_t *rd_kafka_conf_get_default_topic_conf(rd_kafka_conf_t *);
extern rd_kafka_topic_conf_t *rd_kafka_topic_conf_new(void);
extern int rd_kafka_topic_conf_set(rd_kafka_topic_conf_t *, const char *, const char *, char *, size_t);
extern void rd_kafka_topic_conf_destroy(rd_kafka_topic_conf_t *);
extern rd_kafka_t *rd_kafka_new(int, rd_kafka_conf_t *, char *, size_t);
extern void rd_kafka_destroy(rd_kafka_t *);
extern const char *rd_kafka_name(const rd_kafka_t *);
extern rd_kafka_queue_t *rd_kafka_queue_get_main(rd_kafka_t *);
extern void rd_kafka_queue_destroy(rd_kafka_queue_t *);
extern rd_kafka_event_t *rd_kafka_queue_poll(rd_kafka_queue_t *, int);
extern void rd_kafka_queue_yield(rd_kafka_queue_t *);
extern int rd_kafka_set_log_queue(rd_kafka_t *, rd_kafka_queue_t *);
extern int rd_kafka_event_type(const rd_kafka_event_t *);
extern const kl_message_t *rd_kafka_event_message_next(rd_kafka_event_t *);
extern void rd_kafka_event_destroy(rd_kafka_event_t *);
extern int rd_kafka_event_error(rd_kafka_event_t *);
extern const char *rd_kafka_event_error_string(rd_kafka_event_t *);
extern int rd_kafka_event_error_is_fatal(rd_kafka_event_t *);
extern int rd_kafka_event_log(rd_kafka_event_t *, const char **, const char **, int *);
extern int rd_kafka_producev(rd_kafka_t *, ...);
extern rd_kafka_headers_t *rd_kafka_headers_new(size_t);
extern int rd_kafka_header_add(rd_kafka_headers_t *, const char *, ssize_t, const void *, ssize_t);
extern void rd_kafka_headers_destroy(rd_kafka_headers_t *);
extern rd_kafka_topic_t *rd_kafka_topic_new(rd_kafka_t *, const char *, rd_kafka_topic_conf_t *);
extern void rd_kafka_topic_destroy(rd_kafka_topic_t *);
extern int rd_kafka_purge(rd_kafka_t *, int);
extern int rd_kafka_flush(rd_kafka_t *, int);
extern int rd_kafka_fatal_error(rd_kafka_t *, char *, size_t);
extern int rd_kafka_test_fatal_error(rd_kafka_t *, int, const char *);
extern int rd_kafka_oauthbearer_set_token(rd_kafka_t *, const char *, int64_t, const char *, const char **, size_t, char *, size_t);
extern int rd_kafka_oauthbearer_set_token_failure(rd_kafka_t *, const char *);

enum {
	KL_PRODUCER = 0,
	KL_VTYPE_END = 0, KL_VTYPE_RKT = 2, KL_VTYPE_VALUE = 4, KL_VTYPE_KEY = 5,
	KL_VTYPE_OPAQUE = 6, KL_VTYPE_MSGFLAGS = 7, KL_VTYPE_HEADERS = 10,
	KL_MSG_F_COPY = 0x2,
	KL_EVENT_DR = 0x1, KL_EVENT_LOG = 0x4, KL_EVENT_ERROR = 0x8, KL_EVENT_OAUTHBEARER = 0x100,
};

// kl_empty is where an empty, not null, key, value or header value points.
static const char kl_empty[1];

// kl_produce queues one message, copied, with opaque as its
// rd_kafka_message_t._private. A NULL key or value is a null one; hdrs holds
// nh headers, each as a 4-byte name length, the name, a 4-byte value length
// (-1 for a null value) and the value, lengths in host order.
static int kl_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt,
		const void *key, size_t klen, int knull, const void *val, size_t vlen, int vnull,
		const unsigned char *hdrs, int nh, uintptr_t opaque) {
	rd_kafka_headers_t *hs = NULL;
	if (nh > 0) {
		hs = rd_kafka_headers_new((size_t)nh);
		size_t o = 0;
		for (int i = 0; i < nh; i++) {
			int32_t nl, vl;
			__builtin_memcpy(&nl, hdrs + o, 4);
			o += 4;
			const char *name = (const char *)(hdrs + o);
			o += (size_t)nl;
			__builtin_memcpy(&vl, hdrs + o, 4);
			o += 4;
			const void *v = vl < 0 ? NULL : (vl == 0 ? (const void *)kl_empty : (const void *)(hdrs + o));
			if (vl > 0)
				o += (size_t)vl;
			rd_kafka_header_add(hs, name, nl, v, vl < 0 ? 0 : vl);
		}
	}
	const void *k = knull ? NULL : (klen ? key : kl_empty);
	const void *v = vnull ? NULL : (vlen ? val : kl_empty);
	int err = rd_kafka_producev(rk,
		KL_VTYPE_RKT, rkt,
		KL_VTYPE_KEY, k, klen,
		KL_VTYPE_VALUE, v, vlen,
		KL_VTYPE_MSGFLAGS, KL_MSG_F_COPY,
		KL_VTYPE_OPAQUE, (void *)opaque,
		KL_VTYPE_HEADERS, hs,
		KL_VTYPE_END);
	if (err && hs)
		rd_kafka_headers_destroy(hs);
	return err;
}

// kl_report is one delivery report.
typedef struct {
	uintptr_t opaque;
	int64_t offset;
	int32_t partition;
	int32_t err;
} kl_report_t;

// kl_event is what kl_poll read: the event (NULL for none), its type, and
// for a delivery report batch the reports it copied.
typedef struct {
	rd_kafka_event_t *ev;
	int type;
	int n;
} kl_event_t;

// kl_reports copies the next reports of a delivery report batch into out
// (up to max) and returns how many it copied.
static int kl_reports(rd_kafka_event_t *ev, kl_report_t *out, int max) {
	const kl_message_t *m;
	int n = 0;
	while (n < max && (m = rd_kafka_event_message_next(ev)) != NULL) {
		out[n].opaque = (uintptr_t)m->_private;
		out[n].offset = m->offset;
		out[n].partition = m->partition;
		out[n].err = m->err;
		n++;
	}
	return n;
}

// kl_poll waits up to timeout_ms for the next event of q. A delivery report
// batch's first reports are copied into out (up to max; kl_reports copies
// the rest). The caller destroys the event, whatever its type.
static void kl_poll(rd_kafka_queue_t *q, int timeout_ms, kl_report_t *out, int max, kl_event_t *e) {
	e->ev = rd_kafka_queue_poll(q, timeout_ms);
	e->type = e->ev ? rd_kafka_event_type(e->ev) : 0;
	e->n = e->type == KL_EVENT_DR ? kl_reports(e->ev, out, max) : 0;
}

static int kl_set_token(rd_kafka_t *rk, const char *token, int64_t lifetime_ms, char *errstr, size_t size) {
	return rd_kafka_oauthbearer_set_token(rk, token, lifetime_ms, "", NULL, 0, errstr, size);
}

// kl_produce keeps no pointer it is given (librdkafka copies the key, the
// value and every header before it returns) and calls no Go function (the
// client reports through events, never callbacks): its arguments may live
// on the caller's stack.
#cgo noescape kl_produce
#cgo nocallback kl_produce
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// rdClient is one librdkafka producer driven through librdkafka's C API
// directly, not through confluent-kafka-go's Producer (whose librdkafka it
// is). The difference is how a delivery report finds its message's
// Delivery: confluent-kafka-go keeps a message's Opaque in a map under a
// mutex, shared by every send and every report; rdClient gives librdkafka
// the index of the Delivery in its own table (slots) as the message's
// opaque, and a report batch takes its Deliveries back under one lock. It
// also reads a whole batch of reports in one cgo call, and queues a
// message in one. confluent-kafka-go still provides the transactional
// producers (txn.go), which need its transaction API.
//
// Events (delivery reports, errors, log lines, OAUTHBEARER token refresh
// requests) are served by one goroutine, serve, from librdkafka's main
// queue.
type rdClient struct {
	rk   *C.rd_kafka_t
	q    *C.rd_kafka_queue_t
	name string

	slots slots
	// topics maps a topic name to its librdkafka topic handle: copied on
	// write, read without a lock.
	topics  atomic.Pointer[map[string]*C.rd_kafka_topic_t]
	topicMu sync.Mutex

	hdrs    sync.Pool // *[]byte scratch for headers too large for produce's stack buffer
	closing atomic.Bool
	served  chan struct{} // closed when serve returns

	// producing counts the produce calls in progress, plus math.MinInt64
	// once close has begun: close waits for those in progress (librdkafka's
	// destroy under one is a use after free), and later ones fail.
	producing atomic.Int64
	produced  chan struct{} // poked when the last call leaves after close began

	on clientEvents // serve's, for the reports close gives for what was never reported
}

// errstrSize is the size of the buffers librdkafka writes errors into.
const errstrSize = 512

// newRDClient creates a librdkafka producer from cm, with its events on
// the main queue. Values are converted as confluent-kafka-go converts
// them (a string, bool, int, a slice of those, or a fmt.Stringer), and a
// default.topic.config map sets the default topic configuration. Keys
// beginning "go." are confluent-kafka-go's own and are ignored.
func newRDClient(cm kafka.ConfigMap) (*rdClient, error) {
	conf := C.rd_kafka_conf_new()
	errstr := (*C.char)(C.malloc(errstrSize))
	defer C.free(unsafe.Pointer(errstr))
	set := func(set func(k, v *C.char) C.int, k string, v kafka.ConfigValue) error {
		s, err := configString(k, v)
		if err != nil {
			return err
		}
		ck, cv := C.CString(k), C.CString(s)
		defer C.free(unsafe.Pointer(ck))
		defer C.free(unsafe.Pointer(cv))
		if set(ck, cv) != 0 {
			return kafka.NewError(kafka.ErrInvalidArg, C.GoString(errstr), false)
		}
		return nil
	}
	confSet := func(k, v *C.char) C.int { return C.rd_kafka_conf_set(conf, k, v, errstr, errstrSize) }
	if err := configure(cm, confSet, set, func(tc map[string]kafka.ConfigValue) error {
		// Onto the default topic configuration the properties above made
		// (acks, partitioner: topic properties set at the top level), so
		// that these override them rather than wipe them.
		tconf := C.rd_kafka_conf_get_default_topic_conf(conf)
		made := tconf == nil
		if made {
			tconf = C.rd_kafka_topic_conf_new()
		}
		tset := func(k, v *C.char) C.int { return C.rd_kafka_topic_conf_set(tconf, k, v, errstr, errstrSize) }
		if err := configure(tc, tset, set, nil); err != nil {
			if made {
				C.rd_kafka_topic_conf_destroy(tconf)
			}
			return err
		}
		if made {
			C.rd_kafka_conf_set_default_topic_conf(conf, tconf)
		}
		return nil
	}); err != nil {
		C.rd_kafka_conf_destroy(conf)
		return nil, err
	}
	// Log lines as events on the main queue (rd_kafka_set_log_queue below),
	// not written to stderr.
	if err := set(confSet, "log.queue", true); err != nil {
		C.rd_kafka_conf_destroy(conf)
		return nil, err
	}
	C.rd_kafka_conf_set_events(conf, C.KL_EVENT_DR|C.KL_EVENT_ERROR|C.KL_EVENT_LOG|C.KL_EVENT_OAUTHBEARER)
	rk := C.rd_kafka_new(C.KL_PRODUCER, conf, errstr, errstrSize) // owns conf on success only
	if rk == nil {
		C.rd_kafka_conf_destroy(conf) // it holds the credentials
		return nil, kafka.NewError(kafka.ErrInvalidArg, C.GoString(errstr), false)
	}
	c := &rdClient{rk: rk, q: C.rd_kafka_queue_get_main(rk), name: C.GoString(C.rd_kafka_name(rk)),
		served: make(chan struct{}), produced: make(chan struct{}, 1)}
	if code := C.rd_kafka_set_log_queue(rk, nil); code != 0 { // log lines to the main queue
		C.rd_kafka_queue_destroy(c.q)
		C.rd_kafka_destroy(rk)
		return nil, kafka.NewError(kafka.ErrorCode(code), "log queue", false)
	}
	c.topics.Store(&map[string]*C.rd_kafka_topic_t{})
	c.hdrs.New = func() any { return new([]byte) }
	return c, nil
}

// configure sets cm's properties with set (through setter), plugins first
// as confluent-kafka-go does, then the others in name order (the later of
// two aliases wins, as it would in librdkafka's own order of reading them),
// and default.topic.config's last, through topic (nil: not allowed here),
// so that they override topic properties set at the top level.
func configure(cm map[string]kafka.ConfigValue, setter func(k, v *C.char) C.int,
	set func(func(k, v *C.char) C.int, string, kafka.ConfigValue) error,
	topic func(map[string]kafka.ConfigValue) error) error {
	keys := slices.Sorted(maps.Keys(cm))
	if i := slices.Index(keys, "plugin.library.paths"); i > 0 {
		keys = append(append([]string{keys[i]}, keys[:i]...), keys[i+1:]...)
	}
	var defaults map[string]kafka.ConfigValue
	for _, k := range keys {
		if strings.HasPrefix(k, "go.") {
			continue
		}
		v := cm[k]
		if sub, ok := configMap(v); ok {
			if k != "default.topic.config" || topic == nil {
				return kafka.NewError(kafka.ErrInvalidArg, fmt.Sprintf("Invalid type for key %s", k), false)
			}
			defaults = sub
			continue
		}
		if err := set(setter, k, v); err != nil {
			return err
		}
	}
	if defaults != nil {
		return topic(defaults)
	}
	return nil
}

// configMap returns v as a map of properties, when it is one (a
// kafka.ConfigMap, or a map decoded from JSON).
func configMap(v kafka.ConfigValue) (map[string]kafka.ConfigValue, bool) {
	switch m := v.(type) {
	case kafka.ConfigMap:
		return m, true
	case map[string]any:
		sub := make(map[string]kafka.ConfigValue, len(m))
		for k, v := range m {
			sub[k] = v
		}
		return sub, true
	}
	return nil, false
}

// configString is v as librdkafka reads a property's value.
func configString(k string, v kafka.ConfigValue) (string, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case int:
		return fmt.Sprint(x), nil
	case string:
		return x, nil
	case []kafka.ConfigValue:
		var s []byte
		for i, e := range x {
			es, err := configString(k, e)
			if err != nil {
				return "", err
			}
			if i > 0 {
				s = append(s, ',')
			}
			s = append(s, es...)
		}
		return string(s), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return "", kafka.NewError(kafka.ErrInvalidArg,
		fmt.Sprintf("Invalid value type %T for key %s (expected string,bool,int,ConfigMap)", v, k), false)
}

// topic returns the librdkafka topic handle of name, made on first use.
func (c *rdClient) topic(name string) *C.rd_kafka_topic_t {
	if t, ok := (*c.topics.Load())[name]; ok {
		return t
	}
	c.topicMu.Lock()
	defer c.topicMu.Unlock()
	cur := *c.topics.Load()
	if t, ok := cur[name]; ok {
		return t
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	t := C.rd_kafka_topic_new(c.rk, cn, nil)
	if t == nil {
		return nil // an invalid name: produce reports it
	}
	next := maps.Clone(cur)
	next[name] = t
	c.topics.Store(&next)
	return t
}

// produce queues m, copied, for d. The error is librdkafka's, as a
// kafka.Error; d is then not called.
func (c *rdClient) produce(m *kafkalambda.Message, d kafkalambda.Delivery) error {
	if c.producing.Add(1) < 0 {
		c.leave()
		return kafka.NewError(kafka.ErrDestroy, "", false)
	}
	defer c.leave()
	if m.Topic == "" {
		return kafka.NewError(kafka.ErrInvalidArg, "no topic", false)
	}
	for _, h := range m.Headers {
		if len(h.Key) > math.MaxInt32 || len(h.Value) > math.MaxInt32 {
			return kafka.NewError(kafka.ErrMsgSizeTooLarge, "a header over 2 GiB", false)
		}
	}
	t := c.topic(m.Topic)
	if t == nil {
		return kafka.NewError(kafka.ErrInvalidArg, fmt.Sprintf("invalid topic name %q", m.Topic), false)
	}
	// The headers, flattened for kl_produce: in a buffer on the stack
	// unless they do not fit.
	var stack [hdrStack]byte
	var hp *C.uchar
	var scratch *[]byte
	if len(m.Headers) > 0 {
		h := stack[:0]
		if n := headersSize(m.Headers); n > hdrStack {
			scratch = c.hdrs.Get().(*[]byte)
			if cap(*scratch) < n {
				*scratch = make([]byte, 0, n)
			}
			h = (*scratch)[:0]
		}
		h = appendHeaders(h, m.Headers)
		hp = (*C.uchar)(unsafe.Pointer(unsafe.SliceData(h)))
	}
	id := c.slots.put(d)
	err := C.kl_produce(c.rk, t,
		unsafe.Pointer(unsafe.SliceData(m.Key)), C.size_t(len(m.Key)), cbool(m.Key == nil),
		unsafe.Pointer(unsafe.SliceData(m.Value)), C.size_t(len(m.Value)), cbool(m.Value == nil),
		hp, C.int(len(m.Headers)), C.uintptr_t(id))
	if scratch != nil {
		c.hdrs.Put(scratch)
	}
	if err != 0 {
		c.slots.take(id)
		return kafka.NewError(kafka.ErrorCode(err), "", false)
	}
	return nil
}

// hdrStack is the size of produce's stack buffer for a message's headers,
// flattened: a few headers of a few dozen bytes fit.
const hdrStack = 256

// headersSize is the size of hs flattened for kl_produce.
func headersSize(hs []kafkalambda.Header) int {
	n := 0
	for _, h := range hs {
		n += 8 + len(h.Key) + len(h.Value)
	}
	return n
}

// appendHeaders appends hs to b as kl_produce reads them: each a 4-byte
// name length, the name, a 4-byte value length (-1 for a null value) and
// the value, lengths in host order.
func appendHeaders(b []byte, hs []kafkalambda.Header) []byte {
	for _, h := range hs {
		b = binary.NativeEndian.AppendUint32(b, uint32(len(h.Key)))
		b = append(b, h.Key...)
		if h.Value == nil {
			b = binary.NativeEndian.AppendUint32(b, ^uint32(0))
			continue
		}
		b = binary.NativeEndian.AppendUint32(b, uint32(len(h.Value)))
		b = append(b, h.Value...)
	}
	return b
}

// leave ends a produce call, and tells close when it was the last.
func (c *rdClient) leave() {
	if c.producing.Add(-1) == math.MinInt64 {
		select {
		case c.produced <- struct{}{}:
		default:
		}
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// report is one delivery report as serve hands it on.
type report struct {
	d         kafkalambda.Delivery
	err       error // librdkafka's, as a kafka.Error
	offset    int64
	partition int32
}

// clientEvents is what serve calls for the events it reads.
type clientEvents struct {
	reports func([]report) // a batch of delivery reports
	err     func(kafka.Error)
	log     func(level int, facility, message string)
	token   func() // an OAUTHBEARER token is wanted
}

// serve reads c's events until close, in one goroutine; once close has
// begun, it serves what the queue still holds and returns.
func (c *rdClient) serve(on clientEvents) {
	c.on = on
	defer close(c.served)
	const max = 1024
	var buf [max]C.kl_report_t
	ids := make([]uintptr, 0, max)
	ds := make([]kafkalambda.Delivery, max)
	reps := make([]report, 0, max)
	var e C.kl_event_t
	for {
		timeout := C.int(1000)
		if c.closing.Load() {
			timeout = 0
		}
		C.kl_poll(c.q, timeout, &buf[0], max, &e)
		if e.ev == nil {
			if c.closing.Load() {
				return
			}
			continue
		}
		switch e._type {
		case C.KL_EVENT_DR:
			for n := int(e.n); n > 0; n = int(C.kl_reports(e.ev, &buf[0], max)) {
				ids = ids[:0]
				for i := range n {
					ids = append(ids, uintptr(buf[i].opaque))
				}
				c.slots.takeAll(ids, ds[:n])
				reps = reps[:0]
				for i := range n {
					r := report{d: ds[i], offset: int64(buf[i].offset), partition: int32(buf[i].partition)}
					if code := buf[i].err; code != 0 {
						r.err = kafka.NewError(kafka.ErrorCode(code), "", false)
					}
					reps = append(reps, r)
					ds[i] = nil
				}
				on.reports(reps)
				if n < max {
					break
				}
			}
		case C.KL_EVENT_ERROR:
			code := kafka.ErrorCode(C.rd_kafka_event_error(e.ev))
			msg := C.GoString(C.rd_kafka_event_error_string(e.ev))
			fatal := C.rd_kafka_event_error_is_fatal(e.ev) != 0
			if fatal {
				code, msg = c.fatalError()
			}
			on.err(kafka.NewError(code, msg, fatal))
		case C.KL_EVENT_LOG:
			var fac, str *C.char
			var level C.int
			if C.rd_kafka_event_log(e.ev, &fac, &str, &level) == 0 {
				on.log(int(level), C.GoString(fac), C.GoString(str))
			}
		case C.KL_EVENT_OAUTHBEARER:
			on.token()
		}
		C.rd_kafka_event_destroy(e.ev)
	}
}

// fatalError is the fatal error that broke c (ErrNoError when none did).
func (c *rdClient) fatalError() (kafka.ErrorCode, string) {
	errstr := (*C.char)(C.malloc(errstrSize))
	defer C.free(unsafe.Pointer(errstr))
	code := C.rd_kafka_fatal_error(c.rk, errstr, errstrSize)
	return kafka.ErrorCode(code), C.GoString(errstr)
}

// purge purges c with librdkafka's flags (kafka.PurgeQueue and so on).
func (c *rdClient) purge(flags int) {
	C.rd_kafka_purge(c.rk, C.int(flags))
}

// flush waits up to timeout for every message to be reported, and returns
// how many are left.
func (c *rdClient) flush(timeout time.Duration) int {
	C.rd_kafka_flush(c.rk, C.int(timeout.Milliseconds()))
	return c.slots.held()
}

// setToken hands librdkafka an OAUTHBEARER token.
func (c *rdClient) setToken(token string, expires time.Time) error {
	errstr := (*C.char)(C.malloc(errstrSize))
	defer C.free(unsafe.Pointer(errstr))
	ct := C.CString(token)
	defer func() {
		// The token is a credential: not left in freed memory.
		b := unsafe.Slice((*byte)(unsafe.Pointer(ct)), len(token))
		clear(b)
		C.free(unsafe.Pointer(ct))
	}()
	if code := C.kl_set_token(c.rk, ct, C.int64_t(expires.UnixMilli()), errstr, errstrSize); code != 0 {
		return kafka.NewError(kafka.ErrorCode(code), C.GoString(errstr), false)
	}
	return nil
}

// setTokenFailure tells librdkafka no token could be had, and why.
func (c *rdClient) setTokenFailure(why string) {
	cw := C.CString(why)
	defer C.free(unsafe.Pointer(cw))
	C.rd_kafka_oauthbearer_set_token_failure(c.rk, cw)
}

// testFatal raises a fatal error in c, as a broker's answer would (tests).
func (c *rdClient) testFatal(code kafka.ErrorCode, reason string) {
	cr := C.CString(reason)
	defer C.free(unsafe.Pointer(cr))
	C.rd_kafka_test_fatal_error(c.rk, C.int(code), cr)
}

// close stops serve and destroys the producer. What librdkafka still
// holds is dropped: flush (or purge) and wait for the reports first. A
// message whose report never came is reported failed (ErrDestroy: it may
// have been written), so that every Delivery is done exactly once.
func (c *rdClient) close() {
	if c.closing.Swap(true) {
		return
	}
	if c.producing.Add(math.MinInt64) != math.MinInt64 {
		<-c.produced
	}
	C.rd_kafka_queue_yield(c.q)
	<-c.served
	for _, t := range *c.topics.Load() {
		C.rd_kafka_topic_destroy(t)
	}
	C.rd_kafka_queue_destroy(c.q)
	C.rd_kafka_destroy(c.rk)
	if left := c.slots.takeRest(); len(left) > 0 && c.on.reports != nil {
		reps := make([]report, len(left))
		for i, d := range left {
			reps[i] = report{d: d, err: kafka.NewError(kafka.ErrDestroy, "", false), offset: -1, partition: -1}
		}
		c.on.reports(reps)
	}
}
