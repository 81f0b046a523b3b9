package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
)

// Poison kinds: bytes at the head of a user_trades partition that the
// function cannot read, each the record's own fault.
const (
	PoisonMagicByte       = "bad magic byte"
	PoisonShortHeader     = "truncated header"
	PoisonTruncatedFields = "truncated protobuf"
)

// poisonValue returns the poison record of partition p: one of three kinds
// in turn. header is the Confluent header (magic byte and schema id) of a
// real UserTrade, so that the third kind names a schema the registry knows
// and fails only in the Protobuf body: a message index list [0], then field
// 1 (USERID, a string) claiming 16 bytes where 2 follow. The first two kinds
// fail before the registry is asked.
func poisonValue(p int32, header []byte) (kind string, value []byte) {
	switch p % 3 {
	case 0:
		return PoisonMagicByte, []byte{1, 0, 0, 0, 1, 0, 0x0a, 0x02, 'U', 's'}
	case 1:
		return PoisonShortHeader, []byte{0, 0, 0}
	}
	v := append(bytes.Clone(header[:5]), 0, 0x0a, 0x10, 'U', 's')
	return PoisonTruncatedFields, v
}

// notFoundRegistry stands where the function's registry URL points in a run
// with Config.Registry404: an HTTP server on 127.0.0.1 that answers every
// request with a plain-text 404 (as a wrong host or path prefix does, not
// the registry's JSON "not found") until heal is called, and from then on
// forwards to the real registry, as once the URL has been corrected.
type notFoundRegistry struct {
	srv      *httptest.Server
	healthy  atomic.Bool
	notFound atomic.Int64
}

func startNotFoundRegistry(real string) (*notFoundRegistry, error) {
	u, err := url.Parse(real)
	if err != nil {
		return nil, fmt.Errorf("pipeline: registry URL: %w", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f := &notFoundRegistry{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.healthy.Load() {
			proxy.ServeHTTP(w, r)
			return
		}
		f.notFound.Add(1)
		http.NotFound(w, r) // "404 page not found", text/plain
	}))
	return f, nil
}

func (f *notFoundRegistry) heal()  { f.healthy.Store(true) }
func (f *notFoundRegistry) close() { f.srv.Close() }

// withRegistryURL returns the secret's JSON with schema.registry.url set
// to u.
func withRegistryURL(secret, u string) (string, error) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(secret), &doc); err != nil {
		return "", fmt.Errorf("pipeline: secret: %w", err)
	}
	if _, ok := doc["schema.registry.url"]; !ok {
		return "", errors.New("pipeline: the secret has no schema.registry.url to replace")
	}
	doc["schema.registry.url"] = u
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("pipeline: secret: %w", err)
	}
	return string(b), nil
}

// FunctionLog is what the function wrote to its log at WARN and ERROR: what
// its user sees in CloudWatch.
type FunctionLog struct {
	// Errors and Warnings count the lines at ERROR and WARN.
	Errors, Warnings int
	// FirstErrors and FirstWarnings are the first lines of each level, up
	// to maxLogLines each, as written.
	FirstErrors, FirstWarnings []string
}

// maxLogLines bounds the lines FunctionLog keeps of each level.
const maxLogLines = 10

// logCollector is an io.Writer for the function's log, in either format of
// kafkalambda.LambdaLogger ("level=ERROR" or "level":"ERROR"), possibly
// mixed with other output (the emulator's): it counts the WARN and ERROR
// lines and keeps the first ones. Safe for concurrent use.
type logCollector struct {
	mu      sync.Mutex
	partial []byte
	log     FunctionLog
}

func (c *logCollector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) == 0 {
		c.partial = nil // let the buffer go
	}
	return len(p), nil
}

func (c *logCollector) line(l []byte) {
	has := func(level string) bool {
		return bytes.Contains(l, []byte("level="+level+" ")) || bytes.Contains(l, []byte(`"level":"`+level+`"`))
	}
	switch {
	case has("ERROR"):
		c.log.Errors++
		if len(c.log.FirstErrors) < maxLogLines {
			c.log.FirstErrors = append(c.log.FirstErrors, string(l))
		}
	case has("WARN"):
		c.log.Warnings++
		if len(c.log.FirstWarnings) < maxLogLines {
			c.log.FirstWarnings = append(c.log.FirstWarnings, string(l))
		}
	}
}

func (c *logCollector) result() FunctionLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.log
	l.FirstErrors, l.FirstWarnings = append([]string(nil), l.FirstErrors...), append([]string(nil), l.FirstWarnings...)
	return l
}
