// Package secretstest runs an in-process stand-in for AWS Secrets Manager, for
// tests, soaks and local runs that need a real endpoint without AWS.
//
// One [Server] speaks two protocols on one 127.0.0.1 listener:
//
//   - the Secrets Manager JSON protocol (awsJson1.1): POST / with
//     X-Amz-Target "secretsmanager.GetSecretValue" or
//     "secretsmanager.DescribeSecret", Content-Type
//     "application/x-amz-json-1.1", SigV4-signed. Errors use the AWS shape
//     {"__type":"ResourceNotFoundException","message":"..."} with the status
//     codes Secrets Manager documents (400 for client errors and throttling,
//     500 for InternalServiceError);
//   - the AWS Parameters and Secrets Lambda Extension protocol: GET
//     /secretsmanager/get?secretId=... with the X-Aws-Parameters-Secrets-Token
//     header, answered with the same JSON document as GetSecretValue.
//
// Point the real aws-sdk-go-v2 client at it with BaseEndpoint:
//
//	srv := secretstest.NewServer(t, map[string]string{"kafka/prod": `{"bootstrap.servers":"..."}`})
//	client := secretsmanager.New(secretsmanager.Options{
//		BaseEndpoint: aws.String(srv.URL),
//		Region:       "us-east-1",
//		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
//		Retryer:      retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 10 * time.Millisecond }),
//	})
//
// and the extension source at it by setting PARAMETERS_SECRETS_EXTENSION_HTTP_PORT
// to [Server.Port] and AWS_SESSION_TOKEN to [Server.SessionToken].
//
// SigV4: the server checks that a request carries an AWS4-HMAC-SHA256
// Authorization header whose credential scope names the secretsmanager
// service, and records the access key and region it names (see
// [Server.Requests]); it does not recompute the signature.
//
// The package imports only the standard library. All methods are safe for
// concurrent use.
package secretstest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Protocol constants, as the real service and extension use them.
const (
	// targetGetSecretValue is the X-Amz-Target of GetSecretValue.
	targetGetSecretValue = "secretsmanager.GetSecretValue"
	// targetDescribeSecret is the X-Amz-Target of DescribeSecret.
	targetDescribeSecret = "secretsmanager.DescribeSecret"
	// contentType is the awsJson1.1 content type.
	contentType = "application/x-amz-json-1.1"
	// extensionPath is the extension's Secrets Manager endpoint.
	extensionPath = "/secretsmanager/get"
	// extensionTokenHeader carries AWS_SESSION_TOKEN to the extension.
	extensionTokenHeader = "X-Aws-Parameters-Secrets-Token"
	// sessionToken is the token the extension endpoint accepts; see
	// [Server.SessionToken].
	sessionToken = "secretstest-session-token"
	// Account is the account id in the ARNs the server makes.
	Account = "123456789012"
)

// Op names a kind of request, for [Server.Calls] and [Request.Op].
type Op string

// The operations the server answers.
const (
	OpGetSecretValue Op = "GetSecretValue" // Secrets Manager JSON protocol
	OpDescribeSecret Op = "DescribeSecret" // Secrets Manager JSON protocol
	OpExtensionGet   Op = "ExtensionGet"   // Lambda extension protocol
)

// Fault is what the server can inject with [Server.FailNext]: an AWS error
// code, or [MalformedAnswer].
type Fault string

// Faults with the HTTP status Secrets Manager uses for them.
const (
	Throttling    Fault = "ThrottlingException"       // 400, retried by the SDK
	InternalError Fault = "InternalServiceError"      // 500, retried by the SDK
	AccessDenied  Fault = "AccessDeniedException"     // 400
	NotFound      Fault = "ResourceNotFoundException" // 400
	Decryption    Fault = "DecryptionFailure"         // 400
)

