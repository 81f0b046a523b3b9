package librdkafka

import (
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// A success report without an offset counts as unconfirmed only when the
// brokers are asked to acknowledge writes: with acks=0 no report carries
// an offset.
func TestAcksRequired(t *testing.T) {
	for _, tc := range []struct {
		cm   map[string]kafka.ConfigValue
		want bool
	}{
		{producerDefaults(), true},
		{map[string]kafka.ConfigValue{}, true},
		{map[string]kafka.ConfigValue{"acks": "all"}, true},
		{map[string]kafka.ConfigValue{"acks": -1}, true},
		{map[string]kafka.ConfigValue{"acks": 1}, true},
		{map[string]kafka.ConfigValue{"acks": 0}, false},
		{map[string]kafka.ConfigValue{"acks": "0"}, false},
		{map[string]kafka.ConfigValue{"request.required.acks": 0}, false},
		{map[string]kafka.ConfigValue{"default.topic.config": kafka.ConfigMap{"acks": "0"}}, false},
		{map[string]kafka.ConfigValue{"default.topic.config": kafka.ConfigMap{"acks": "all"}}, true},
		{map[string]kafka.ConfigValue{"default.topic.config": map[string]any{"acks": 0}}, false},
		// default.topic.config's overrides the top level's (see configure),
		// and request.required.acks overrides its alias acks.
		{map[string]kafka.ConfigValue{"acks": 0, "default.topic.config": kafka.ConfigMap{"acks": "all"}}, true},
		{map[string]kafka.ConfigValue{"acks": "all", "default.topic.config": kafka.ConfigMap{"acks": 0}}, false},
		{map[string]kafka.ConfigValue{"acks": 0, "request.required.acks": "all"}, true},
		{map[string]kafka.ConfigValue{"acks": "all", "request.required.acks": 0}, false},
	} {
		if got := acksRequired(tc.cm); got != tc.want {
			t.Errorf("acksRequired(%v) = %v, want %v", tc.cm, got, tc.want)
		}
	}
}
