package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

func TestTelemetryOptionsFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int // options
	}{
		{"metrics only by default", nil, 1},
		{"metrics off", map[string]string{EnvMetricsNamespace: "none"}, 0},
		{"tracing disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}, 1},
		{"tracing", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := telemetry(context.Background(), func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if len(opts) != tc.want {
				t.Fatalf("%d options, want %d", len(opts), tc.want)
			}
			if _, err := kafkalambda.NewHandler(serde.String(), serde.String(),
				func(context.Context, *kafkalambda.Record[string, string]) error { return nil }, opts...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTelemetryExportsOverOTLP runs main's tracing against a local OTLP/HTTP
// endpoint: the invocation's spans are there when Invoke returns.
func TestTelemetryExportsOverOTLP(t *testing.T) {
	var mu sync.Mutex
	var spans []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans = append(spans, s.Name)
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv(EnvMetricsNamespace, "Test")
	var metrics bytes.Buffer
	opts, err := telemetry(context.Background(), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(context.Context, *kafkalambda.Record[string, string]) error { return nil },
		append(opts, kafkalambda.WithMetrics(&kafkalambda.EMF{Writer: &metrics}))...)
	if err != nil {
		t.Fatal(err)
	}
	ev := &kafkalambda.Event{Source: kafkalambda.SourceSelfManaged, Partitions: []kafkalambda.Partition{{Key: "t-0", Topic: "t",
		Records: []kafkalambda.RawRecord{{Topic: "t", Offset: 1, Key: []byte("k"), Value: []byte("v")}}}}}
	if _, err := h.Invoke(context.Background(), ev.AppendJSON(nil)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]bool{"kafkalambda invoke": false, "process t": false, "kafkalambda flush": false}
	for _, s := range spans {
		if _, ok := want[s]; ok {
			want[s] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("span %q not exported when Invoke returned; got %v", name, spans)
		}
	}
}
