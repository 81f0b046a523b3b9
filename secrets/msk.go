package secrets

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// MSKIAM authenticates to Amazon MSK with IAM: SASL/OAUTHBEARER with tokens
// signed by github.com/aws/aws-msk-iam-sasl-signer-go from the function's
// AWS credentials. No secret is involved. Make one in main and share it;
// its methods are safe for concurrent use.
//
// Wiring: the producer uses [MSKIAM.KafkaConfig] as its config func and
// calls [MSKIAM.Token] on every kafka.OAuthBearerTokenRefresh event,
// passing the result to SetOAuthBearerToken (or the error's text to
// SetOAuthBearerTokenFailure). librdkafka raises that event as soon as the
// client is created and again before each token expires (tokens last 15
// minutes), so the producer must serve its events channel whenever it is
// used — right after a Lambda thaw included, when the token held may have
// expired while the environment was frozen.
type MSKIAM struct {
	region    string
	bootstrap string
	log       *slog.Logger

	mu    sync.Mutex // guards creds while it is loaded
	creds aws.CredentialsProvider
}

// NewMSKIAM returns an MSK IAM token source and config. It needs the
// bootstrap servers ([WithBootstrapServers] or KAFKA_BOOTSTRAP_SERVERS) and
// a region ([WithRegion], AWS_REGION or AWS_DEFAULT_REGION). Credentials
// come from [WithCredentials] or, on the first [MSKIAM.Token], from the AWS
// SDK's default chain. NewMSKIAM does no I/O.
func NewMSKIAM(opts ...MSKOption) (*MSKIAM, error) {
	st, err := mskSettings(opts)
	if err != nil {
		return nil, err
	}
	if st.bootstrap == "" {
		return nil, newError("new", "", keyBootstrap, fmt.Errorf("%w: MSK IAM needs bootstrap servers (WithBootstrapServers or %s)", ErrMissingKey, EnvBootstrapServers))
	}
	region := st.region
	for _, env := range []string{EnvRegion, EnvDefaultRegion} {
		if region == "" {
			region, _ = st.lookupEnv(env)
		}
	}
	if region == "" {
		return nil, optionError("", "MSK IAM needs a region: WithRegion, "+EnvRegion+" or "+EnvDefaultRegion)
	}
	return &MSKIAM{region: region, bootstrap: st.bootstrap, log: st.logger, creds: st.credentials}, nil
}

// KafkaConfig returns the producer config for MSK IAM: bootstrap.servers,
// security.protocol SASL_SSL and sasl.mechanism OAUTHBEARER; a new map on
// every call. It has the shape of librdkafka.NewProducer's config func.
func (m *MSKIAM) KafkaConfig(context.Context) (map[string]any, error) {
	return map[string]any{
		keyBootstrap: m.bootstrap,
		keyProtocol:  "SASL_SSL",
		keyMechanism: "OAUTHBEARER",
	}, nil
}

// Token returns a fresh MSK IAM token: a base64url SigV4-presigned
// kafka-cluster:Connect request for the region, valid for 15 minutes, with
// Expiration set accordingly. Errors are [*Error]s; missing or unusable
// credentials match ErrAccessDenied.
//
// The token is a credential: never log it.
func (m *MSKIAM) Token(ctx context.Context) (token string, expires time.Time, err error) {
	creds, err := m.credentials(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, expMs, err := signer.GenerateAuthTokenFromCredentialsProvider(ctx, m.region, creds)
	if err != nil {
		return "", time.Time{}, newError("msk iam token", "", "", fmt.Errorf("%w: %w", ErrAccessDenied, err))
	}
	exp := time.UnixMilli(expMs)
	m.log.Debug("secrets: MSK IAM token generated", slog.String("region", m.region), slog.Time("expires", exp))
	// No principal: librdkafka accepts that, and MSK takes the identity
	// from the signed token.
	return tok, exp, nil
}

// Region is the region tokens are signed for.
func (m *MSKIAM) Region() string { return m.region }

// credentials returns the provider, loading the SDK's default chain on first
// use. A failed load is not kept: the next call tries again.
func (m *MSKIAM) credentials(ctx context.Context) (aws.CredentialsProvider, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.creds != nil {
		return m.creds, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(m.region))
	if err != nil {
		return nil, newError("msk iam token", "", "", fmt.Errorf("%w: loading AWS credentials: %w", ErrAccessDenied, err))
	}
	if cfg.Credentials == nil {
		return nil, newError("msk iam token", "", "", fmt.Errorf("%w: no AWS credentials found", ErrAccessDenied))
	}
	m.creds = cfg.Credentials
	return m.creds, nil
}
