package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// extensionLoader reads secretID through the extension protocol of srv, as
// a Lambda function with the extension layer would: the port and the token
// come from the environment.
func extensionLoader(t *testing.T, port, token, id string, opts ...secrets.LoaderOption) *secrets.Loader {
	t.Helper()
	vars := []string{secrets.EnvExtensionPort, port}
	if token != "" {
		vars = append(vars, secrets.EnvSessionToken, token)
	}
	l, err := secrets.New(append([]secrets.LoaderOption{
		secrets.WithExtension(id),
		secrets.WithLookupEnv(env(vars...)),
		fastRetry(),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestExtension(t *testing.T) {
	t.Parallel()
	const oddID = "kafka/prod key&x=1" // escaped in the query
	srv := secretstest.NewServer(t, map[string]string{oddID: secretV1})
	l := extensionLoader(t, srv.Port(), srv.SessionToken(), oddID)
	if got := password(t, l); got != "pw-one" {
		t.Fatalf("sasl.password = %q", got)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Op != extension || reqs[0].SecretID != oddID || reqs[0].Token != srv.SessionToken() {
		t.Fatalf("requests = %+v; want one extension GET for %q with the session token", reqs, oddID)
	}
	password(t, l)
	if n := srv.Calls(extension); n != 1 {
		t.Fatalf("%d extension calls for two reads; want 1", n)
	}
}

func TestExtensionSecretBinary(t *testing.T) {
	t.Parallel()
	srv := secretstest.NewServer(t, nil)
	srv.PutBinary(secretID, []byte(secretV2))
	if got := password(t, extensionLoader(t, srv.Port(), srv.SessionToken(), secretID)); got != "pw-two" {
		t.Fatalf("sasl.password = %q", got)
	}
}

func TestExtensionErrors(t *testing.T) {
	t.Parallel()
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		return port
	}
	tests := []struct {
		name      string
		setup     func(*secretstest.Server)
		token     string // "" = the server's; "-" = unset
		port      func(*testing.T, *secretstest.Server) string
		want      error
		wantCalls int
	}{
		{name: "not found", setup: func(s *secretstest.Server) { s.Delete(secretID) }, want: secrets.ErrNotFound, wantCalls: 1},
		{name: "wrong token", token: "not-the-session-token", want: secrets.ErrAccessDenied, wantCalls: 1},
		{name: "no AWS_SESSION_TOKEN", token: "-", want: secrets.ErrAccessDenied, wantCalls: 0},
		{name: "access denied", setup: func(s *secretstest.Server) { s.FailNext(1, secretstest.AccessDenied) }, want: secrets.ErrAccessDenied, wantCalls: 1},
		{name: "throttled, then recovers", setup: func(s *secretstest.Server) { s.FailNext(2, secretstest.Throttling) }, wantCalls: 3},
		{name: "throttled throughout", setup: func(s *secretstest.Server) { s.FailNext(100, secretstest.Throttling) }, want: secrets.ErrThrottled, wantCalls: 4},
		{name: "server error, then recovers", setup: func(s *secretstest.Server) { s.FailNext(1, secretstest.InternalError) }, wantCalls: 2},
		{name: "answers that are not JSON throughout", setup: func(s *secretstest.Server) { s.FailNext(100, secretstest.MalformedAnswer) }, want: secrets.ErrUnavailable, wantCalls: 4},
		{name: "nothing listening", port: func(t *testing.T, _ *secretstest.Server) string { return closedPort(t) }, want: secrets.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := secretstest.NewServer(t, map[string]string{secretID: secretV1})
			if tt.setup != nil {
				tt.setup(srv)
			}
			token := tt.token
			switch token {
			case "":
				token = srv.SessionToken()
			case "-":
				token = ""
			}
			port := srv.Port()
			if tt.port != nil {
				port = tt.port(t, srv)
			}
			_, err := extensionLoader(t, port, token, secretID).KafkaConfig(context.Background())
			checkErr(t, err, tt.want, "")
			if tt.port == nil {
				if got := srv.Calls(extension); got != tt.wantCalls {
					t.Errorf("%d extension calls; want %d", got, tt.wantCalls)
				}
			}
		})
	}
}

// During init the extension may answer 400 "not ready to serve traffic,
// please wait"; that is retried.
func TestExtensionNotReadyIsRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "not ready to serve traffic, please wait", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"Name":"kafka/prod","VersionId":"v1","SecretString":` + jsonString(secretV1) + `}`))
	}))
	t.Cleanup(hs.Close)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	if got := password(t, extensionLoader(t, port, "tok", secretID)); got != "pw-one" || calls.Load() != 3 {
		t.Fatalf("password %q after %d calls; want pw-one after 3", got, calls.Load())
	}
}

func TestFileSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.json")
	if err := os.WriteFile(path, []byte(secretV1), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := secrets.New(secrets.WithFile(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := password(t, l); got != "pw-one" {
		t.Fatal(got)
	}
	if l.SecretID() != "file:"+path {
		t.Fatalf("SecretID = %q", l.SecretID())
	}
	missing, _ := secrets.New(secrets.WithFile(filepath.Join(dir, "missing.json")))
	_, err = missing.KafkaConfig(context.Background())
	checkErr(t, err, secrets.ErrNotFound, "")
}

func TestEnvSource(t *testing.T) {
	t.Parallel()
	l, err := secrets.New(secrets.WithEnv("KAFKA_SECRET_JSON"), secrets.WithLookupEnv(env()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.KafkaConfig(context.Background())
	checkErr(t, err, secrets.ErrNotFound, "")
	if !errors.Is(err, secrets.ErrNotFound) || l.SecretID() != "env:KAFKA_SECRET_JSON" {
		t.Fatalf("error %v, id %q", err, l.SecretID())
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
