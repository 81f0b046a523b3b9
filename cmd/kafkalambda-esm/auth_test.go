package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
)

const (
	iamAccessKey = "AKIDESMTEST"
	iamSecretKey = "esm/test/secret"
	iamSession   = "esm-test-session"
	iamARN       = "arn:aws:kafka:eu-west-1:123456789012:cluster/c/1"
)

// mskIAMBroker makes the TLS cluster answer SASL/OAUTHBEARER as MSK's IAM
// listener would, for the part that can be checked without AWS: the token
// must be a SigV4-presigned kafka-cluster:Connect URL for eu-west-1 whose
// signature, recomputed here from the SigV4 specification with the test's
// secret key, matches. It returns the tokens' decoded URLs accepted so far.
func mskIAMBroker(t *testing.T, c *kafkalambdatest.Cluster) func() []*url.URL {
	var mu sync.Mutex
	var accepted []*url.URL
	kf := c.Kafka()
	kf.ControlKey(int16(kmsg.SASLHandshake), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		r := req.(*kmsg.SASLHandshakeRequest)
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{"OAUTHBEARER"}
		if r.Mechanism != "OAUTHBEARER" {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
		return resp, nil, true
	})
	kf.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		u, err := verifyMSKToken(r.SASLAuthBytes)
		if err != nil {
			msg := err.Error()
			resp.ErrorCode, resp.ErrorMessage = kerr.SaslAuthenticationFailed.Code, &msg
			return resp, nil, true
		}
		mu.Lock()
		accepted = append(accepted, u)
		mu.Unlock()
		return resp, nil, true
	})
	return func() []*url.URL {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(accepted)
	}
}

// verifyMSKToken checks an OAUTHBEARER client message ("n,,\x01auth=Bearer
// <token>\x01\x01") whose token is MSK IAM's.
func verifyMSKToken(msg []byte) (*url.URL, error) {
	_, after, ok := strings.Cut(string(msg), "\x01auth=Bearer ")
	if !ok {
		return nil, fmt.Errorf("no bearer token")
	}
	tok, _, _ := strings.Cut(after, "\x01")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, fmt.Errorf("token not base64url: %w", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return nil, err
	}
	q := u.Query()
	date, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return nil, err
	}
	switch {
	case u.Host != "kafka.eu-west-1.amazonaws.com" || q.Get("Action") != "kafka-cluster:Connect":
		return nil, fmt.Errorf("not a kafka-cluster:Connect for eu-west-1")
	case q.Get("X-Amz-Credential") != iamAccessKey+"/"+date.Format("20060102")+"/eu-west-1/kafka-cluster/aws4_request":
		return nil, fmt.Errorf("credential scope %q", q.Get("X-Amz-Credential"))
	case q.Get("X-Amz-Security-Token") != iamSession:
		return nil, fmt.Errorf("no session token")
	case !hmac.Equal([]byte(q.Get("X-Amz-Signature")), []byte(sigV4(u, date))):
		return nil, fmt.Errorf("signature does not verify")
	}
	return u, nil
}

