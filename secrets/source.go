package secrets

import (
	"context"
	"errors"
	"fmt"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// source fetches the raw secret document. Its errors wrap one sentinel
// (ErrNotFound, ErrAccessDenied, ErrThrottled, ErrUnavailable,
// ErrMalformed) where one applies; the Loader wraps them in *Error.
type source interface {
	fetch(ctx context.Context) (raw, error)
	// id names the secret in errors and logs: name or ARN, file:<path>,
	// env:<NAME>.
	id() string
	// kind names the source in logs.
	kind() string
}

// raw is a fetched secret document.
type raw struct {
	data    []byte
	version string // VersionId when the source knows it
}

// GetSecretValueAPIClient is the one AWS Secrets Manager call the [Loader]
// makes. *secretsmanager.Client satisfies it; so can a test double or a
// wrapper that adds tracing.
//
// GetSecretValue must honour ctx. Errors should be the SDK's: the loader
// recognises the Secrets Manager error codes (ResourceNotFoundException,
// AccessDeniedException, DecryptionFailure, ThrottlingException,
// InternalServiceError) through smithy.APIError.
type GetSecretValueAPIClient interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ GetSecretValueAPIClient = (*secretsmanager.Client)(nil)

// smSource reads through the AWS SDK.
type smSource struct {
	client   GetSecretValueAPIClient
	secretID string
}

func (s *smSource) id() string   { return s.secretID }
func (s *smSource) kind() string { return "secretsmanager" }

func (s *smSource) fetch(ctx context.Context) (raw, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &s.secretID})
	if err != nil {
		return raw{}, classifySDKError(err)
	}
	r := raw{}
	if out.VersionId != nil {
		r.version = *out.VersionId
	}
	switch {
	case out.SecretString != nil:
		r.data = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		r.data = out.SecretBinary // the SDK has already base64-decoded it
	default:
		return raw{}, fmt.Errorf("%w: the secret version has neither SecretString nor SecretBinary", ErrMalformed)
	}
	return r, nil
}

// classifySDKError wraps an SDK error with the matching sentinel. SDK error
// messages carry the operation, status, request id and AWS message, never a
// secret value, so they are kept, with one exception: an answer the SDK
// could not deserialize. Its message may quote bytes of the answer, which
// may be the secret ("expected string, got 12345" for a SecretString that
// is not a JSON string), and the error holds a snapshot of the body, so
// that error is dropped, not wrapped: only the HTTP status and the request
// id are kept.
func classifySDKError(err error) error {
	if errors.As(err, new(*smithy.DeserializationError)) {
		if ce := contextError(err); ce != nil {
			return fmt.Errorf("reading the GetSecretValue answer%s: %w", responseInfo(err), ce)
		}
		return fmt.Errorf("%w: the GetSecretValue answer%s is not the expected JSON", ErrUnavailable, responseInfo(err))
	}
	if contextError(err) != nil {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if s := sentinelForCode(ae.ErrorCode()); s != nil {
			return fmt.Errorf("%w: %w", s, err)
		}
		if ae.ErrorFault() == smithy.FaultServer {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// responseInfo describes the HTTP answer an SDK error came with, as
// " (HTTP <status>, request id <id>)", or "" when there was none.
func responseInfo(err error) string {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return ""
	}
	if id := re.ServiceRequestID(); id != "" {
		return fmt.Sprintf(" (HTTP %d, request id %s)", re.HTTPStatusCode(), id)
	}
	return fmt.Sprintf(" (HTTP %d)", re.HTTPStatusCode())
}

// awsErrorCodes are the AWS error codes both sources recognise, with the
// sentinel each maps to: Secrets Manager's own and the ones every AWS
// service may answer. The SDK's errors carry the code; the extension passes
// it on in the body of its 400 answers, which is searched for the codes in
// this order, so a code comes before any code it starts with.
var awsErrorCodes = []struct {
	code string
	err  error
}{
	{"ResourceNotFoundException", ErrNotFound},
	{"AccessDeniedException", ErrAccessDenied},
	{"DecryptionFailure", ErrAccessDenied},
	{"UnrecognizedClientException", ErrAccessDenied},
	{"InvalidClientTokenId", ErrAccessDenied},
	{"ExpiredTokenException", ErrAccessDenied},
	{"InvalidSignatureException", ErrAccessDenied},
	{"IncompleteSignature", ErrAccessDenied},
	{"MissingAuthenticationToken", ErrAccessDenied},
	{"UnauthorizedException", ErrAccessDenied},
	{"ThrottlingException", ErrThrottled},
	{"Throttling", ErrThrottled},
	{"TooManyRequestsException", ErrThrottled},
	{"RequestLimitExceeded", ErrThrottled},
	{"InternalServiceError", ErrUnavailable},
	{"InternalFailure", ErrUnavailable},
	{"InternalServiceFailure", ErrUnavailable},
	{"ServiceUnavailableException", ErrUnavailable},
	{"ServiceUnavailable", ErrUnavailable},
}

// sentinelForCode maps an AWS error code to a sentinel, or nil.
func sentinelForCode(code string) error {
	for _, c := range awsErrorCodes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}

// contextError returns the context error err wraps, if any.
func contextError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return nil
}
