package librdkafka

import (
	"sync"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// slots holds the Delivery of every message an rdClient has queued and
// not yet reported, under ids that librdkafka carries as the messages'
// opaques: an id is a Delivery's index in the table plus one (librdkafka's
// opaque of a message produced without one is 0). A send takes a free
// index, or a new one; a report batch gives its ids back under one lock.
// No Go pointer goes to C.
type slots struct {
	mu   sync.Mutex
	ds   []kafkalambda.Delivery
	free []uint32
}

// put stores d and returns its id.
func (s *slots) put(d kafkalambda.Delivery) uintptr {
	s.mu.Lock()
	var i uint32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		i = uint32(len(s.ds))
		s.ds = append(s.ds, nil)
	}
	s.ds[i] = d
	s.mu.Unlock()
	return uintptr(i) + 1
}

// take removes and returns the Delivery of id (nil for an id not in use).
func (s *slots) take(id uintptr) kafkalambda.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeLocked(id)
}

// takeAll is take for each of ids, into ds.
func (s *slots) takeAll(ids []uintptr, ds []kafkalambda.Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, id := range ids {
		ds[k] = s.takeLocked(id)
	}
}

func (s *slots) takeLocked(id uintptr) kafkalambda.Delivery {
	if id == 0 || id > uintptr(len(s.ds)) {
		return nil
	}
	i := uint32(id - 1)
	d := s.ds[i]
	if d == nil {
		return nil
	}
	s.ds[i] = nil
	s.free = append(s.free, i)
	return d
}

// takeRest removes and returns every Delivery left in the table.
func (s *slots) takeRest() []kafkalambda.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var left []kafkalambda.Delivery
	for i, d := range s.ds {
		if d != nil {
			left = append(left, d)
			s.ds[i] = nil
			s.free = append(s.free, uint32(i))
		}
	}
	return left
}

// held is the number of Deliveries in the table.
func (s *slots) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ds) - len(s.free)
}