// sigV4 computes a presigned URL's signature: the canonical request of a
// GET of "/" with the query (less the signature and the User-Agent the
// signer adds after signing) and the host header, signed with the key
// derived from the secret for the date, region and service.
func sigV4(u *url.URL, date time.Time) string {
	q := u.Query()
	q.Del("X-Amz-Signature")
	q.Del("User-Agent")
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range q {
			if !yield(k) {
				return
			}
		}
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(q.Get(k)))
	}
	empty := sha256.Sum256(nil)
	canonical := strings.Join([]string{"GET", "/", strings.Join(parts, "&"), "host:" + u.Host, "", "host", hex.EncodeToString(empty[:])}, "\n")
	ch := sha256.Sum256([]byte(canonical))
	scope := date.Format("20060102") + "/eu-west-1/kafka-cluster/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + date.Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	key := []byte("AWS4" + iamSecretKey)
	for _, p := range []string{date.Format("20060102"), "eu-west-1", "kafka-cluster", "aws4_request"} {
		key = hmacSHA256(key, p)
	}
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// -msk-iam authenticates the mapping's client with tokens the real
// aws-msk-iam-sasl-signer-go signs from the AWS SDK's default credentials
// (here the environment's static ones), for the region of
// -event-source-arn; a token signed with another secret is refused. Not a
// parallel test: it sets the process environment the SDK reads.
func TestMSKIAM(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": iamAccessKey, "AWS_SECRET_ACCESS_KEY": iamSecretKey, "AWS_SESSION_TOKEN": iamSession,
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
	} {
		t.Setenv(k, v)
	}
	c := kafkalambdatest.NewCluster(t, kafkalambdatest.WithTLS(), kafkalambdatest.WithTopic("trades", 1))
	accepted := mskIAMBroker(t, c)
	if err := c.ProduceRecords(context.Background(), &kgo.Record{Topic: "trades", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, c.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-brokers", c.BootstrapServers(), "-topics", "trades", "-window", "0s", "-msk-iam", "-tls-ca-file", ca,
		"-event-source-arn", iamARN, "-stop-when-caught-up"}
	stdout := newOutput()
	var stderr bytes.Buffer
	if code := run(context.Background(), append(args, "-connect-timeout", "60s"), os.Getenv, stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, &stderr)
	}
	if len(printedEvents(t, stdout)) != 1 || len(accepted()) == 0 {
		t.Fatalf("%d events, %d tokens accepted", len(printedEvents(t, stdout)), len(accepted()))
	}
	if ua := accepted()[0].Query().Get("User-Agent"); !strings.HasPrefix(ua, "aws-msk-iam-sasl-signer-go/") {
		t.Errorf("token not from the MSK signer: User-Agent %q", ua)
	}

	// Credentials the broker does not know: refused, status 1, and the
	// secret is in no message.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
	stderr.Reset()
	if code := run(context.Background(), append(args, "-connect-timeout", "5s"), os.Getenv, newOutput(), &stderr); code != 1 {
		t.Fatalf("exit %d with a wrong secret, want 1\n%s", code, &stderr)
	}
	if strings.Contains(stderr.String(), "wrong-secret") || !strings.Contains(stderr.String(), "signature does not verify") {
		t.Fatalf("stderr:\n%s", &stderr)
	}
}

// -tls-cert-file and -tls-key-file authenticate the mapping's client to a
// broker that requires a client certificate signed by its CA; without
// them the broker refuses the connection.
func TestMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caKey := newCA(t)
	server := leafCert(t, ca, caKey, x509.ExtKeyUsageServerAuth)
	client := leafCert(t, ca, caKey, x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	kf, err := kfake.NewCluster(kfake.SeedTopics(1, "trades"), kfake.TLS(&tls.Config{
		MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	producer, err := kgo.NewClient(kgo.SeedBrokers(kf.ListenAddrs()...),
		kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{client}}))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.ProduceSync(context.Background(), &kgo.Record{Topic: "trades", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"ca.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: client.Certificate[0]}),
		"key.pem":  keyPEM(t, client.PrivateKey.(*ecdsa.PrivateKey)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-brokers", strings.Join(kf.ListenAddrs(), ","), "-topics", "trades", "-window", "0s", "-stop-when-caught-up",
		"-tls-ca-file", filepath.Join(dir, "ca.pem")}
	stdout := newOutput()
	var stderr bytes.Buffer
	if code := run(context.Background(), append(args, "-tls-cert-file", filepath.Join(dir, "cert.pem"), "-tls-key-file", filepath.Join(dir, "key.pem"),
		"-connect-timeout", "60s"), env(nil), stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, &stderr)
	}
	if n := len(printedEvents(t, stdout)); n != 1 {
		t.Fatalf("%d events", n)
	}
	stderr.Reset()
	if code := run(context.Background(), append(args, "-connect-timeout", "3s"), env(nil), newOutput(), &stderr); code != 1 {
		t.Fatalf("exit %d without a client certificate, want 1\n%s", code, &stderr)
	}
	// One of the two without the other is a bad command line.
	if code := run(context.Background(), append(args, "-tls-cert-file", filepath.Join(dir, "cert.pem")), env(nil), newOutput(), &bytes.Buffer{}); code != 2 {
		t.Fatalf("exit %d with a certificate but no key, want 2", code)
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "esm test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func leafCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func TestAuthBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-brokers", "b:1", "-topics", "t", "-msk-iam"}, // no region anywhere
		{"-brokers", "b:1", "-topics", "t", "-msk-iam", "-aws-region", "eu-west-1", "-sasl-mechanism", "PLAIN", "-sasl-username", "u"},
		{"-brokers", "b:1", "-topics", "t", "-tls-key-file", "key.pem"},
		{"-brokers", "b:1", "-topics", "t", "-tls-cert-file", "/nonexistent", "-tls-key-file", "/nonexistent"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, env(nil), &bytes.Buffer{}, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 and a message (%q)", args, code, &stderr)
		}
	}
	if r := arnRegion(iamARN); r != "eu-west-1" {
		t.Errorf("region of %s: %q", iamARN, r)
	}
}
