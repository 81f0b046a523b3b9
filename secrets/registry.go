package secrets

import "log/slog"

// Registry is what a Schema Registry client needs, from the secret's
// schema.registry.url and basic.auth.user.info ("<key>:<secret>"; the
// Java-style schema.registry.basic.auth.user.info is accepted too).
// Credentials written into the URL (https://key:secret@host) are moved to
// Username and Password, so URL is safe to print.
//
// It is plain settings: this package makes no registry client (it imports
// none). The caller makes one with them, for serde through srclient:
//
//	c := srclient.NewSchemaRegistryClient(reg.URL)
//	if reg.Username != "" {
//		c.SetCredentials(reg.Username, reg.Password.Reveal())
//	}
//	registry := serde.Confluent(c)
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
