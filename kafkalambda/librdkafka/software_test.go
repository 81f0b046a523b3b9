package librdkafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
)

// TestSoftwareNameNeedsAlphanumeric: a client.software.name or .version
// that librdkafka 2.11.1 would read past (no ASCII letter or digit before
// C's copy of it ends) is refused before it reaches librdkafka, as the
// operator's fault, naming the property but not the value; one with a
// letter or digit is used.
func TestSoftwareNameNeedsAlphanumeric(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		key, value string
		ok         bool
	}{
		{"client.software.name", "\x01", false},
		{"client.software.name", "", false},
		{"client.software.version", "_/!\x7f", false},
		// librdkafka skips up to a letter or digit: '-' and '.' do not stop it.
		{"client.software.version", "-", false},
		{"client.software.name", ".", false},
		{"client.software.name", "-.-", false},
		// C sees the value up to its first NUL byte: here, nothing.
		{"client.software.name", "\x00abc", false},
		{"client.software.name", "tradesettle", true},
		{"client.software.version", "v-1", true},
		{"client.software.version", "1.2.3", true},
	} {
		config := func(context.Context) (map[string]any, error) {
			return map[string]any{"bootstrap.servers": "127.0.0.1:1", tt.key: tt.value}, nil
		}
		p, err := librdkafka.NewProducer(config)
		if err != nil {
			t.Fatal(err)
		}
		err = p.Warm(context.Background())
		p.Close()
		if tt.ok {
			if err != nil {
				t.Errorf("%s=%q: Warm = %v, want the producer made", tt.key, tt.value, err)
			}
			continue
		}
		if !errors.Is(err, kafkalambda.ErrProducer) || kafkalambda.Classify(err) != kafkalambda.ClassConfiguration ||
			!strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s=%q: Warm = %v (class %s), want a configuration error naming %s", tt.key, tt.value, err, kafkalambda.Classify(err), tt.key)
		}
		if len(tt.value) > 1 && strings.Contains(err.Error(), tt.value) { // one character proves nothing
			t.Errorf("%s: the error %q holds the value", tt.key, err)
		}
	}
}
