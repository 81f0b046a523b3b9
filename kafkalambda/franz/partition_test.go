package franz_test

import (
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The partitioner the Producer uses (kgo.StickyKeyPartitioner(nil)) hashes
// keys as Java's Utils.murmur2 does: these are the hashes Kafka's own
// UtilsTest.testMurmur2 expects. With math.MaxInt32 partitions the
// partition is the positive hash itself (modulo 2^31-1), so the whole hash
// is checked, then its mapping to a partition as Java's
// toPositive(murmur2(key)) % n.
func TestPartitionerIsJavaMurmur2(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		key  string
		hash int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		tp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
		positive := int(uint32(tt.hash) & 0x7fffffff)
		for _, n := range []int{math.MaxInt32, 1, 3, 8, 12, 100} {
			if got, want := tp.Partition(&kgo.Record{Key: []byte(tt.key)}, n), positive%n; got != want {
				t.Errorf("key %q, %d partitions: partition %d, want %d", tt.key, n, got, want)
			}
		}
	}
}
