package secretstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// call sends one Secrets Manager JSON-protocol request, signed or not.
func call(t *testing.T, srv *secretstest.Server, target, body string, signed bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", secretstest.ContentType)
	if signed {
		req.Header.Set("X-Amz-Date", "20260101T000000Z")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=abc")
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer is not JSON: %s", b)
	}
	return resp.StatusCode, out
}

func TestProtocol(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{"app": `{"a":1}`})

	status, out := call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"app"}`, true)
	if status != 200 || out["SecretString"] != `{"a":1}` || out["Name"] != "app" || !strings.HasPrefix(out["ARN"].(string), "arn:aws:secretsmanager:") {
		t.Fatalf("GetSecretValue: %d %v", status, out)
	}
	v1 := out["VersionId"]

	status, out = call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"app"}`, false)
	if status != 400 || out["__type"] != "IncompleteSignature" {
		t.Fatalf("unsigned request: %d %v", status, out)
	}

	srv.PutBinary("app", []byte("bin")) // rotation
	status, out = call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"app"}`, true)
	if status != 200 || out["SecretBinary"] != "Ymlu" || out["VersionId"] == v1 {
		t.Fatalf("after rotation: %d %v", status, out)
	}
	status, out = call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"app","VersionStage":"AWSPREVIOUS"}`, true)
	if status != 200 || out["VersionId"] != v1 {
		t.Fatalf("AWSPREVIOUS: %d %v", status, out)
	}
	status, out = call(t, srv, secretstest.TargetDescribeSecret, `{"SecretId":"app"}`, true)
	if stages, _ := out["VersionIdsToStages"].(map[string]any); status != 200 || len(stages) != 2 {
		t.Fatalf("DescribeSecret: %d %v", status, out)
	}

	srv.FailNext(1, secretstest.Throttling)
	srv.FailNext(1, secretstest.InternalError)
	for _, want := range []struct {
		status int
		code   string
	}{{400, "ThrottlingException"}, {500, "InternalServiceError"}, {400, "ResourceNotFoundException"}} {
		status, out = call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"nope"}`, true)
		if status != want.status || out["__type"] != want.code {
			t.Fatalf("got %d %v; want %d %s", status, out, want.status, want.code)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+secretstest.ExtensionPath+"?secretId=app", nil)
	if status, _ := do(t, req); status != 401 {
		t.Fatalf("extension without the token: %d", status)
	}
	req.Header.Set(secretstest.ExtensionTokenHeader, srv.SessionToken())
	if status, out := do(t, req); status != 200 || out["SecretBinary"] != "Ymlu" {
		t.Fatalf("extension: %d %v", status, out)
	}

	if n := srv.Calls(secretstest.OpGetSecretValue); n != 7 {
		t.Fatalf("%d GetSecretValue calls; want 7", n)
	}
	reqs := srv.Requests()
	if r := reqs[0]; r.AccessKeyID != "AKID" || r.Region != "eu-west-1" || r.SecretID != "app" || r.Status != 200 {
		t.Fatalf("first request recorded as %+v", r)
	}
}

// MalformedAnswer writes the secret's value raw into a 200 answer, on both
// protocols, once per injected fault; a missing secret is still not found.
func TestMalformedAnswer(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{"app": `12345`})
	srv.FailNext(3, secretstest.MalformedAnswer)
	rawBody := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const want = `{"SecretString": 12345}`

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(`{"SecretId":"app"}`))
	req.Header.Set("X-Amz-Target", secretstest.TargetGetSecretValue)
	req.Header.Set("Content-Type", secretstest.ContentType)
	req.Header.Set("X-Amz-Date", "20260101T000000Z")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=abc")
	if status, body := rawBody(req); status != 200 || body != want {
		t.Fatalf("GetSecretValue: %d %s; want 200 %s", status, body, want)
	}

	ext, _ := http.NewRequest(http.MethodGet, srv.URL+secretstest.ExtensionPath+"?secretId=app", nil)
	ext.Header.Set(secretstest.ExtensionTokenHeader, srv.SessionToken())
	if status, body := rawBody(ext); status != 200 || body != want {
		t.Fatalf("extension: %d %s; want 200 %s", status, body, want)
	}

	if status, out := call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"nope"}`, true); status != 400 || out["__type"] != string(secretstest.NotFound) {
		t.Fatalf("missing secret with the fault pending: %d %v; want ResourceNotFoundException", status, out)
	}
	if status, out := call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"app"}`, true); status != 200 || out["SecretString"] != "12345" {
		t.Fatalf("after the faults: %d %v; want the secret", status, out)
	}
	reqs := srv.Requests()
	if len(reqs) != 4 || reqs[0].Status != 200 || reqs[1].Status != 200 || reqs[2].Status != 400 {
		t.Fatalf("requests recorded as %+v", reqs)
	}
}

// WaitCalls returns once the requests have arrived, and with the context's
// error when they do not.
func TestWaitCalls(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, map[string]string{"app": `{"a":1}`})
	done := make(chan error, 1)
	go func() { done <- srv.WaitCalls(context.Background(), secretstest.OpGetSecretValue, 2) }()
	call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"app"}`, true)
	call(t, srv, secretstest.TargetGetSecretValue, `{"SecretId":"app"}`, true)
	if err := <-done; err != nil {
		t.Fatalf("WaitCalls after two calls: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.WaitCalls(ctx, secretstest.OpExtensionGet, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitCalls with no extension call and a canceled context = %v; want context.Canceled", err)
	}
}
