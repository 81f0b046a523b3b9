package librdkafka_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/internal/producertest"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the logged records whose message is msg.
func (l *lockedBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		var rec map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// An InitTransactions that does not finish by the invocation's deadline is
// resumed by the slot's next transaction, on the same producer: not thrown
// away with its producer and begun again from the connection up, which on
// a starved CPU kept every attempt of a partition from ever finishing its
// init (the exactly-once soak under load gave records up after 11 attempts
// that all failed in "init transactions").
func TestTransactionsInitIsResumed(t *testing.T) {
	t.Parallel()
	c := newCluster(t, kfake.SeedTopics(1, "out"), kfake.SeedTopics(4, "in"))
	var loading atomic.Bool
	loading.Store(true)
	k := c.Kafka()
	k.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		if req.(*kmsg.InitProducerIDRequest).TransactionalID == nil || !loading.Load() {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp, nil, true
	})
	var logs lockedBuffer
	p := newProducer(t, c, nil, librdkafka.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))

	short, cancel := producertest.WithDeadline(time.Second)
	_, err := p.BeginTxn(short, owner0)
	cancel()
	if err == nil {
		t.Fatal("began a transaction while the coordinator was loading")
	}
	if got := kafkalambda.Classify(err); got != kafkalambda.ClassEnvironment {
		t.Errorf("class %q, want environment: %v", got, err)
	}
	if !strings.Contains(err.Error(), "init transactions") {
		t.Errorf("the error does not say init transactions: %v", err)
	}

	loading.Store(false)
	ctx, cancel := producertest.WithDeadline(30 * time.Second)
	defer cancel()
	txn, err := p.BeginTxn(ctx, owner0)
	if err != nil {
		t.Fatal(err)
	}
	sendIn(ctx, t, txn, "v")
	if err := txn.Commit(ctx, owner0.Group, nil); err != nil {
		t.Fatal(err)
	}
	created := logs.records(t, "kafkalambda: transactional producer created")
	if len(created) != 1 || created[0]["generation"] != float64(1) {
		t.Errorf("producers created: %v, want one, the first generation, its init resumed", created)
	}
	if replaced := logs.records(t, "kafkalambda: transactional producer replaced"); len(replaced) > 0 {
		t.Errorf("the producer was replaced: %v", replaced)
	}
}
