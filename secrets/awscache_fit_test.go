package secrets_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// TestAWSCacheFit keeps the measurements behind the decision not to build
// the Loader on github.com/aws/aws-secretsmanager-caching-go/v2 (v2.2.0),
// against the same local endpoint and SDK client. If it starts failing, the
// dependency changed: reconsider the decision.
func TestAWSCacheFit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// 1. It needs a six-method client; ours is one method.
	theirs := reflect.TypeFor[secretcache.SecretsManagerAPIClient]()
	ours := reflect.TypeFor[secrets.GetSecretValueAPIClient]()
	if ours.Implements(theirs) || theirs.NumMethod() != 6 {
		t.Errorf("secretcache's client interface has %d methods; ours implements it: %v", theirs.NumMethod(), ours.Implements(theirs))
	}

	// 2. A cold read costs DescribeSecret + GetSecretValue (and the role
	// needs secretsmanager:DescribeSecret); the Loader makes one call.
	srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	cache, err := secretcache.New(func(c *secretcache.Cache) {
		c.Client = newSMClient(t, srv, 1)
		c.CacheItemTTL = int64(5 * time.Minute)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.GetSecretStringWithContext(ctx, secretID); err != nil {
		t.Fatal(err)
	}
	describe, get := srv.Calls(secretstest.OpDescribeSecret), srv.Calls(gsv)
	if describe != 1 || get != 1 {
		t.Errorf("secretcache cold read: %d DescribeSecret + %d GetSecretValue; expected 1 + 1", describe, get)
	}
	ourSrv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
	password(t, newLoader(t, ourSrv, secretID))
	t.Logf("cold read round trips: secretcache %d (DescribeSecret %d, GetSecretValue %d), Loader %d",
		describe+get, describe, get, ourSrv.Calls(gsv)+ourSrv.Calls(secretstest.OpDescribeSecret))

	// 3. Its forced refresh (what an authentication failure needs) sleeps
	// 2.5-5 s whatever the context deadline; Loader.Invalidate is
	// immediate and the next read is one call.
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	cache.RefreshNowWithContext(dctx, secretID)
	took := time.Since(start)
	if took < 2*time.Second { // a lower bound: a loaded machine only makes it longer
		t.Errorf("RefreshNowWithContext with a 100ms deadline took only %v", took)
	}
	t.Logf("secretcache RefreshNowWithContext with a 100ms deadline took %v", took)
}
