package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

// mskIAM returns SASL/OAUTHBEARER with Amazon MSK IAM tokens, signed by
// aws-msk-iam-sasl-signer-go (through secrets.MSKIAM) with the AWS SDK's
// default credentials, for the region of -aws-region, else of
// -event-source-arn, else of AWS_REGION or AWS_DEFAULT_REGION. Every new
// broker connection signs a fresh token (valid 15 minutes), so no token
// outlives its use.
func (f *flags) mskIAM(getenv func(string) string) (sasl.Mechanism, error) {
	opts := []secrets.MSKOption{
		secrets.WithBootstrapServers(f.brokers),
		secrets.WithLookupEnv(func(k string) (string, bool) { v := getenv(k); return v, v != "" }),
	}
	region := f.awsRegion
	if region == "" {
		region = arnRegion(f.eventSourceARN)
	}
	if region != "" {
		opts = append(opts, secrets.WithRegion(region))
	}
	iam, err := secrets.NewMSKIAM(opts...)
	if err != nil {
		return nil, fmt.Errorf("-msk-iam: %w", err)
	}
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		tok, _, err := iam.Token(ctx)
		if err != nil {
			return oauth.Auth{}, fmt.Errorf("kafkalambda-esm: MSK IAM token: %w", err)
		}
		return oauth.Auth{Token: tok}, nil
	}), nil
}

// glueClient is the AWS Glue client of -schema-registry-glue: the AWS
// SDK's default credentials, the region as for -msk-iam, and -glue-endpoint
// when given.
func (f *flags) glueClient(getenv func(string) string) (*glue.Client, error) {
	region := cmp.Or(f.awsRegion, arnRegion(f.eventSourceARN), getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		return nil, errors.New("-schema-registry-glue needs a region: -aws-region, -event-source-arn or $AWS_REGION")
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("-schema-registry-glue: AWS configuration: %w", err)
	}
	return glue.NewFromConfig(cfg, func(o *glue.Options) {
		if f.glueEndpoint != "" {
			o.BaseEndpoint = &f.glueEndpoint
		}
	}), nil
}

// arnRegion is the region of an ARN ("arn:aws:kafka:eu-west-1:..."), or "".
func arnRegion(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}

// clientCert adds -tls-cert-file and -tls-key-file to cfg, for brokers
// that authenticate clients by certificate (mTLS; AWS's
// CLIENT_CERTIFICATE_TLS_AUTH).
func (f *flags) clientCert(cfg *tls.Config) error {
	if f.tlsCertFile == "" && f.tlsKeyFile == "" {
		return nil
	}
	if f.tlsCertFile == "" || f.tlsKeyFile == "" {
		return errors.New("-tls-cert-file and -tls-key-file go together")
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCertFile, f.tlsKeyFile)
	if err != nil {
		return fmt.Errorf("-tls-cert-file/-tls-key-file: %w", err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	return nil
}
