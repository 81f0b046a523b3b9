package serde_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// seedEnvelope registers Envelope's schema directly in the fake and returns
// full wire bytes that reference it.
func seedEnvelope(t *testing.T, reg *testRegistry) ([]byte, int) {
	t.Helper()
	ctx := testCtx(t)
	// A client of its own, like a producer elsewhere: srclient caches what
	// it registers, and the tests below must reach the registry.
	producer := ourserde.Confluent(reg.newClient())
	c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](producer))
	b := must[[]byte](t)(c.Serialize(ctx, ourserde.Target{Topic: "seed"}, &testpb.Envelope{Id: "seed"}))
	return b, int(b[4])
}

// countRequests counts requests whose path starts with prefix and lets fail
// decide, per request number (1-based), to answer with an error status.
// Each request first waits for gate to be closed (nil: no wait).
func countRequests(reg *testRegistry, prefix string, fail func(n int64) int, gate <-chan struct{}) *atomic.Int64 {
	var n atomic.Int64
	reg.fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			return false
		}
		k := n.Add(1)
		if gate != nil {
			<-gate
		}
		if status := fail(k); status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte("busy"))
			return true
		}
		return false
	})
	return &n
}

func TestRegistryRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	wire, id := seedEnvelope(t, reg)
	n := countRequests(reg, "/schemas/ids/", func(k int64) int {
		if k <= 2 {
			return http.StatusServiceUnavailable
		}
		return 0
	}, nil)
	c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client,
		ourserde.WithRetry(5, time.Millisecond, 5*time.Millisecond)))
	got, err := c.Deserialize(testCtx(t), ourserde.Message{Data: wire})
	if err != nil || got.GetId() != "seed" {
		t.Fatalf("got %v, %v after two 503s", got, err)
	}
	if n.Load() != 3 {
		t.Fatalf("%d requests for schema %d, want 3 (two 503s, one success)", n.Load(), id)
	}
	// Cached: no more requests.
	if _, err := c.Deserialize(testCtx(t), ourserde.Message{Data: wire}); err != nil || n.Load() != 3 {
		t.Fatalf("second read: %v, %d requests", err, n.Load())
	}
}

func TestRegistryFailureIsNotCached(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	wire, _ := seedEnvelope(t, reg)
	var down atomic.Bool
	down.Store(true)
	countRequests(reg, "/schemas/ids/", func(int64) int {
		if down.Load() {
			return http.StatusInternalServerError
		}
		return 0
	}, nil)
	c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client,
		ourserde.WithRetry(2, time.Millisecond, time.Millisecond)))
	_, err := c.Deserialize(testCtx(t), ourserde.Message{Topic: "t", Data: wire})
	if !errors.Is(err, ourserde.ErrRegistry) {
		t.Fatalf("got %v, want ErrRegistry", err)
	}
	down.Store(false)
	if _, err := c.Deserialize(testCtx(t), ourserde.Message{Topic: "t", Data: wire}); err != nil {
		t.Fatalf("the registry is back but the failure stuck: %v", err)
	}
}

// A registry that does not answer: the caller gets ErrRegistry at its
// deadline, to the tick, and the abandoned srclient call ends once the
// registry answers after all (synctest.Test fails on a goroutine left
// blocked).
func TestRegistrySlowWithinDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := newMemRegistry(t)
		wire, _ := seedEnvelope(t, reg)
		hang := make(chan struct{})
		defer close(hang)
		n := countRequests(reg, "/schemas/ids/", func(int64) int { return 0 }, hang)
		c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client))
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Deserialize(ctx, ourserde.Message{Topic: "t", Data: wire})
		if el := time.Since(start); el != 150*time.Millisecond {
			t.Fatalf("returned after %v, want at the 150ms deadline", el)
		}
		if !errors.Is(err, ourserde.ErrRegistry) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want ErrRegistry and context.DeadlineExceeded", err)
		}
		if n.Load() != 1 {
			t.Fatalf("%d requests, want the 1 that hangs", n.Load())
		}
	})
}

