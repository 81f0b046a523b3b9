package holds_test

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/holds"
)

// Retire waits for the holders to leave, and no one gets in after it
// started.
func TestRetireWaitsForHolders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := holds.New()
		if !h.Acquire() || !h.Acquire() {
			t.Fatal("Acquire refused before Retire")
		}
		var left int64 = -1
		var wg sync.WaitGroup
		wg.Go(func() { left = h.Retire(time.Minute) })
		synctest.Wait() // Retire is waiting
		if h.Acquire() {
			t.Fatal("Acquire succeeded while retiring")
		}
		h.Release()
		synctest.Wait()
		if left != -1 {
			t.Fatal("Retire returned with a holder left")
		}
		h.Release()
		wg.Wait()
		if left != 0 {
			t.Fatalf("Retire = %d, want 0", left)
		}
	})
}

// Retire gives up waiting after its wait and says how many still hold.
func TestRetireGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := holds.New()
		h.Acquire()
		start := time.Now()
		if left := h.Retire(time.Minute); left != 1 {
			t.Fatalf("Retire = %d, want 1", left)
		}
		if took := time.Since(start); took != time.Minute {
			t.Fatalf("Retire waited %v, want a minute", took)
		}
	})
}

func Example() {
	h := holds.New()
	if h.Acquire() {
		// ... use the resource ...
		h.Release()
	}
	fmt.Println("left:", h.Retire(time.Second), "acquire after:", h.Acquire())
	// Output: left: 0 acquire after: false
}
