package serde_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riferrei/srclient"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
	"github.com/kafkalambda/kafka-lambda-go/serde/internal/testpb"
)

// answer is what an intercepted registry request gets back.
type answer struct {
	status      int
	contentType string
	body        string
}

// confluentError is a Confluent Schema Registry error body, as its REST
// layer writes it (with the trailing newline).
func confluentError(status, code int, message string) answer {
	return answer{status, "application/vnd.schemaregistry.v1+json",
		`{"error_code":` + strconv.Itoa(code) + `,"message":"` + message + `"}` + "\n"}
}

// answerAll makes every request under prefix get a, and counts them.
func answerAll(reg *testRegistry, prefix string, a answer) *atomic.Int64 {
	var n atomic.Int64
	reg.fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			return false
		}
		n.Add(1)
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
		return true
	})
	return &n
}

// What each registry answer means. A registry's "not found" is a Confluent
// error body with a 404xx code; a 404 without one (a wrong host or path
// prefix) is the environment's fault, as is any other unexpected answer.
func TestRegistryAnswerClassification(t *testing.T) {
	t.Parallel()
	const html404 = "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
	long := strings.Repeat("very long registry message ", 40)
	for _, tc := range []struct {
		name     string
		a        answer
		want     error
		notWant  error
		requests int64  // 0: not checked
		inMsg    string // must be in the message
		class    string // Error.FailureClass
	}{
		{"404 plain text", answer{404, "text/plain; charset=utf-8", "404 page not found\n"},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "registry URL", "environment"},
		{"404 HTML", answer{404, "text/html", html404},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "registry URL", "environment"},
		{"404 empty body", answer{404, "", ""},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "registry URL", "environment"},
		{"404 JSON without a Schema Registry code", confluentError(404, 404, "HTTP 404 Not Found"),
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "registry URL", "environment"},
		{"404 JSON without error_code", answer{404, "application/json", `{"message":"no route"}`},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "registry URL", "environment"},
		{"404 with 40403", confluentError(404, 40403, "Schema 9 not found"),
			ourserde.ErrUnknownSchema, ourserde.ErrRegistry, 1, "Schema 9 not found", "record"},
		{"404 with 40406", confluentError(404, 40406, "Subject 's' Version 1 was soft deleted"),
			ourserde.ErrUnknownSchema, ourserde.ErrRegistry, 1, "soft deleted", "record"},
		{"404 with 40403 and a long message", confluentError(404, 40403, long),
			ourserde.ErrUnknownSchema, ourserde.ErrRegistry, 1, "very long registry message", "record"},
		{"401 JSON", confluentError(401, 401, "Unauthorized"),
			ourserde.ErrRegistryAuth, ourserde.ErrUnknownSchema, 1, "Unauthorized", "configuration"},
		{"401 plain text from a proxy", answer{401, "text/plain", "Unauthorized"},
			ourserde.ErrRegistryAuth, ourserde.ErrUnknownSchema, 1, "401", "configuration"},
		{"403 with 40301", confluentError(403, 40301, "User is denied operation Read on Subject: s"),
			ourserde.ErrRegistryAuth, ourserde.ErrUnknownSchema, 1, "denied", "configuration"},
		{"403 HTML from a proxy", answer{403, "text/html", "<html>Forbidden</html>"},
			ourserde.ErrRegistryAuth, ourserde.ErrUnknownSchema, 1, "403", "configuration"},
		{"500 with 50001", confluentError(500, 50001, "Error in the backend data store"),
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 3, "backend data store", "environment"},
		{"503 plain text", answer{503, "text/plain", "upstream connect error"},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 3, "503", "environment"},
		{"502 HTML from a load balancer", answer{502, "text/html", "<html>Bad Gateway</html>"},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 3, "502", "environment"},
		{"429 JSON", confluentError(429, 429, "Too Many Requests"),
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 3, "Too Many Requests", "environment"},
		{"408 plain text", answer{408, "text/plain", ""},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 3, "408", "environment"},
		{"400 JSON", confluentError(400, 400, "Bad Request"),
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "Bad Request", "environment"},
		{"405 plain text", answer{405, "text/plain", "Method Not Allowed"},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "405", "environment"},
		{"200 HTML from another web server", answer{200, "text/html", "<html>welcome</html>"},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, 1, "registry URL", "environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newTestRegistry(t)
			n := answerAll(reg, "/schemas/ids/", tc.a)
			c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client,
				ourserde.WithRetry(3, time.Millisecond, time.Millisecond)))
			_, err := c.Deserialize(testCtx(t), ourserde.Message{Topic: "t", Data: []byte{0, 0, 0, 0, 9, 0}})
			if !errors.Is(err, tc.want) || errors.Is(err, tc.notWant) {
				t.Fatalf("got %v, want %v and not %v", err, tc.want, tc.notWant)
			}
			if errors.Is(err, ourserde.ErrRegistryAuth) && !errors.Is(err, ourserde.ErrRegistry) {
				t.Fatalf("got %v: ErrRegistryAuth must match ErrRegistry too", err)
			}
			var e *ourserde.Error
			if !errors.As(err, &e) || e.SchemaID != 9 || e.Op != ourserde.OpDeserialize {
				t.Fatalf("got %#v, want a *serde.Error for schema id 9", err)
			}
			if got := e.FailureClass(); got != tc.class {
				t.Errorf("FailureClass() = %q, want %q", got, tc.class)
			}
			if tc.requests != 0 && n.Load() != tc.requests {
				t.Errorf("%d requests, want %d", n.Load(), tc.requests)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.inMsg) {
				t.Errorf("message %q does not say %q", msg, tc.inMsg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("message %q has a line break", msg)
			}
			if strings.Contains(msg, strings.Repeat("very long registry message ", 10)) {
				t.Errorf("message %q is not bounded", msg)
			}
		})
	}
}

