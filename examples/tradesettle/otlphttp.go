package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// otlpHTTP is an otlptrace.Client sending spans as OTLP/HTTP protobuf
// (POST application/x-protobuf to .../v1/traces), configured from the
// standard OTEL_EXPORTER_OTLP_* variables.
//
// It replaces otlptracehttp, whose shared configuration links gRPC and
// grpc-gateway (2.7 MB of a 26 MB binary, and their package init) into a
// function that never speaks gRPC. What it reads, the traces-specific
// variable winning over the general one:
//
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
//     OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces");
//   - _HEADERS (key=value pairs, comma-separated, URL-encoded values);
//   - _TIMEOUT (milliseconds per export, default 10000);
//   - _COMPRESSION (gzip or none);
//   - _CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY (PEM files) for https;
//   - _PROTOCOL: http/protobuf only (an error names any other).
//
// An export is one request: a failed one (connection error or a status
// other than 2xx) is returned to the SDK's batch processor, which drops
// the batch and reports it through otel.Handle, as otlptracehttp does once
// its retries are spent. Retrying would hold the invocation's response,
// which the handler's flush waits on.
type otlpHTTP struct {
	url     string
	shown   string // url without its user info, for errors
	headers map[string]string
	timeout time.Duration
	gzip    bool
	client  *http.Client
}

// newOTLPHTTP reads the configuration from getenv.
func newOTLPHTTP(getenv func(string) string) (*otlpHTTP, error) {
	get := func(name string) (string, string) {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v, "OTEL_EXPORTER_OTLP_TRACES_" + name
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name), "OTEL_EXPORTER_OTLP_" + name
	}
	c := &otlpHTTP{headers: map[string]string{}, timeout: 10 * time.Second}
	if p, name := get("PROTOCOL"); p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("%s=%q: this function exports over http/protobuf only", name, p)
	}
	if v := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		c.url = v
	} else if v := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		c.url = strings.TrimSuffix(v, "/") + "/v1/traces"
	} else {
		return nil, fmt.Errorf("no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	}
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP traces endpoint: want an http:// or https:// URL")
	}
	c.shown = u.Redacted()
	// Headers: both variables apply, the traces-specific one last.
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		for pair := range strings.SplitSeq(getenv(name), ",") {
			if strings.TrimSpace(pair) == "" {
				continue
			}
			k, v, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			dv, err := url.PathUnescape(strings.TrimSpace(v))
			if !ok || k == "" || err != nil {
				// The pair may hold a credential: name only its position.
				return nil, fmt.Errorf("%s: a header is not key=value with a URL-encoded value", name)
			}
			c.headers[k] = dv
		}
	}
	if v, name := get("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive number of milliseconds", name, v)
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}
	switch v, name := get("COMPRESSION"); v {
	case "", "none":
	case "gzip":
		c.gzip = true
	default:
		return nil, fmt.Errorf("%s=%q: want gzip or none", name, v)
	}
	tlsCfg, err := otlpTLS(get)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	}
	c.client = &http.Client{Transport: tr}
	return c, nil
}

// otlpTLS returns the TLS configuration the certificate variables ask
// for, or nil for the system's defaults.
func otlpTLS(get func(string) (string, string)) (*tls.Config, error) {
	ca, caName := get("CERTIFICATE")
	cert, certName := get("CLIENT_CERTIFICATE")
	key, keyName := get("CLIENT_KEY")
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caName, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s=%s: no PEM certificate in it", caName, ca)
		}
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("%s and %s go together", certName, keyName)
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", certName, keyName, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Start does nothing: the client connects on the first export.
func (c *otlpHTTP) Start(context.Context) error { return nil }

// Stop closes the idle connections.
func (c *otlpHTTP) Stop(context.Context) error {
	c.client.CloseIdleConnections()
	return nil
}

// UploadTraces sends one ExportTraceServiceRequest holding spans.
func (c *otlpHTTP) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
	// ExportTraceServiceRequest is field 1, repeated ResourceSpans: encoded
	// here so that its package (and gRPC, which it links) stays out.
	var body []byte
	for _, rs := range spans {
		b, err := proto.Marshal(rs)
		if err != nil {
			return fmt.Errorf("otlp: encoding spans: %w", err)
		}
		body = protowire.AppendTag(body, 1, protowire.BytesType)
		body = protowire.AppendBytes(body, b)
	}
	if c.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return fmt.Errorf("otlp: compressing spans: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("otlp: compressing spans: %w", err)
		}
		body = buf.Bytes()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("otlp: %w", err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("otlp: exporting %d resource spans: %w", len(spans), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("otlp: exporting %d resource spans to %s: %s", len(spans), c.shown, resp.Status)
	}
	return nil
}
