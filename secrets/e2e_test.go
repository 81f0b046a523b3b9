//go:build cgo

package secrets_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/librdkafka"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

const (
	kafkaUser  = "svc-settlement"
	kafkaPass  = "kafka-pass-3c9d1e"
	e2eTopic   = "settlements"
	e2eTimeout = 20 * time.Second
)

// startKafka starts an in-process broker that requires SASL (PLAIN and
// SCRAM-SHA-256 for kafkaUser), optionally behind TLS, and returns its
// bootstrap servers.
func startKafka(t *testing.T, tlsCfg *tls.Config) (*kfake.Cluster, string) {
	t.Helper()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", kafkaUser, kafkaPass),
		kfake.Superuser("SCRAM-SHA-256", kafkaUser, kafkaPass),
		kfake.SeedTopics(1, e2eTopic),
	}
	if tlsCfg != nil {
		opts = append(opts, kfake.TLS(tlsCfg))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, strings.Join(c.ListenAddrs(), ",")
}

// answerAuthFailures makes c refuse a wrong SASL/PLAIN login the way Apache
// Kafka does, with a SaslAuthenticate response carrying
// SASL_AUTHENTICATION_FAILED, instead of kfake's default of closing the
// connection.
func answerAuthFailures(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.SASLAuthenticateRequest)
		if parts := bytes.Split(req.SASLAuthBytes, []byte{0}); len(parts) == 3 &&
			string(parts[1]) == kafkaUser && string(parts[2]) == kafkaPass {
			return nil, nil, false // let kfake accept it
		}
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
}

// selfSignedTLS returns a server TLS config for 127.0.0.1 and the PEM of
// the certificate that signs it, for ssl.ca.pem.
func selfSignedTLS(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, string(certPEM)
}

// produceOne makes a real librdkafka producer from cfg, sends one message
// and waits for its delivery report. It returns early with the error
// librdkafka raises on the events channel for a refused SASL login (see
// librdkafka.IsAuthFailure), which otherwise would only show as a delivery
// timeout after message.timeout.ms.
func produceOne(t *testing.T, config map[string]any) (kafka.TopicPartition, error) {
	t.Helper()
	cfg := mergeConfig(config, kafka.ConfigMap{"message.timeout.ms": int(e2eTimeout / time.Millisecond), "log_level": 3})
	p, err := kafka.NewProducer(&cfg)
	if err != nil {
		return kafka.TopicPartition{}, fmt.Errorf("NewProducer: %w", err)
	}
	defer p.Close()
	topic := e2eTopic
	if err := p.Produce(&kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key:            []byte("k"), Value: []byte("settled"),
	}, nil); err != nil {
		return kafka.TopicPartition{}, fmt.Errorf("Produce: %w", err)
	}
	timeout := time.NewTimer(e2eTimeout + 5*time.Second)
	defer timeout.Stop()
	for {
		select {
		case ev := <-p.Events():
			switch ev := ev.(type) {
			case *kafka.Message:
				return ev.TopicPartition, ev.TopicPartition.Error
			case kafka.Error:
				if librdkafka.IsAuthFailure(ev) || ev.IsFatal() {
					return kafka.TopicPartition{}, ev
				}
				t.Logf("librdkafka error event (not fatal): code %d %v: %v", ev.Code(), ev.Code(), ev)
			}
		case <-timeout.C:
			return kafka.TopicPartition{}, errors.New("no delivery report and no authentication error in time")
		}
	}
}

