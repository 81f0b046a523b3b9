package secrets_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kafkalambda/kafka-lambda-go/secrets"
)

const (
	mskAccessKey    = "AKIDMSKTEST"
	mskSecretKey    = "msk/test/secret/access/key"
	mskSessionToken = "msk-test-session-token"
)

func newMSK(t *testing.T, opts ...secrets.MSKOption) *secrets.MSKIAM {
	t.Helper()
	m, err := secrets.NewMSKIAM(append([]secrets.MSKOption{
		secrets.WithBootstrapServers("b-1.msk.example.com:9098"),
		secrets.WithRegion("eu-west-1"),
		secrets.WithCredentials(credentials.NewStaticCredentialsProvider(mskAccessKey, mskSecretKey, mskSessionToken)),
		secrets.WithLookupEnv(env()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The token is a base64url SigV4-presigned GET for kafka-cluster:Connect;
// the signature is recomputed here by hand from the SigV4 specification.
func TestMSKIAMToken(t *testing.T) {
	t.Parallel()
	before := time.Now()
	tok, exp, err := newMSK(t).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("token is not base64url: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	date, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"https://kafka.eu-west-1.amazonaws.com/": u.Scheme+"://"+u.Host+u.Path == "https://kafka.eu-west-1.amazonaws.com/",
		"Action":                                 q.Get("Action") == "kafka-cluster:Connect",
		"X-Amz-Algorithm":                        q.Get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256",
		"X-Amz-Credential":                       q.Get("X-Amz-Credential") == mskAccessKey+"/"+date.Format("20060102")+"/eu-west-1/kafka-cluster/aws4_request",
		"X-Amz-Expires":                          q.Get("X-Amz-Expires") == "900",
		"X-Amz-Security-Token":                   q.Get("X-Amz-Security-Token") == mskSessionToken,
		"X-Amz-SignedHeaders":                    q.Get("X-Amz-SignedHeaders") == "host",
		"User-Agent":                             strings.HasPrefix(q.Get("User-Agent"), "aws-msk-iam-sasl-signer-go/"),
		"Expiration = X-Amz-Date + 900s":         exp.Equal(date.Add(900 * time.Second)),
		"Expiration in 15 minutes":               exp.After(before.Add(14*time.Minute)) && exp.Before(time.Now().Add(16*time.Minute)),
		"signature":                              q.Get("X-Amz-Signature") == presignedSignature(u, date, "eu-west-1", mskSecretKey),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: wrong in token URL %s (Expiration %v)", name, redactSig(u), exp)
		}
	}
}

// presignedSignature computes the SigV4 query-string signature of u (GET,
// host header only, empty payload) as AWS documents it.
func presignedSignature(u *url.URL, date time.Time, region, secretKey string) string {
	q := u.Query()
	var keys []string
	for k := range q {
		if k != "X-Amz-Signature" && k != "User-Agent" { // User-Agent is added after signing
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, awsEscape(k)+"="+awsEscape(q.Get(k)))
	}
	emptyHash := sha256.Sum256(nil)
	canonical := strings.Join([]string{
		"GET", "/", strings.Join(pairs, "&"),
		"host:" + u.Host + "\n", "host", hex.EncodeToString(emptyHash[:]),
	}, "\n")
	day := date.Format("20060102")
	scope := day + "/" + region + "/kafka-cluster/aws4_request"
	ch := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + date.Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secretKey), day)
	k = mac(k, region)
	k = mac(k, "kafka-cluster")
	k = mac(k, "aws4_request")
	return hex.EncodeToString(mac(k, toSign))
}

// awsEscape is SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~.
func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func redactSig(u *url.URL) string {
	c := *u
	q := c.Query()
	q.Set("X-Amz-Signature", "…")
	q.Set("X-Amz-Security-Token", "…")
	c.RawQuery = q.Encode()
	return c.String()
}

func TestMSKIAMKafkaConfig(t *testing.T) {
	t.Parallel()
	cfg, err := newMSK(t).KafkaConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"bootstrap.servers": "b-1.msk.example.com:9098", "security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"}
	if len(cfg) != len(want) {
		t.Fatalf("config %v; want %v", cfg, want)
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Fatalf("config %v; want %v", cfg, want)
		}
	}
}

func TestNewMSKIAMOptions(t *testing.T) {
	t.Parallel()
	creds := secrets.WithCredentials(credentials.NewStaticCredentialsProvider("a", "b", ""))
	m, err := secrets.NewMSKIAM(creds, secrets.WithLookupEnv(env(secrets.EnvBootstrapServers, "b:9098", secrets.EnvDefaultRegion, "ap-south-1")))
	if err != nil || m.Region() != "ap-south-1" {
		t.Fatalf("region from AWS_DEFAULT_REGION: %v, %v", m, err)
	}
	m, err = secrets.NewMSKIAM(creds, secrets.WithLookupEnv(env(secrets.EnvBootstrapServers, "b:9098", secrets.EnvRegion, "us-west-2", secrets.EnvDefaultRegion, "ap-south-1")))
	if err != nil || m.Region() != "us-west-2" {
		t.Fatalf("AWS_REGION first: %v, %v", m, err)
	}
	_, err = secrets.NewMSKIAM(creds, secrets.WithLookupEnv(env(secrets.EnvRegion, "us-west-2")))
	checkErr(t, err, secrets.ErrMissingKey, "bootstrap.servers")
	_, err = secrets.NewMSKIAM(creds, secrets.WithLookupEnv(env(secrets.EnvBootstrapServers, "b:9098")))
	checkErr(t, err, secrets.ErrInvalidOption, "")
}

type failingCreds struct{}

func (failingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no credentials here")
}

func TestMSKIAMTokenWithoutCredentials(t *testing.T) {
	t.Parallel()
	_, _, err := newMSK(t, secrets.WithCredentials(failingCreds{})).Token(context.Background())
	checkErr(t, err, secrets.ErrAccessDenied, "")
}

// In Lambda the function role's credentials are in the environment; the
// default chain finds them on the first Token call.
func TestMSKIAMDefaultCredentialsFromTheEnvironment(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", mskAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mskSecretKey)
	t.Setenv("AWS_SESSION_TOKEN", mskSessionToken)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	m, err := secrets.NewMSKIAM(secrets.WithBootstrapServers("b:9098"), secrets.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := m.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	if !strings.Contains(string(raw), "X-Amz-Credential="+mskAccessKey) {
		t.Fatalf("token not signed with the environment's credentials")
	}
}
