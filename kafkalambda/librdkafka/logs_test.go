package librdkafka_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// records is a slog.Handler that keeps what it is given.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// TestLibrdkafkaLogLines: librdkafka's own log lines (here its debug
// lines for the protocol) reach WithLogger's logger, each with its
// facility and the client's name, at the level of its syslog level.
func TestLibrdkafkaLogLines(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"))
	h := &records{}
	p := newProducer(t, c, map[string]any{"debug": "protocol"}, librdkafka.WithLogger(slog.New(h)))
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	if err := sendWithin(ctx, p, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if !strings.HasPrefix(r.Message, "librdkafka: ") || r.Level != slog.LevelDebug {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		if attrs["facility"] != "" && strings.Contains(attrs["client"], "producer") && attrs["generation"] == "1" {
			return
		}
	}
	t.Errorf("no librdkafka debug line with its facility, client and generation among %d records", len(h.recs))
}