// MalformedAnswer answers a read with HTTP 200 and a body that is not the
// expected JSON, as a broken proxy might: the current value of the secret
// written raw, unquoted, as {"SecretString": <value>}. A SecretString of
// 12345 gives {"SecretString": 12345}, which the SDK's deserializer and the
// extension source reject; the test can then check that their errors do
// not quote the value. A secret that does not exist still gets
// ResourceNotFoundException.
const MalformedAnswer Fault = "MalformedAnswer"

func (f Fault) status() int {
	switch f {
	case InternalError:
		return http.StatusInternalServerError
	case MalformedAnswer:
		return http.StatusOK
	}
	return http.StatusBadRequest
}

// Request records one request the server received. It never holds a secret
// value.
type Request struct {
	Op          Op
	SecretID    string
	AccessKeyID string // from the SigV4 credential scope; "" for the extension
	Region      string // from the SigV4 credential scope; "" for the extension
	Token       string // the extension token header; "" for Secrets Manager
	Status      int    // the HTTP status the server answered
}

// Server is an in-process Secrets Manager and extension endpoint. Create it
// with [NewServer]; it is closed when the test ends.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:40123"; use it as the SDK
	// client's BaseEndpoint.
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	secrets  map[string]*secret // by name
	faults   []Fault
	latency  time.Duration
	requests []Request
	calls    map[Op]int
	arrival  chan struct{} // closed and replaced when a request arrives
	nextVer  int
}

type secret struct {
	name     string
	arn      string
	versions []*version // newest last
}

type version struct {
	id     string
	str    *string
	bin    []byte
	stages []string
	made   time.Time
}

// NewServer starts a server holding secrets (name → SecretString) and stops
// it when t ends.
func NewServer(t testing.TB, secrets map[string]string) *Server {
	t.Helper()
	s := Start(secrets)
	t.Cleanup(s.Close)
	return s
}

// Start starts a server holding secrets (name → SecretString) on 127.0.0.1,
// for a command rather than a test (a local run that serves its function's
// secret); stop it with Close.
func Start(secrets map[string]string) *Server {
	s := &Server{
		secrets: make(map[string]*secret),
		calls:   make(map[Op]int),
		arrival: make(chan struct{}),
	}
	for name, v := range secrets {
		s.PutString(name, v)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close stops the server. It is safe to call more than once.
func (s *Server) Close() { s.srv.Close() }

// Port is the TCP port the server listens on, as a string: the value for
// PARAMETERS_SECRETS_EXTENSION_HTTP_PORT.
func (s *Server) Port() string {
	_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	return port
}

// SessionToken is the token the extension endpoint requires in
// X-Aws-Parameters-Secrets-Token: the value for AWS_SESSION_TOKEN. It is
// the same for every Server.
func (s *Server) SessionToken() string { return sessionToken }

// PutString stores a new version of the secret holding SecretString v and
// makes it AWSCURRENT (the previous current version becomes AWSPREVIOUS), as
// a rotation does. It creates the secret if needed.
func (s *Server) PutString(name, v string) {
	s.put(name, &version{str: &v})
}

// PutBinary is [Server.PutString] for a SecretBinary value.
func (s *Server) PutBinary(name string, v []byte) {
	s.put(name, &version{bin: append([]byte(nil), v...)})
}

func (s *Server) put(name string, v *version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		// Real ARNs end in "-" and six random characters.
		sec = &secret{name: name, arn: fmt.Sprintf("arn:aws:secretsmanager:us-east-1:%s:secret:%s-AbCdEf", Account, name)}
		s.secrets[name] = sec
	}
	for _, old := range sec.versions {
		wasCurrent := slices.Contains(old.stages, "AWSCURRENT")
		old.stages = slices.DeleteFunc(old.stages, func(st string) bool { return st == "AWSCURRENT" || st == "AWSPREVIOUS" })
		if wasCurrent {
			old.stages = append(old.stages, "AWSPREVIOUS")
		}
	}
	s.nextVer++
	v.id = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.nextVer)
	v.stages = []string{"AWSCURRENT"}
	v.made = time.Now()
	sec.versions = append(sec.versions, v)
}

