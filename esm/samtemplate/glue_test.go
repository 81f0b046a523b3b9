package samtemplate_test

import (
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
)

// A Glue registry's ARN gives its name and region; other ARNs and URLs
// give none.
func TestGlueRegistry(t *testing.T) {
	for _, c := range []struct {
		uri, name, region string
		ok                bool
	}{
		{"arn:aws:glue:eu-west-1:123456789012:registry/trades", "trades", "eu-west-1", true},
		{"arn:aws-cn:glue:cn-north-1:123456789012:registry/trades", "trades", "cn-north-1", true},
		{"arn:aws:glue:eu-west-1:123456789012:schema/trades/orders", "", "", false},
		{"arn:aws:glue::123456789012:registry/trades", "", "", false},
		{"arn:aws:kafka:eu-west-1:123456789012:cluster/c/1", "", "", false},
		{"arn:aws:glue:eu-west-1:123456789012:registry/", "", "", false},
		{"http://localhost:8081", "", "", false},
	} {
		r := samtemplate.SchemaRegistryConfig{URI: c.uri}
		name, region, ok := r.GlueRegistry()
		if name != c.name || region != c.region || ok != c.ok {
			t.Errorf("%s: %q %q %v, want %q %q %v", c.uri, name, region, ok, c.name, c.region, c.ok)
		}
	}
}