// The registry's answers to a serializer: a refused registration or an
// unregistered schema is what the registry says only with its error code.
func TestRegistryAnswerClassificationSerialize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		autoRegister bool
		a            answer
		want         error
		notWant      error
		class        string
	}{
		{"register: 409 with 40901", true, confluentError(409, 40901, "Schema being registered is incompatible"),
			ourserde.ErrIncompatible, ourserde.ErrRegistry, "configuration"},
		{"register: 409 with the old code 409", true, confluentError(409, 409, "Schema being registered is incompatible"),
			ourserde.ErrIncompatible, ourserde.ErrRegistry, "configuration"},
		{"register: 409 plain text", true, answer{409, "text/plain", "Conflict"},
			ourserde.ErrRegistry, ourserde.ErrIncompatible, "environment"},
		{"register: 422 with 42201", true, confluentError(422, 42201, "Invalid schema"),
			ourserde.ErrInvalidSchema, ourserde.ErrRegistry, "configuration"},
		{"register: 422 HTML", true, answer{422, "text/html", "<html>Unprocessable</html>"},
			ourserde.ErrRegistry, ourserde.ErrInvalidSchema, "environment"},
		{"register: 401 JSON", true, confluentError(401, 401, "Unauthorized"),
			ourserde.ErrRegistryAuth, ourserde.ErrIncompatible, "configuration"},
		{"register: 403 with 40301", true, confluentError(403, 40301, "User is denied operation Write on Subject: x-value"),
			ourserde.ErrRegistryAuth, ourserde.ErrInvalidSchema, "configuration"},
		{"register: 404 plain text", true, answer{404, "text/plain", "404 page not found"},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, "environment"},
		{"look up: 404 with 40401", false, confluentError(404, 40401, "Subject 'x-value' not found."),
			ourserde.ErrUnknownSchema, ourserde.ErrRegistry, "configuration"},
		{"look up: 404 with 40403", false, confluentError(404, 40403, "Schema not found"),
			ourserde.ErrUnknownSchema, ourserde.ErrRegistry, "configuration"},
		{"look up: 404 plain text", false, answer{404, "text/plain", "404 page not found"},
			ourserde.ErrRegistry, ourserde.ErrUnknownSchema, "environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newTestRegistry(t)
			answerAll(reg, "/subjects/", tc.a)
			c := must[ourserde.Codec[Order]](t)(ourserde.Avro[Order](reg.client, ourserde.WithSchema(orderSchemaV2),
				ourserde.WithAutoRegister(tc.autoRegister), ourserde.WithRetry(2, time.Millisecond, time.Millisecond)))
			_, err := c.Serialize(testCtx(t), ourserde.Target{Topic: "x"}, sampleOrder())
			if !errors.Is(err, tc.want) || errors.Is(err, tc.notWant) {
				t.Fatalf("got %v, want %v and not %v", err, tc.want, tc.notWant)
			}
			var e *ourserde.Error
			if !errors.As(err, &e) || e.FailureClass() != tc.class {
				t.Errorf("got %v, want class %q", err, tc.class)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
				t.Errorf("message %q has a line break", msg)
			}
		})
	}
}

// Transport failures and a registry that does not answer in time are the
// environment's fault, within the caller's deadline.
func TestRegistryTransportFailures(t *testing.T) {
	t.Parallel()
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		_ = ln.Close() // nothing listens there any more
		c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](ourserde.Confluent(srclient.NewSchemaRegistryClient(url)),
			ourserde.WithRetry(3, time.Millisecond, time.Millisecond)))
		_, err = c.Deserialize(testCtx(t), ourserde.Message{Topic: "t", Data: []byte{0, 0, 0, 0, 9, 0}})
		if !errors.Is(err, ourserde.ErrRegistry) || !strings.Contains(err.Error(), "3 attempts") {
			t.Fatalf("got %v, want ErrRegistry after 3 attempts", err)
		}
		if class := failureClass(err); class != "environment" {
			t.Fatalf("FailureClass() = %q, want environment", class)
		}
	})
	t.Run("hangs past the deadline", func(t *testing.T) {
		t.Parallel()
		reg := newTestRegistry(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // before the registry closes
		arrived := make(chan struct{}, 1)
		reg.fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case arrived <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		})
		c := must[ourserde.Codec[*testpb.Envelope]](t)(ourserde.Protobuf[*testpb.Envelope](reg.client))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Deserialize(ctx, ourserde.Message{Topic: "t", Data: []byte{0, 0, 0, 0, 9, 0}})
		guard := time.NewTimer(10 * time.Second) // a bound, not a wait: arrival is the event
		defer guard.Stop()
		select {
		case <-arrived:
		case <-guard.C:
			t.Fatal("the request never reached the registry")
		}
		if !errors.Is(err, ourserde.ErrRegistry) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want ErrRegistry and context.DeadlineExceeded", err)
		}
		if ctx.Err() == nil {
			t.Fatal("returned before the deadline")
		}
		if class := failureClass(err); class != "environment" {
			t.Fatalf("FailureClass() = %q, want environment", class)
		}
	})
}

// failureClass is the class of the *serde.Error in err's chain, "" if none.
func failureClass(err error) string {
	var e *ourserde.Error
	if !errors.As(err, &e) {
		return ""
	}
	return e.FailureClass()
}