// Delete removes the secret; later reads get ResourceNotFoundException.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.secrets, name)
}

// FailNext makes the next n secret reads (GetSecretValue, DescribeSecret or
// extension GETs, in arrival order) fail with fault f. Calls add up:
// FailNext(2, Throttling) then FailNext(1, InternalError) fails the next
// three reads in that order.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetLatency delays every answer by d (0 turns the delay off); the delay
// ends early when the client goes away.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Calls reports how many requests of kind op the server received, failed
// ones included. A request counts from its arrival, before any latency set
// by [Server.SetLatency].
func (s *Server) Calls(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// WaitCalls waits until the server has received n requests of kind op
// (counted as [Server.Calls] counts them, on arrival), or ctx ends, whose
// error it then returns. It wakes on each arrival; it never polls.
func (s *Server) WaitCalls(ctx context.Context, op Op, n int) error {
	for {
		s.mu.Lock()
		got, arrival := s.calls[op], s.arrival
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-arrival:
		case <-ctx.Done():
			return fmt.Errorf("secretstest: %d of %d %s requests: %w", got, n, op, ctx.Err())
		}
	}
}

// Requests returns a copy of every request answered so far, in the order
// of the answers.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/":
		s.serveJSON(w, r)
	case r.Method == http.MethodGet && r.URL.Path == extensionPath:
		s.serveExtension(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveJSON answers the Secrets Manager JSON protocol.
func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request) {
	req := Request{}
	switch r.Header.Get("X-Amz-Target") {
	case targetGetSecretValue:
		req.Op = OpGetSecretValue
	case targetDescribeSecret:
		req.Op = OpDescribeSecret
	default:
		s.writeError(w, &req, http.StatusBadRequest, "UnknownOperationException", "unknown X-Amz-Target")
		return
	}
	s.arrived(req.Op)
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.writeError(w, &req, http.StatusBadRequest, "SerializationException", "request body is not JSON")
		return
	}
	req.SecretID = in.SecretID
	if !strings.HasPrefix(r.Header.Get("Content-Type"), contentType) {
		s.writeError(w, &req, http.StatusBadRequest, "SerializationException", "Content-Type must be "+contentType)
		return
	}
	var ok bool
	req.AccessKeyID, req.Region, ok = parseSigV4(r.Header.Get("Authorization"))
	if !ok || r.Header.Get("X-Amz-Date") == "" {
		s.writeError(w, &req, http.StatusBadRequest, "IncompleteSignature", "the request is not SigV4-signed for secretsmanager")
		return
	}
	s.answer(w, r, &req, in.VersionID, in.VersionStage)
}

// serveExtension answers the Parameters and Secrets Lambda Extension protocol.
func (s *Server) serveExtension(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := Request{Op: OpExtensionGet, SecretID: q.Get("secretId"), Token: r.Header.Get(extensionTokenHeader)}
	s.arrived(req.Op)
	if req.Token == "" || req.Token != s.SessionToken() {
		s.writeError(w, &req, http.StatusUnauthorized, "UnauthorizedException", "missing or wrong "+extensionTokenHeader)
		return
	}
	if req.SecretID == "" {
		s.writeError(w, &req, http.StatusBadRequest, "InvalidParameterException", "secretId is required")
		return
	}
	s.answer(w, r, &req, q.Get("versionId"), q.Get("versionStage"))
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, req *Request, versionID, stage string) {
	s.mu.Lock()
	latency := s.latency
	var fault Fault
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
		}
	}
	if fault != "" && fault != MalformedAnswer {
		s.writeError(w, req, fault.status(), string(fault), "injected fault")
		return
	}
	s.mu.Lock()
	sec := s.lookup(req.SecretID)
	var body []byte
	var err error
	switch {
	case sec == nil:
	case req.Op == OpDescribeSecret && fault == "":
		body, err = json.Marshal(describe(sec))
	default:
		v := sec.find(versionID, stage)
		if v == nil {
			s.mu.Unlock()
			s.writeError(w, req, http.StatusBadRequest, string(NotFound), "Secrets Manager can't find the specified secret value for the version or staging label.")
			return
		}
		if fault == MalformedAnswer {
			body = malformed(v)
			break
		}
		body, err = json.Marshal(value(sec, v))
	}
	s.mu.Unlock()
	if sec == nil {
		s.writeError(w, req, http.StatusBadRequest, string(NotFound), "Secrets Manager can't find the specified secret.")
		return
	}
	if err != nil {
		s.writeError(w, req, http.StatusInternalServerError, string(InternalError), "encoding the answer failed")
		return
	}
	s.record(req, http.StatusOK)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", "secretstest")
	_, _ = w.Write(body)
}

