package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// extensionSource reads through the AWS Parameters and Secrets Lambda
// Extension, which answers GET /secretsmanager/get?secretId=… with the
// GetSecretValue output as JSON.
type extensionSource struct {
	secretID  string
	endpoint  string
	client    *http.Client
	lookupEnv func(string) (string, bool)
}

func (s *extensionSource) id() string   { return s.secretID }
func (s *extensionSource) kind() string { return "extension" }

// maxExtensionBody bounds what is read from the extension. A secret is at
// most 64 KiB; the JSON around it adds little.
const maxExtensionBody = 1 << 20

func (s *extensionSource) fetch(ctx context.Context) (raw, error) {
	token, ok := s.lookupEnv(EnvSessionToken)
	if !ok || token == "" {
		return raw{}, fmt.Errorf("%w: %s is not set; the extension requires it", ErrAccessDenied, EnvSessionToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+"?secretId="+url.QueryEscape(s.secretID), nil)
	if err != nil {
		return raw{}, fmt.Errorf("building the extension request: %w", err)
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", token)
	resp, err := s.client.Do(req)
	if err != nil {
		if contextError(err) != nil {
			return raw{}, fmt.Errorf("calling the extension: %w", err)
		}
		// *url.Error: method, URL (endpoint and secret id) and cause; no value.
		return raw{}, fmt.Errorf("%w: calling the extension: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxExtensionBody))
	if err != nil {
		return raw{}, fmt.Errorf("%w: reading the extension's answer: %w", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return raw{}, extensionError(resp.StatusCode, body)
	}
	var out struct {
		SecretString *string `json:"SecretString"`
		SecretBinary []byte  `json:"SecretBinary"` // base64 in JSON
		VersionID    string  `json:"VersionId"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		// The decoder's message may quote bytes of the secret: report the
		// position only.
		var off int64
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		return raw{}, fmt.Errorf("%w: the extension's answer is not the expected JSON (near byte offset %d)", ErrUnavailable, off)
	}
	switch {
	case out.SecretString != nil:
		return raw{data: []byte(*out.SecretString), version: out.VersionID}, nil
	case out.SecretBinary != nil:
		return raw{data: out.SecretBinary, version: out.VersionID}, nil
	}
	return raw{}, fmt.Errorf("%w: the extension's answer has neither SecretString nor SecretBinary", ErrMalformed)
}

// extensionError classifies a non-200 answer by status and, for 400, by the
// AWS error code in the body (the extension passes Secrets Manager's error
// on). Only a recognised code is quoted back, never the body itself.
func extensionError(status int, body []byte) error {
	code, sentinel := awsErrorCode(body)
	msg := fmt.Sprintf("the extension answered HTTP %d", status)
	if code != "" {
		msg += " " + code
	}
	switch {
	case sentinel != nil:
		return fmt.Errorf("%w: %s", sentinel, msg)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrAccessDenied, msg)
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, msg)
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s", ErrThrottled, msg)
	case status >= 500:
		return fmt.Errorf("%w: %s", ErrUnavailable, msg)
	case bytes.Contains(bytes.ToLower(body), []byte("not ready")):
		// During init the extension may answer 400 "not ready to serve
		// traffic, please wait".
		return fmt.Errorf("%w: %s (not ready yet)", ErrUnavailable, msg)
	}
	return errors.New(msg)
}

// awsErrorCode finds a code of [awsErrorCodes] in an error body, in its
// __type or code member ("namespace#Code" or "Code") or else anywhere in the
// text, and returns it with its sentinel; "", nil if there is none.
func awsErrorCode(body []byte) (string, error) {
	var e struct {
		Type string `json:"__type"`
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &e) == nil {
		for _, c := range []string{e.Type, e.Code} {
			if i := strings.LastIndexByte(c, '#'); i >= 0 {
				c = c[i+1:] // "namespace#Code"
			}
			if s := sentinelForCode(c); s != nil {
				return c, s
			}
		}
	}
	for _, c := range awsErrorCodes {
		if bytes.Contains(body, []byte(c.code)) {
			return c.code, c.err
		}
	}
	return "", nil
}
