package coldstart_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeanBuildDeps checks that the function builds the benchmarks time
// (and examples/tradesettle/build.sh makes) leave out what their tags are
// for: with serde.noglue no package of the AWS SDK's Glue service is
// linked, and with lambda.norpc no net/rpc.
func TestLeanBuildDeps(t *testing.T) {
	for _, tc := range []struct {
		name, pkg, tags string
	}{
		{"tradesettle", "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle", sdkTags},
		{"tradesettle-franz", "github.com/kafkalambda/kafka-lambda-go/examples/tradesettle", sdkTags + ",franz"},
		{"consumeonly", "github.com/kafkalambda/kafka-lambda-go/examples/consumeonly", sdkTags},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-tags="+tc.tags, tc.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			for dep := range strings.FieldsSeq(string(out)) {
				if strings.HasPrefix(dep, "github.com/aws/aws-sdk-go-v2/service/glue") || dep == "net/rpc" {
					t.Errorf("-tags %s links %s", tc.tags, dep)
				}
			}
		})
	}
}
