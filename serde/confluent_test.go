package serde_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

// The adapter's five calls against srfake, references included.
func TestConfluentRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	reg := newMemRegistry(t)
	r := reg.client

	common := ourserde.Schema{Type: "PROTOBUF", Text: `syntax = "proto3"; package p; message Money { int64 units = 1; }`}
	dep, err := r.Register(ctx, "p/common.proto", common)
	if err != nil || dep.ID <= 0 {
		t.Fatalf("Register = %+v, %v; want an id", dep, err)
	}
	main := ourserde.Schema{Type: "PROTOBUF", Text: `syntax = "proto3"; package p; import "p/common.proto"; message Trade { p.Money price = 1; }`,
		References: []ourserde.Reference{{Name: "p/common.proto", Subject: "p/common.proto", Version: 1}}}
	reged, err := r.Register(ctx, "trades-value", main)
	if err != nil || reged.ID <= 0 || reged.ID == dep.ID {
		t.Fatalf("Register = %+v, %v; want a new id", reged, err)
	}
	again, err := r.Register(ctx, "trades-value", main)
	if err != nil || again.ID != reged.ID {
		t.Fatalf("Register again = %+v, %v; want the same id %d", again, err, reged.ID)
	}

	got, err := r.SchemaByID(ctx, reged.ID)
	if err != nil || got.ID != reged.ID || got.Type != "PROTOBUF" || got.Text != main.Text || !slices.Equal(got.References, main.References) {
		t.Fatalf("SchemaByID = %+v, %v; want %+v with id %d", got, err, main, reged.ID)
	}
	found, err := r.Lookup(ctx, "trades-value", main)
	if err != nil || found.ID != reged.ID || found.Version != 1 {
		t.Fatalf("Lookup = %+v, %v; want id %d version 1", found, err, reged.ID)
	}
	versions, err := r.SubjectVersions(ctx, "trades-value")
	if err != nil || !slices.Equal(versions, []int{1}) {
		t.Fatalf("SubjectVersions = %v, %v; want [1]", versions, err)
	}
	byVersion, err := r.SchemaByVersion(ctx, "trades-value", 1)
	if err != nil || byVersion.ID != reged.ID || byVersion.Version != 1 || byVersion.Text != main.Text {
		t.Fatalf("SchemaByVersion = %+v, %v; want id %d version 1", byVersion, err, reged.ID)
	}

	// Avro: an empty Type registers Avro, and the registry leaves the type
	// out of its answers.
	avro, err := r.Register(ctx, "orders-value", ourserde.Schema{Text: orderSchemaV2})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.SchemaByID(ctx, avro.ID); err != nil || (got.Type != "" && got.Type != "AVRO") {
		t.Fatalf("SchemaByID(avro) = type %q, %v; want AVRO or empty", got.Type, err)
	}

	if _, err := r.Lookup(ctx, "orders-value", ourserde.Schema{Type: "AVRO", Text: `"string"`}); !errors.Is(err, ourserde.ErrUnknownSchema) {
		t.Fatalf("Lookup of an unregistered schema: %v, want ErrUnknownSchema", err)
	}
	if _, err := r.SchemaByID(ctx, 999); !errors.Is(err, ourserde.ErrUnknownSchema) {
		t.Fatalf("SchemaByID(999): %v, want ErrUnknownSchema", err)
	}
}

// srclient takes no context: the adapter returns ctx.Err() when ctx ends
// first, to the tick, and the call it abandoned ends once the registry
// answers (synctest.Test fails on a goroutine left blocked). A context
// that has ended makes no request.
func TestConfluentHonoursContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := newMemRegistry(t)
		hang := make(chan struct{})
		defer close(hang)
		n := countRequests(reg, "/", func(int64) int { return 0 }, hang)

		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := reg.client.SchemaByID(ctx, 1)
		if err != context.DeadlineExceeded {
			t.Fatalf("SchemaByID = %v, want ctx.Err() (context.DeadlineExceeded) itself", err)
		}
		if el := time.Since(start); el != 100*time.Millisecond {
			t.Fatalf("returned after %v, want at the 100ms deadline", el)
		}
		if n.Load() != 1 {
			t.Fatalf("%d requests, want the 1 that hangs", n.Load())
		}

		ended, cancel2 := context.WithCancel(t.Context())
		cancel2()
		if _, err := reg.client.SubjectVersions(ended, "x"); err != context.Canceled {
			t.Fatalf("SubjectVersions with an ended context = %v, want context.Canceled", err)
		}
		if _, err := reg.client.Register(ended, "x", ourserde.Schema{Text: `"string"`}); err != context.Canceled {
			t.Fatalf("Register with an ended context = %v, want context.Canceled", err)
		}
		synctest.Wait()
		if n.Load() != 1 {
			t.Fatalf("%d requests, want no new one for an ended context", n.Load())
		}
	})
}

// What the adapter itself returns for a registry's error answers: the
// codecs' classification, seen without the codecs.
func TestConfluentErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		a       answer
		want    error
		notWant error
	}{
		{"40403", confluentError(404, 40403, "Schema 9 not found"), ourserde.ErrUnknownSchema, ourserde.ErrRegistry},
		{"plain 404", answer{404, "text/plain", "404 page not found"}, ourserde.ErrRegistry, ourserde.ErrUnknownSchema},
		{"40301", confluentError(403, 40301, "denied"), ourserde.ErrRegistryAuth, ourserde.ErrUnknownSchema},
		{"503, retried by the codecs", answer{503, "text/plain", "busy"}, ourserde.ErrRegistry, ourserde.ErrRegistryAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newMemRegistry(t)
			answerAll(reg, "/", tc.a)
			_, err := reg.client.SchemaByID(testCtx(t), 9)
			if !errors.Is(err, tc.want) || errors.Is(err, tc.notWant) {
				t.Fatalf("SchemaByID = %v, want %v and not %v", err, tc.want, tc.notWant)
			}
		})
	}
}

func TestConfluentNil(t *testing.T) {
	t.Parallel()
	if r := ourserde.Confluent(nil); r != nil {
		t.Fatalf("Confluent(nil) = %#v, want nil", r)
	}
	if _, err := ourserde.Avro[Order](ourserde.Confluent(nil)); !errors.Is(err, ourserde.ErrInvalidOption) {
		t.Fatalf("Avro(Confluent(nil)) = %v, want ErrInvalidOption", err)
	}
}
