package serde_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	ourserde "github.com/kafkalambda/kafka-lambda-go/serde"
)

// classifier is the cross-package convention: package kafkalambda looks for
// this method in an error's chain.
type classifier interface{ FailureClass() string }

// Every sentinel in both directions has exactly the class the
// documentation's table gives it.
func TestFailureClassTable(t *testing.T) {
	t.Parallel()
	const (
		rec = "record"
		env = "environment"
		cfg = "configuration"
	)
	for _, tc := range []struct {
		name                   string
		sentinel               error
		deserialize, serialize string
	}{
		{"ErrRegistry", ourserde.ErrRegistry, env, env},
		{"ErrRegistryAuth", ourserde.ErrRegistryAuth, cfg, cfg},
		{"ErrInvalidOption", ourserde.ErrInvalidOption, cfg, cfg},
		{"ErrNoSchema", ourserde.ErrNoSchema, cfg, cfg},
		{"ErrMalformed", ourserde.ErrMalformed, rec, rec},
		{"ErrTruncated", ourserde.ErrTruncated, rec, rec},
		{"ErrMagicByte", ourserde.ErrMagicByte, rec, rec},
		{"ErrMessageIndexes", ourserde.ErrMessageIndexes, rec, rec},
		{"ErrDecode", ourserde.ErrDecode, rec, rec},
		{"ErrUnknownSchema", ourserde.ErrUnknownSchema, rec, cfg},
		{"ErrSchemaID", ourserde.ErrSchemaID, rec, cfg},
		{"ErrFormatMismatch", ourserde.ErrFormatMismatch, rec, cfg},
		{"ErrMessageMismatch", ourserde.ErrMessageMismatch, rec, cfg},
		{"ErrIncompatible", ourserde.ErrIncompatible, rec, cfg},
		{"ErrInvalidSchema", ourserde.ErrInvalidSchema, rec, cfg},
		{"ErrSchemaNotAllowed", ourserde.ErrSchemaNotAllowed, rec, cfg},
		{"ErrUnknownRecordType", ourserde.ErrUnknownRecordType, rec, cfg},
		{"ErrValidation", ourserde.ErrValidation, rec, rec},
		{"ErrEncode", ourserde.ErrEncode, rec, rec},
		// Two at once: the registry's failure wins, and a cut-short
		// message-index list is still the record's.
		{"ErrRegistry and context.DeadlineExceeded", fmt.Errorf("%w: %w", ourserde.ErrRegistry, context.DeadlineExceeded), env, env},
		{"ErrMessageIndexes and ErrTruncated", fmt.Errorf("%w: %w", ourserde.ErrMessageIndexes, ourserde.ErrTruncated), rec, rec},
		{"ErrInvalidOption and ErrInvalidSchema", fmt.Errorf("%w: %w", ourserde.ErrInvalidOption, ourserde.ErrInvalidSchema), cfg, cfg},
		{"no sentinel", errors.New("something else"), env, env},
		{"nil", nil, env, env},
	} {
		for _, dir := range []struct {
			op   ourserde.Op
			want string
		}{{ourserde.OpDeserialize, tc.deserialize}, {ourserde.OpSerialize, tc.serialize}, {"sideways", env}} {
			cause := tc.sentinel
			if cause != nil {
				cause = fmt.Errorf("detail: %w", cause)
			}
			e := &ourserde.Error{Op: dir.op, Format: "AVRO", Topic: "t", Err: cause}
			if got := e.FailureClass(); got != dir.want {
				t.Errorf("%s, %s: FailureClass() = %q, want %q", tc.name, dir.op, got, dir.want)
			}
			// As kafkalambda finds it: anywhere in a wrapped chain.
			var c classifier
			if !errors.As(fmt.Errorf("process: %w", e), &c) || c.FailureClass() != dir.want {
				t.Errorf("%s, %s: not found through a wrapping error", tc.name, dir.op)
			}
		}
	}
}
