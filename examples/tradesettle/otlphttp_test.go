package main

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestOTLPHTTPConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		url     string
		wantErr string
	}{
		{"general endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/"}, "http://localhost:4318/v1/traces", ""},
		{"traces endpoint as is", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b:2/custom"}, "https://b:2/custom", ""},
		{"no endpoint", nil, "", "no OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"not a URL", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, "", "want an http:// or https:// URL"},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "",
			`OTEL_EXPORTER_OTLP_PROTOCOL="grpc"`},
		{"bad timeout", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "soon"}, "",
			`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="soon"`},
		{"bad compression", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, "",
			`OTEL_EXPORTER_OTLP_COMPRESSION="zstd"`},
		{"bad header, value not shown", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1",
			"OTEL_EXPORTER_OTLP_HEADERS": "api-key"}, "", "OTEL_EXPORTER_OTLP_HEADERS: a header is not key=value"},
		{"client cert without key", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://a:1",
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/nonexistent.pem"}, "", "go together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newOTLPHTTP(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "api-key") {
					t.Fatalf("error shows the header: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.url != tc.url {
				t.Fatalf("url %q, want %q", c.url, tc.url)
			}
		})
	}
}

// TestOTLPHTTPUpload checks the request a collector gets: the path,
// headers from both variables (URL-decoded, the traces one winning), gzip,
// and a body that decodes as an ExportTraceServiceRequest; and that a
// rejected export is an error with the status.
func TestOTLPHTTPUpload(t *testing.T) {
	var got collectortrace.ExportTraceServiceRequest
	var hdr http.Header
	status := http.StatusOK
	var mu sync.Mutex // the handler's goroutine and the test's
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hdr = r.Header.Clone()
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(zr)
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &got) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":       srv.URL,
		"OTEL_EXPORTER_OTLP_HEADERS":        "x-team=settle,authorization=Basic%20abc",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-team=trades",
		"OTEL_EXPORTER_OTLP_COMPRESSION":    "gzip",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "5000",
	}
	c, err := newOTLPHTTP(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	spans := []*tracepb.ResourceSpans{
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "a"}, {Name: "b"}}}}},
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "c"}}}}},
	}
	if err := c.UploadTraces(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got.ResourceSpans) != 2 || got.ResourceSpans[1].ScopeSpans[0].Spans[0].Name != "c" {
		t.Fatalf("collector got %v", &got)
	}
	if hdr.Get("X-Team") != "trades" || hdr.Get("Authorization") != "Basic abc" ||
		hdr.Get("Content-Type") != "application/x-protobuf" || hdr.Get("Content-Encoding") != "gzip" {
		t.Fatalf("headers %v", hdr)
	}
	status = http.StatusServiceUnavailable
	mu.Unlock()
	err = c.UploadTraces(context.Background(), spans)
	mu.Lock()
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("rejected export: err = %v, want the 503", err)
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
