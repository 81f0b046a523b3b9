package pipeline

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// secretsEndpoint is a local stand-in for AWS Secrets Manager that answers
// GetSecretValue for one secret, in the service's JSON protocol, so that
// the function reads its secret exactly as when deployed: through the AWS
// SDK, pointed here with AWS_ENDPOINT_URL_SECRETS_MANAGER (or a client's
// BaseEndpoint). It does not check signatures. (secrets/secretstest has a
// fuller fake, but it lives and dies with a *testing.T, and this runs from a
// command too.)
type secretsEndpoint struct {
	URL string
	srv *http.Server
	lis net.Listener
}

// startSecretsEndpoint serves the secret named id, holding value, on
// 127.0.0.1.
func startSecretsEndpoint(id, value string) (*secretsEndpoint, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("secrets endpoint: %w", err)
	}
	e := &secretsEndpoint{URL: "http://" + lis.Addr().String(), lis: lis}
	arn := "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + id + "-LoCaL1"
	e.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		var req struct{ SecretId string }
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
			writeAWSError(w, http.StatusBadRequest, "UnknownOperationException", "only GetSecretValue is served here")
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeAWSError(w, http.StatusBadRequest, "SerializationException", "bad request body")
			return
		}
		if req.SecretId != id && req.SecretId != arn && !strings.HasPrefix(arn, req.SecretId+"-") {
			writeAWSError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN": arn, "Name": id, "SecretString": value, "VersionId": "00000000-0000-0000-0000-000000000001",
			"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": 1.7e9,
		})
	})}
	go func() { _ = e.srv.Serve(lis) }()
	return e, nil
}

func writeAWSError(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// Close stops the endpoint.
func (e *secretsEndpoint) Close() { _ = e.srv.Close() }
