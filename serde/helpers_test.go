package serde_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

// testRegistry is one in-process Schema Registry (srfake) with the client
// our codecs talk to it with (srclient, through serde.Confluent);
// confluentClient (cgo) makes Confluent's for its serdes.
type testRegistry struct {
	fake   *srfake.Registry
	client ourserde.Registry
	// newClient makes another srclient client of fake, with caches of its
	// own.
	newClient func() *srclient.SchemaRegistryClient
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	newClient := func() *srclient.SchemaRegistryClient { return srclient.NewSchemaRegistryClient(fake.URL()) }
	return &testRegistry{fake: fake, client: ourserde.Confluent(newClient()), newClient: newClient}
}

// newMemRegistry is a testRegistry whose srclient clients reach srfake's
// handler in process, through handlerTransport, with no socket: the whole
// round trip runs on the goroutines of the caller, so a testing/synctest
// bubble sees every wait (its fake clock moves on once all are blocked).
func newMemRegistry(t testing.TB) *testRegistry {
	t.Helper()
	fake := srfake.NewRegistry()
	hc := &http.Client{Transport: handlerTransport{fake.Handler()}}
	newClient := func() *srclient.SchemaRegistryClient {
		return srclient.NewSchemaRegistryClient("http://srfake.invalid", srclient.WithClient(hc))
	}
	return &testRegistry{fake: fake, client: ourserde.Confluent(newClient()), newClient: newClient}
}

// handlerTransport is an http.RoundTripper that serves each request with h
// on the calling goroutine.
type handlerTransport struct{ h http.Handler }

var _ http.RoundTripper = handlerTransport{}

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return w.Result(), nil
}

// advance lets d pass on the fake clock of the testing/synctest bubble it
// is called in (and only there): it blocks on a timer, which the bubble
// fires once every other goroutine in it is blocked too, with no wall time
// going by.
func advance(d time.Duration) { <-time.After(d) }

// ctx returns a context bounded well under the test timeout.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// mustReadProto is trade.proto's text, as a registry holds it.
func mustReadProto(t testing.TB) string {
	t.Helper()
	return string(must[[]byte](t)(os.ReadFile("internal/testpb/trade.proto")))
}
