package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/secrets"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// cluster is where a run happens: brokers and a registry, reached with the
// settings of one secret, the same secret the function reads.
type cluster struct {
	secret      string   // the secret's JSON
	brokers     []string // bootstrap servers
	kopts       []kgo.Opt
	registry    serde.Registry
	registryURL string
	embedded    bool
	close       func()
}

// embeddedCluster starts a broker and a registry in process, both requiring
// credentials as a deployed cluster would: SASL/PLAIN on the broker (the
// event source mapping's BASIC_AUTH) and basic auth on the registry. The
// topics are created as on any other cluster, by connect.
func embeddedCluster(ctx context.Context, partitions int32) (*cluster, error) {
	pass, regPass := randomToken(), randomToken()
	kc, err := kafkalambdatest.StartCluster(ctx,
		kafkalambdatest.WithSASLPlain("tradesettle", pass),
		kafkalambdatest.WithRegistryAuth("tradesettle-sr", regPass))
	if err != nil {
		return nil, fmt.Errorf("pipeline: embedded cluster: %w", err)
	}
	// The shape of the deployed secret (see the README), with the broker
	// over plain TCP: the embedded broker has no TLS.
	secret, err := json.Marshal(map[string]string{
		"bootstrap.servers":    kc.BootstrapServers(),
		"security.protocol":    "SASL_PLAINTEXT",
		"username":             "tradesettle",
		"password":             pass,
		"schema.registry.url":  kc.RegistryURL(),
		"basic.auth.user.info": "tradesettle-sr:" + regPass,
	})
	if err != nil {
		kc.Close()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	c, err := connect(ctx, string(secret), partitions)
	if err != nil {
		kc.Close()
		return nil, err
	}
	c.embedded = true
	c.close = kc.Close
	return c, nil
}

// connect reads secret (JSON shaped like the function's secret) with the
// secrets package, as the function does, and makes sure the topics exist
// (see ensureTopics), creating them with partitions partitions if they are
// missing.
func connect(ctx context.Context, secret string, partitions int32) (*cluster, error) {
	const name = "TRADESETTLE_LOCAL_SECRET"
	l, err := secrets.New(secrets.WithEnv(name), secrets.WithLookupEnv(func(k string) (string, bool) {
		if k == name {
			return secret, true
		}
		return os.LookupEnv(k)
	}))
	if err != nil {
		return nil, fmt.Errorf("pipeline: secret: %w", err)
	}
	cm, err := l.KafkaConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipeline: secret: %w", err)
	}
	reg, err := l.Registry(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipeline: secret: %w", err)
	}
	brokers, kopts, err := kgoOptions(cm)
	if err != nil {
		return nil, err
	}
	c := &cluster{secret: secret, brokers: brokers, kopts: kopts, registry: app.NewRegistry(reg), registryURL: reg.URL, close: func() {}}
	if err := c.ensureTopics(ctx, partitions); err != nil {
		return nil, err
	}
	return c, nil
}

// ensureTopics creates user_trades, trade-settlements, DeadLetterTopic and
// OnFailureTopic if they are missing.
func (c *cluster) ensureTopics(ctx context.Context, partitions int32) error {
	cl, err := kgo.NewClient(c.kopts...)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, app.InputTopic, app.OutputTopic, DeadLetterTopic, OnFailureTopic)
	if err != nil {
		return fmt.Errorf("pipeline: create topics on %s: %w", strings.Join(c.brokers, ","), err)
	}
	for _, r := range resp {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("pipeline: create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// kgoOptions turns the librdkafka settings the secrets package maps from a
// secret into franz-go options: seed brokers, TLS and SASL (PLAIN,
// SCRAM-SHA-256/512).
func kgoOptions(cm map[string]any) ([]string, []kgo.Opt, error) {
	get := func(k string) string {
		if v, ok := cm[k]; ok {
			return fmt.Sprint(v)
		}
		return ""
	}
	brokers := strings.Split(get("bootstrap.servers"), ",")
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	proto := strings.ToUpper(get("security.protocol"))
	switch proto {
	case "", "PLAINTEXT", "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		pem := []byte(get("ssl.ca.pem"))
		if path := get("ssl.ca.location"); path != "" && len(pem) == 0 {
			var err error
			if pem, err = os.ReadFile(path); err != nil {
				return nil, nil, fmt.Errorf("pipeline: ssl.ca.location: %w", err)
			}
		}
		if len(pem) > 0 {
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, nil, errors.New("pipeline: no certificate in the secret's CA")
			}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	default:
		return nil, nil, fmt.Errorf("pipeline: security.protocol %q is not supported here", proto)
	}
	if strings.HasPrefix(proto, "SASL_") {
		user, pass := get("sasl.username"), get("sasl.password")
		switch mech := strings.ToUpper(get("sasl.mechanism")); mech {
		case "", "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		default:
			return nil, nil, fmt.Errorf("pipeline: sasl.mechanism %q is not supported by the local pipeline", mech)
		}
	}
	return brokers, opts, nil
}

func randomToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