// Nothing listens at the registry's address: the refused connections are
// retried, never past the caller's deadline. The backoffs run on synctest's
// fake clock (a refused dial takes no fake time), so the bound is exact on
// a loaded machine: a client that slept past the deadline fails it.
func TestRegistryDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	synctest.Test(t, func(t *testing.T) {
		c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](ourserde.Confluent(srclient.NewSchemaRegistryClient(url))))
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Deserialize(ctx, ourserde.Message{Topic: "t", Data: []byte{0, 0, 0, 0, 9, 0}})
		if el := time.Since(start); el > 300*time.Millisecond {
			t.Fatalf("returned after %v, past the 300ms deadline", el)
		}
		var e *ourserde.Error
		if !errors.Is(err, ourserde.ErrRegistry) || !errors.As(err, &e) || e.SchemaID != 9 {
			t.Fatalf("got %v, want ErrRegistry for schema id 9", err)
		}
	})
}

// 32 callers miss one schema id at once: while the first request is held,
// every caller is waiting (synctest.Wait) and no second request was made.
func TestConcurrentMissesMakeOneRequest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := newMemRegistry(t)
		wire, _ := seedEnvelope(t, reg)
		hold := make(chan struct{})
		n := countRequests(reg, "/schemas/ids/", func(int64) int { return 0 }, hold)
		c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client))
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for range 32 {
			wg.Go(func() {
				_, err := c.Deserialize(ctx, ourserde.Message{Data: wire})
				errs <- err
			})
		}
		synctest.Wait()
		if n.Load() != 1 {
			t.Fatalf("%d requests while 32 callers wait for one schema id, want 1", n.Load())
		}
		close(hold)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n.Load() != 1 {
			t.Fatalf("%d requests for one schema id, want 1", n.Load())
		}
	})
}

func TestSubjectStrategiesAndRegistration(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newTestRegistry(t)
	for _, tc := range []struct {
		name     string
		strategy ourserde.SubjectNameStrategy
		target   ourserde.Target
		subject  string
	}{
		{"topic name, value", ourserde.TopicNameStrategy, ourserde.Target{Topic: "s1"}, "s1-value"},
		{"topic name, key", ourserde.TopicNameStrategy, ourserde.Target{Topic: "s1", IsKey: true}, "s1-key"},
		{"record name", ourserde.RecordNameStrategy, ourserde.Target{Topic: "s2"}, "com.example.trading.Order"},
		{"topic record name", ourserde.TopicRecordNameStrategy, ourserde.Target{Topic: "s3"}, "s3-com.example.trading.Order"},
	} {
		c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2),
			ourserde.WithSubjectNameStrategy(tc.strategy)))
		if _, err := c.Serialize(ctx, tc.target, sampleOrder()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reg.fake.SubjectExists(tc.subject) {
			t.Fatalf("%s: subject %q not registered", tc.name, tc.subject)
		}
	}
	pb := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](reg.client,
		ourserde.WithSubjectNameStrategy(ourserde.RecordNameStrategy)))
	if _, err := pb.Serialize(ctx, ourserde.Target{Topic: "s4"}, sampleTrade()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"kafkalambda.serde.testpb.Trade", "testpb/common.proto"} {
		if !reg.fake.SubjectExists(s) {
			t.Fatalf("subject %q not registered (import as a reference)", s)
		}
	}
	got, ok := reg.fake.GetSchema("kafkalambda.serde.testpb.Trade", 1)
	if !ok || len(got.References) != 1 || got.References[0].Name != "testpb/common.proto" {
		t.Fatalf("Trade's references: %+v", got.References)
	}
}