func mergeConfig(a map[string]any, b kafka.ConfigMap) kafka.ConfigMap {
	out := kafka.ConfigMap{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func secretJSON(t *testing.T, kv map[string]any) string {
	t.Helper()
	b, err := json.Marshal(kv)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Secrets Manager → loader → librdkafka config → a real producer delivers
// to a broker that requires SASL, for each secret shape the package reads.
func TestEndToEndProducerDelivers(t *testing.T) {
	t.Parallel()
	tlsCfg, caPEM := selfSignedTLS(t)
	_, plainBoot := startKafka(t, nil)
	_, tlsBoot := startKafka(t, tlsCfg)
	tests := []struct {
		name   string
		secret map[string]any
		opts   []secrets.LoaderOption
	}{{
		name: "librdkafka keys, SASL_PLAINTEXT/PLAIN",
		secret: map[string]any{"bootstrap.servers": plainBoot, "security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism": "PLAIN", "sasl.username": kafkaUser, "sasl.password": kafkaPass},
	}, {
		name: "ESM BASIC_AUTH secret: defaults to SASL_SSL/PLAIN, bootstrap from the environment",
		secret: map[string]any{"username": kafkaUser, "password": kafkaPass, "ssl.ca.pem": caPEM,
			"schema.registry.url": "https://sr.example.com", "basic.auth.user.info": "SRKEY:sr-pass"},
		opts: []secrets.LoaderOption{secrets.WithLookupEnv(env(secrets.EnvBootstrapServers, tlsBoot))},
	}, {
		name: "Java sasl.jaas.config with SCRAM-SHA-256 over TLS",
		secret: map[string]any{"bootstrap.servers": tlsBoot, "ssl.ca.pem": caPEM, "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="` + kafkaUser + `" password="` + kafkaPass + `";`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := secretstest.NewServer(t, map[string]string{secretID: secretJSON(t, tt.secret)})
			l := newLoader(t, srv, secretID, tt.opts...)
			cfg, err := l.KafkaConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("config: %v", secrets.Redact(cfg))
			tp, err := produceOne(t, cfg)
			if err != nil {
				t.Fatalf("delivery failed: %v", err)
			}
			if tp.Offset < 0 {
				t.Fatalf("delivered at offset %v", tp.Offset)
			}
		})
	}
}

// A wrong password is a clear, prompt error, and the recovery the producer
// performs on it (Invalidate, then a new config) picks up the rotated
// secret. Two broker behaviours: Apache Kafka answers
// SASL_AUTHENTICATION_FAILED; kfake (like some proxies) closes the
// connection.
func TestEndToEndWrongPasswordThenRotation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		kafkaLike bool
		wantCode  kafka.ErrorCode
	}{
		{name: "broker answers SASL_AUTHENTICATION_FAILED", kafkaLike: true, wantCode: kafka.ErrAuthentication},
		{name: "broker closes the connection", wantCode: kafka.ErrTransport},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, boot := startKafka(t, nil)
			if tt.kafkaLike {
				answerAuthFailures(c)
			}
			secretWith := func(pw string) string {
				return secretJSON(t, map[string]any{"bootstrap.servers": boot, "security.protocol": "SASL_PLAINTEXT",
					"sasl.mechanism": "PLAIN", "sasl.username": kafkaUser, "sasl.password": pw})
			}
			srv := secretstest.NewServer(t, map[string]string{secretID: secretWith("stale-password-77")})
			l := newLoader(t, srv, secretID)

			cfg, err := l.KafkaConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = produceOne(t, cfg)
			took := time.Since(start)
			var kerr kafka.Error
			if !librdkafka.IsAuthFailure(err) || !errors.As(err, &kerr) || kerr.Code() != tt.wantCode {
				t.Fatalf("error = %v; want an authentication failure with code %v", err, tt.wantCode)
			}
			// Prompt means before message.timeout.ms, when a producer that
			// missed the refusal would report only a delivery timeout (a
			// code the check above refuses too); not a speed check, which a
			// loaded machine could fail.
			if took >= e2eTimeout {
				t.Fatalf("the authentication error took %v, as long as message.timeout.ms", took)
			}
			t.Logf("authentication failure surfaced in %v: %v", took, err)
			if strings.Contains(err.Error(), "stale-password-77") {
				t.Fatal("librdkafka's error holds the password")
			}

			srv.PutString(secretID, secretWith(kafkaPass)) // the operator rotates
			if cfg, _ := l.KafkaConfig(context.Background()); cfg["sasl.password"] != "stale-password-77" {
				t.Fatal("the cached secret changed before Invalidate")
			}
			l.Invalidate() // what the producer does when IsAuthFailure
			cfg, err = l.KafkaConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := produceOne(t, cfg); err != nil {
				t.Fatalf("after rotation and Invalidate: %v", err)
			}
			if n := srv.Calls(gsv); n != 2 {
				t.Fatalf("%d GetSecretValue calls; want 2", n)
			}
		})
	}
}
