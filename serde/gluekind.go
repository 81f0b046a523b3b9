package serde

import "context"

// glueKind is what the codecs need of an AWS Glue registry beyond
// Registry: fetching a schema by its version id, and whether to compress
// what they write. The Registry that Glue returns is the one
// implementation (glue.go).
//
// It is an interface, not that type, for two reasons. The codecs no
// longer call the Glue client's operations directly, so a program that
// never calls Glue does not link them (6 MiB of the tradesettle example's
// franz-go build). And the codecs compile without glue.go: built with
// -tags serde.noglue, the package leaves Glue, GlueOption and
// WithGlueCompression out, and with them the AWS SDK's Glue client, whose
// package initialisation builds the shapes of every Glue operation at
// start (about 1 MiB more of the binary and 5 to 12 ms of a cold start;
// see the package doc, "Binary size"). Every other API, the AWS Glue wire
// format included (ParseGlueHeader, Bundled with a schema version id, the
// ESM's Glue metadata), stays.
type glueKind interface {
	Registry
	schemaByVersionID(ctx context.Context, id uuid) (Schema, error)
	compresses() bool
}
