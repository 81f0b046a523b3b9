package secrets_test

import (
	"context"
	"testing"

	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// Reads served from the cache, against fetches that go to the local
// Secrets Manager endpoint every time, and AWS's cache as a baseline.
//
//	go test -run '^$' -bench . -benchmem ./secrets/

func BenchmarkKafkaConfigCached(b *testing.B) {
	srv := secretstest.NewServer(b, map[string]string{secretID: secretV1})
	l := newLoader(b, srv, secretID)
	ctx := context.Background()
	if _, err := l.KafkaConfig(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.KafkaConfig(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRegistryCached(b *testing.B) {
	srv := secretstest.NewServer(b, map[string]string{secretID: `{"schema.registry.url":"https://sr.example.com","basic.auth.user.info":"k:s"}`})
	l := newLoader(b, srv, secretID)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Registry(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRegistryCachedParallel(b *testing.B) {
	srv := secretstest.NewServer(b, map[string]string{secretID: `{"schema.registry.url":"https://sr.example.com","basic.auth.user.info":"k:s"}`})
	l := newLoader(b, srv, secretID)
	ctx := context.Background()
	if _, err := l.Registry(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Registry(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFetchUncached invalidates before every read: one HTTP round trip
// to the local endpoint plus parsing and mapping.
func BenchmarkFetchUncached(b *testing.B) {
	ctx := context.Background()
	b.Run("secretsmanager", func(b *testing.B) {
		srv := secretstest.NewServer(b, map[string]string{secretID: secretV1})
		l := newLoader(b, srv, secretID)
		b.ReportAllocs()
		for b.Loop() {
			l.Invalidate()
			if _, err := l.KafkaConfig(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("extension", func(b *testing.B) {
		srv := secretstest.NewServer(b, map[string]string{secretID: secretV1})
		l, err := secrets.New(secrets.WithExtension(secretID),
			secrets.WithLookupEnv(env(secrets.EnvExtensionPort, srv.Port(), secrets.EnvSessionToken, srv.SessionToken())))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			l.Invalidate()
			if _, err := l.KafkaConfig(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAWSCacheCached is the baseline: a warm read from
// aws-secretsmanager-caching-go, which returns the raw string (no mapping,
// no copy) under a mutex.
func BenchmarkAWSCacheCached(b *testing.B) {
	srv := secretstest.NewServer(b, map[string]string{secretID: secretV1})
	cache, err := secretcache.New(func(c *secretcache.Cache) { c.Client = newSMClient(b, srv, 1) })
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cache.GetSecretStringWithContext(ctx, secretID); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cache.GetSecretStringWithContext(ctx, secretID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cache.GetSecretStringWithContext(ctx, secretID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
