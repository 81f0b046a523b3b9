package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/riferrei/srclient"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// NewRegistry returns the serde.Registry of the Schema Registry that s
// describes: a srclient client (5 s HTTP timeout) with basic
// authentication when s has a username, adapted by serde.Confluent.
func NewRegistry(s secrets.Registry) serde.Registry {
	c := srclient.NewSchemaRegistryClient(s.URL)
	if s.Username != "" {
		c.SetCredentials(s.Username, s.Password.Reveal())
	}
	return serde.Confluent(c)
}

// SecretRegistry is a serde.Registry whose client is made on first use
// from the settings that settings returns (a secrets.Loader's Registry
// method): a cold start does not fetch the secret before the first record,
// and a failed fetch is not remembered, the next call tries again.
//
// Every call asks settings again, with the call's context (a Loader
// answers from its cache until its TTL), and makes a new client
// (NewRegistry) when they changed: a rotated registry password is picked
// up once the Loader re-reads the secret. When asking fails after a client
// was made, the client in hand is used. SecretRegistry is safe for
// concurrent use.
type SecretRegistry struct {
	settings func(context.Context) (secrets.Registry, error)

	mu     sync.Mutex
	cur    secrets.Registry // what client was made from
	client serde.Registry
}

var _ serde.Registry = (*SecretRegistry)(nil)

// NewSecretRegistry returns a SecretRegistry over settings.
func NewSecretRegistry(settings func(context.Context) (secrets.Registry, error)) *SecretRegistry {
	return &SecretRegistry{settings: settings}
}

func (r *SecretRegistry) get(ctx context.Context) (serde.Registry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.settings(ctx)
	switch {
	case err != nil && r.client != nil:
		return r.client, nil
	case err != nil:
		return nil, fmt.Errorf("tradesettle: schema registry settings: %w", err)
	case r.client == nil || s != r.cur:
		r.cur, r.client = s, NewRegistry(s)
	}
	return r.client, nil
}

// SchemaByID implements serde.Registry.
func (r *SecretRegistry) SchemaByID(ctx context.Context, id int) (serde.Schema, error) {
	c, err := r.get(ctx)
	if err != nil {
		return serde.Schema{}, err
	}
	return c.SchemaByID(ctx, id)
}

// SubjectVersions implements serde.Registry.
func (r *SecretRegistry) SubjectVersions(ctx context.Context, subject string) ([]int, error) {
	c, err := r.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.SubjectVersions(ctx, subject)
}

// SchemaByVersion implements serde.Registry.
func (r *SecretRegistry) SchemaByVersion(ctx context.Context, subject string, version int) (serde.Schema, error) {
	c, err := r.get(ctx)
	if err != nil {
		return serde.Schema{}, err
	}
	return c.SchemaByVersion(ctx, subject, version)
}

// Register implements serde.Registry.
func (r *SecretRegistry) Register(ctx context.Context, subject string, s serde.Schema) (serde.Schema, error) {
	c, err := r.get(ctx)
	if err != nil {
		return serde.Schema{}, err
	}
	return c.Register(ctx, subject, s)
}

// Lookup implements serde.Registry.
func (r *SecretRegistry) Lookup(ctx context.Context, subject string, s serde.Schema) (serde.Schema, error) {
	c, err := r.get(ctx)
	if err != nil {
		return serde.Schema{}, err
	}
	return c.Lookup(ctx, subject, s)
}
