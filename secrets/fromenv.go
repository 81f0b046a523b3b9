package secrets

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Environment variables that choose the source of [FromEnv]. See the
// package doc, "From the environment".
const (
	// EnvSecretID is the secret's name or ARN, read through Secrets Manager
	// (or the extension when [EnvExtensionPort] is set).
	EnvSecretID = "KAFKA_SECRET_ID"
	// EnvSecretFile is the path of a file holding the secret's JSON, for
	// local runs.
	EnvSecretFile = "KAFKA_SECRET_FILE"
	// EnvSecretJSON holds the secret's JSON itself, for local runs.
	EnvSecretJSON = "KAFKA_SECRET_JSON"
)

// FromEnv returns a [Loader] whose source is chosen by the environment, so
// that main needs one line for the secret wherever it runs (the table is
// in the package doc, "From the environment"): KAFKA_SECRET_JSON
// ([WithEnv]), KAFKA_SECRET_FILE ([WithFile]), or KAFKA_SECRET_ID with
// [WithExtension] when PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is set and
// [WithSecretsManager] otherwise, its client made from the default AWS
// configuration (config.LoadDefaultConfig).
//
// An empty variable counts as unset. Exactly one of KAFKA_SECRET_ID,
// KAFKA_SECRET_FILE and KAFKA_SECRET_JSON must be set: none, or more than
// one, is an [ErrInvalidOption] error naming them, as is a source option in
// opts (the environment chooses the source) and, for Secrets Manager, a
// default AWS configuration that fails to load or has no region. The
// variables are read through [WithLookupEnv] when opts hold it; the AWS
// configuration (credentials, AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER)
// is read by the AWS SDK from the process environment. The other options
// apply as with [New]. ctx bounds loading the AWS configuration; FromEnv
// fetches nothing, the first read does.
//
// A program that needs its own Secrets Manager client (tracing, a custom
// retryer) calls [New] with [WithSecretsManager] instead.
func FromEnv(ctx context.Context, opts ...LoaderOption) (*Loader, error) {
	st, err := loaderSettings(opts)
	if err != nil {
		return nil, err
	}
	if st.source != nil {
		return nil, optionError("FromEnv", st.sourceName+": the environment chooses the source; use New to choose it yourself")
	}
	get := func(name string) string {
		v, _ := st.lookupEnv(name)
		return v
	}
	var set []string
	for _, name := range []string{EnvSecretID, EnvSecretFile, EnvSecretJSON} {
		if get(name) != "" {
			set = append(set, name)
		}
	}
	switch len(set) {
	case 0:
		return nil, optionError("FromEnv", fmt.Sprintf("no secret source: set %s (Secrets Manager, or the extension with %s), %s or %s",
			EnvSecretID, EnvExtensionPort, EnvSecretFile, EnvSecretJSON))
	case 1:
	default:
		return nil, optionError("FromEnv", strings.Join(set, " and ")+" are all set: set exactly one")
	}
	var src LoaderOption
	switch set[0] {
	case EnvSecretJSON:
		src = WithEnv(EnvSecretJSON)
	case EnvSecretFile:
		src = WithFile(get(EnvSecretFile))
	case EnvSecretID:
		id := get(EnvSecretID)
		if get(EnvExtensionPort) != "" {
			src = WithExtension(id)
			break
		}
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, newError("new", id, "", fmt.Errorf("%w: FromEnv: loading the default AWS configuration: %w", ErrInvalidOption, err))
		}
		if cfg.Region == "" {
			return nil, optionError("FromEnv", "the default AWS configuration has no region: set "+EnvRegion)
		}
		src = WithSecretsManager(secretsmanager.NewFromConfig(cfg), id)
	}
	return New(append(opts[:len(opts):len(opts)], src)...)
}