// WithAutoRegister(false) only looks the schema up; WithUseLatest keeps
// the latest version for exactly the TTL (on synctest's clock), then reads
// it again.
func TestAutoRegisterOffAndUseLatest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		reg := newMemRegistry(t)
		lookup := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2),
			ourserde.WithAutoRegister(false)))
		if _, err := lookup.Serialize(ctx, ourserde.Target{Topic: "lk"}, sampleOrder()); !errors.Is(err, ourserde.ErrUnknownSchema) ||
			failureClass(err) != "configuration" {
			t.Fatalf("unregistered schema: got %v, want ErrUnknownSchema, the configuration's fault", err)
		}
		id1, _, err := reg.fake.RegisterSchema("lk-value", sr.Schema{Schema: orderSchemaV2})
		if err != nil {
			t.Fatal(err)
		}
		b, err := lookup.Serialize(ctx, ourserde.Target{Topic: "lk"}, sampleOrder())
		if err != nil || int(b[4]) != id1 {
			t.Fatalf("after registering: %v, id %d want %d", err, b[4], id1)
		}

		const ttl = 50 * time.Millisecond
		latest := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithUseLatest(),
			ourserde.WithLatestTTL(ttl)))
		b = must[[]byte](t)(latest.Serialize(ctx, ourserde.Target{Topic: "lk"}, sampleOrder()))
		if int(b[4]) != id1 {
			t.Fatalf("latest: id %d, want %d", b[4], id1)
		}
		id2, _, err := reg.fake.RegisterSchema("lk-value", sr.Schema{Schema: strings.Replace(orderSchemaV2, `"XNYS"`, `"XLON"`, 1)})
		if err != nil {
			t.Fatal(err)
		}
		advance(ttl - time.Nanosecond)
		b = must[[]byte](t)(latest.Serialize(ctx, ourserde.Target{Topic: "lk"}, sampleOrder()))
		if int(b[4]) != id1 {
			t.Fatalf("1ns before the TTL: id %d, want the cached %d", b[4], id1)
		}
		advance(time.Nanosecond)
		b = must[[]byte](t)(latest.Serialize(ctx, ourserde.Target{Topic: "lk"}, sampleOrder()))
		if int(b[4]) != id2 {
			t.Fatalf("at the TTL: id %d, want the new latest %d", b[4], id2)
		}
	})
}

func TestConstructorErrors(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	for name, err := range map[string]error{
		"nil registry":          second(ourserde.Avro[Order](nil)),
		"bad avro schema":       second(ourserde.Avro[Order](reg.client, ourserde.WithSchema(`{"type":"nope"}`))),
		"bad ttl":               second(ourserde.Protobuf[*testpb.Trade](reg.client, ourserde.WithLatestTTL(0))),
		"bad retry":             second(ourserde.Protobuf[*testpb.Trade](reg.client, ourserde.WithRetry(0, 0, 0))),
		"proto text without T":  second(ourserde.Protobuf[*testpb.Trade](reg.client, ourserde.WithSchema(`syntax = "proto3"; message X {}`))),
		"bad json schema":       second(ourserde.JSONSchema[Payment](reg.client, ourserde.WithSchema(`{"type": 7}`))),
		"unknown record format": second(ourserde.JSONSchema[Payment](reg.client, ourserde.WithEventRecordFormat("XML"))),
	} {
		if !errors.Is(err, ourserde.ErrInvalidOption) {
			t.Errorf("%s: got %v, want ErrInvalidOption", name, err)
		}
	}
}

func second[A any](_ A, err error) error { return err }