// lookup finds a secret by name or ARN; s.mu must be held.
func (s *Server) lookup(id string) *secret {
	if sec := s.secrets[id]; sec != nil {
		return sec
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

func (sec *secret) find(versionID, stage string) *version {
	if stage == "" && versionID == "" {
		stage = "AWSCURRENT"
	}
	for i := len(sec.versions) - 1; i >= 0; i-- {
		v := sec.versions[i]
		if (versionID == "" || v.id == versionID) && (stage == "" || slices.Contains(v.stages, stage)) {
			return v
		}
	}
	return nil
}

type valueJSON struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	SecretString  *string  `json:"SecretString,omitempty"`
	SecretBinary  string   `json:"SecretBinary,omitempty"` // base64, as on the wire
	VersionStages []string `json:"VersionStages"`
	CreatedDate   float64  `json:"CreatedDate"` // epoch seconds
}

func value(sec *secret, v *version) valueJSON {
	out := valueJSON{
		ARN: sec.arn, Name: sec.name, VersionID: v.id, SecretString: v.str,
		VersionStages: append([]string(nil), v.stages...),
		CreatedDate:   float64(v.made.UnixMilli()) / 1000,
	}
	if v.bin != nil {
		out.SecretBinary = base64.StdEncoding.EncodeToString(v.bin)
	}
	return out
}

// malformed is the body of a [MalformedAnswer]: the value unquoted.
func malformed(v *version) []byte {
	raw := v.bin
	if v.str != nil {
		raw = []byte(*v.str)
	}
	return append(append([]byte(`{"SecretString": `), raw...), '}')
}

type describeJSON struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages"`
}

func describe(sec *secret) describeJSON {
	out := describeJSON{ARN: sec.arn, Name: sec.name, VersionIdsToStages: make(map[string][]string)}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			out.VersionIdsToStages[v.id] = append([]string(nil), v.stages...)
		}
	}
	return out
}

func (s *Server) writeError(w http.ResponseWriter, req *Request, status int, code, msg string) {
	s.record(req, status)
	body, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Errortype", code)
	w.Header().Set("X-Amzn-Requestid", "secretstest")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// arrived counts a request as soon as its operation is known, so that a
// test can see a slow request in flight.
func (s *Server) arrived(op Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	close(s.arrival)
	s.arrival = make(chan struct{})
}

// record logs a request once it is answered.
func (s *Server) record(req *Request, status int) {
	req.Status = status
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, *req)
}

// parseSigV4 checks the shape of a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/secretsmanager/aws4_request,
// SignedHeaders=..., Signature=...") and returns the access key and region.
func parseSigV4(h string) (accessKey, region string, ok bool) {
	rest, found := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !found || !strings.Contains(rest, "SignedHeaders=") || !strings.Contains(rest, "Signature=") {
		return "", "", false
	}
	for part := range strings.SplitSeq(rest, ",") {
		cred, found := strings.CutPrefix(strings.TrimSpace(part), "Credential=")
		if !found {
			continue
		}
		scope := strings.Split(cred, "/")
		if len(scope) != 5 || scope[3] != "secretsmanager" || scope[4] != "aws4_request" {
			return "", "", false
		}
		return scope[0], scope[2], true
	}
	return "", "", false
}
