package secrets

import (
	"log/slog"

	"github.com/riferrei/srclient"
)

// Registry is what a Schema Registry client needs, from the secret's
// schema.registry.url and basic.auth.user.info ("<key>:<secret>"; the
// Java-style schema.registry.basic.auth.user.info is accepted too).
// Credentials written into the URL (https://key:secret@host) are moved to
// Username and Password, so URL is safe to print.
//
// Printing or logging a Registry redacts the password (see [Value]).
type Registry struct {
	URL      string
	Username string // "" when the registry needs no authentication
	Password Value
}

// LogValue logs the URL and username, and the password as [Redacted].
func (r Registry) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", r.URL),
		slog.String("username", r.Username),
		slog.Any("password", r.Password),
	)
}

// NewClient returns a srclient Schema Registry client for r, with basic
// authentication when r has a username. opts are srclient's options
// (srclient.WithClient for an *http.Client with timeouts, for example).
func (r Registry) NewClient(opts ...srclient.Option) *srclient.SchemaRegistryClient {
	c := srclient.NewSchemaRegistryClient(r.URL, opts...)
	if r.Username != "" {
		c.SetCredentials(r.Username, r.Password.Reveal())
	}
	return c
}