// WithUseLatest in the Protobuf and JSON Schema serializers: the latest
// version is kept within the TTL, a newer one is written with after it (with
// a header and, for Protobuf, message indexes that a deserializer reads), and
// a latest version of another format is ErrFormatMismatch. Time is
// synctest's.
func TestUseLatestProtobufAndJSONSchema(t *testing.T) {
	t.Parallel()
	const ttl = 50 * time.Millisecond
	pay := Payment{ID: "p-1", Amount: 3}
	type codecs struct {
		register func() []byte // writes with the codec that registers
		latest   func() ([]byte, error)
		read     func([]byte) error
	}
	for _, tc := range []struct {
		name  string
		topic string
		make  func(t *testing.T, r ourserde.Registry) codecs
		bump  func(text string) string // a v2 that differs from text
	}{
		{"protobuf", "ul-pb",
			func(t *testing.T, r ourserde.Registry) codecs {
				pb := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](r))
				latest := must[ourserde.Codec[*testpb.Trade]](t)(ourserde.Protobuf[*testpb.Trade](r,
					ourserde.WithUseLatest(), ourserde.WithLatestTTL(ttl)))
				target := ourserde.Target{Topic: "ul-pb"}
				return codecs{
					func() []byte { return must[[]byte](t)(pb.Serialize(t.Context(), target, sampleTrade())) },
					func() ([]byte, error) { return latest.Serialize(t.Context(), target, sampleTrade()) },
					func(b []byte) error {
						got, err := pb.Deserialize(t.Context(), ourserde.Message{Topic: "ul-pb", Data: b})
						if err == nil && !proto.Equal(got, sampleTrade()) {
							err = errors.New("read another trade")
						}
						return err
					},
				}
			},
			func(text string) string { return text + "\n// v2\n" }},
		{"json schema", "ul-js",
			func(t *testing.T, r ourserde.Registry) codecs {
				js := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](r, ourserde.WithSchema(paymentSchema)))
				latest := must[ourserde.Codec[Payment]](t)(ourserde.JSONSchema[Payment](r,
					ourserde.WithUseLatest(), ourserde.WithLatestTTL(ttl)))
				target := ourserde.Target{Topic: "ul-js"}
				return codecs{
					func() []byte { return must[[]byte](t)(js.Serialize(t.Context(), target, pay)) },
					func() ([]byte, error) { return latest.Serialize(t.Context(), target, pay) },
					func(b []byte) error {
						got, err := js.Deserialize(t.Context(), ourserde.Message{Topic: "ul-js", Data: b})
						if err == nil && got != pay {
							err = errors.New("read another payment")
						}
						return err
					},
				}
			},
			func(text string) string {
				return strings.Replace(text, `"type": "object"`, `"type": "object", "description": "v2"`, 1)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				reg := newMemRegistry(t)
				c := tc.make(t, reg.client)
				id1 := idOf(c.register())
				b := must[[]byte](t)(c.latest())
				if idOf(b) != id1 {
					t.Fatalf("latest: id %s, want %s", idOf(b), id1)
				}
				v1 := must[sr.SubjectSchema](t)(found(reg.fake.GetSchema(tc.topic+"-value", 1)))
				v2 := v1.Schema
				v2.Schema = tc.bump(v2.Schema)
				id2, _, err := reg.fake.RegisterSchema(tc.topic+"-value", v2)
				if err != nil || strconv.Itoa(id2) == id1 {
					t.Fatalf("registering v2: id %d (v1 %s), %v", id2, id1, err)
				}
				advance(ttl - time.Nanosecond)
				if b = must[[]byte](t)(c.latest()); idOf(b) != id1 {
					t.Fatalf("1ns before the TTL: id %s, want the cached %s", idOf(b), id1)
				}
				advance(time.Nanosecond)
				if b = must[[]byte](t)(c.latest()); idOf(b) != strconv.Itoa(id2) {
					t.Fatalf("at the TTL: id %s, want the new latest %d", idOf(b), id2)
				}
				if err := c.read(b); err != nil {
					t.Fatalf("reading what was written with the new latest: %v", err)
				}
				// Now the latest is an Avro schema.
				if _, _, err := reg.fake.RegisterSchema(tc.topic+"-value", sr.Schema{Schema: `"string"`}); err != nil {
					t.Fatal(err)
				}
				advance(ttl)
				_, err = c.latest()
				var e *ourserde.Error
				if !errors.Is(err, ourserde.ErrFormatMismatch) || !errors.As(err, &e) || e.Op != ourserde.OpSerialize || e.Topic != tc.topic {
					t.Fatalf("latest is AVRO: got %v, want ErrFormatMismatch for topic %s", err, tc.topic)
				}
				if e.FailureClass() != "configuration" {
					t.Fatalf("latest is AVRO: class %q, want configuration", e.FailureClass())
				}
			})
		})
	}
}

// found turns a lookup's ok into an error, for must.
func found[A any](a A, ok bool) (A, error) {
	if !ok {
		return a, errors.New("not found")
	}
	return a, nil
}
