package syncbuf_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/internal/syncbuf"
)

// Writers and a reader at once (run with -race): every write lands whole.
func TestBufferConcurrentWriteAndRead(t *testing.T) {
	t.Parallel()
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if n, err := b.Write([]byte("line\n")); n != 5 || err != nil {
					t.Errorf("Write = %d, %v", n, err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("line\n", 400) {
		t.Errorf("String() has %d bytes, want 400 whole lines", len(got))
	}
}
