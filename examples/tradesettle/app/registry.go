package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/riferrei/srclient"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// SecretRegistry is a serde.Registry whose srclient client is made on first
// use from the settings that settings returns (a secrets.Loader's Registry
// method): a cold start does not fetch the secret before the first record,
// and a failed fetch is not remembered, the next call tries again.
//
// Every call asks settings again (a Loader answers from its cache until its
// TTL) and makes a new client when they changed: a rotated registry
// password is picked up once the Loader re-reads the secret. When asking
// fails after a client was made, the client in hand is used.
//
// serde.Registry's methods take no context, so the fetch is bounded by its
// own timeout (10 s). SecretRegistry is safe for concurrent use.
type SecretRegistry struct {
	settings func(context.Context) (secrets.Registry, error)

	mu     sync.Mutex
	cur    secrets.Registry // what client was made from
	client *srclient.SchemaRegistryClient
}

var _ serde.Registry = (*SecretRegistry)(nil)

// NewSecretRegistry returns a SecretRegistry over settings.
func NewSecretRegistry(settings func(context.Context) (secrets.Registry, error)) *SecretRegistry {
	return &SecretRegistry{settings: settings}
}

func (r *SecretRegistry) get() (*srclient.SchemaRegistryClient, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.settings(ctx)
	switch {
	case err != nil && r.client != nil:
		return r.client, nil
	case err != nil:
		return nil, fmt.Errorf("tradesettle: schema registry settings: %w", err)
	case r.client == nil || s != r.cur:
		r.cur, r.client = s, s.NewClient()
	}
	return r.client, nil
}

// GetSchema implements serde.Registry.
func (r *SecretRegistry) GetSchema(id int) (*srclient.Schema, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.GetSchema(id)
}

// GetSchemaVersions implements serde.Registry.
func (r *SecretRegistry) GetSchemaVersions(subject string) ([]int, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.GetSchemaVersions(subject)
}

// GetSchemaByVersion implements serde.Registry.
func (r *SecretRegistry) GetSchemaByVersion(subject string, version int) (*srclient.Schema, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.GetSchemaByVersion(subject, version)
}

// CreateSchema implements serde.Registry.
func (r *SecretRegistry) CreateSchema(subject, schema string, typ srclient.SchemaType, refs ...srclient.Reference) (*srclient.Schema, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.CreateSchema(subject, schema, typ, refs...)
}

// LookupSchema implements serde.Registry.
func (r *SecretRegistry) LookupSchema(subject, schema string, typ srclient.SchemaType, refs ...srclient.Reference) (*srclient.Schema, error) {
	c, err := r.get()
	if err != nil {
		return nil, err
	}
	return c.LookupSchema(subject, schema, typ, refs...)
}
