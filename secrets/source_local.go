package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileSource reads the secret's JSON from a file, for local runs.
type fileSource struct {
	path string
}

func (s *fileSource) id() string   { return "file:" + s.path }
func (s *fileSource) kind() string { return "file" }

func (s *fileSource) fetch(ctx context.Context) (raw, error) {
	if err := ctx.Err(); err != nil {
		return raw{}, err
	}
	data, err := os.ReadFile(s.path)
	switch {
	case err == nil:
		return raw{data: data}, nil
	case errors.Is(err, fs.ErrNotExist):
		return raw{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return raw{}, fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return raw{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// envSource reads the secret's JSON from an environment variable, for local
// runs.
type envSource struct {
	name      string
	lookupEnv func(string) (string, bool)
}

func (s *envSource) id() string   { return "env:" + s.name }
func (s *envSource) kind() string { return "env" }

func (s *envSource) fetch(ctx context.Context) (raw, error) {
	if err := ctx.Err(); err != nil {
		return raw{}, err
	}
	v, ok := s.lookupEnv(s.name)
	if !ok {
		return raw{}, fmt.Errorf("%w: environment variable %s is not set", ErrNotFound, s.name)
	}
	return raw{data: []byte(v)}, nil
}
