package franz

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientConfig is a config func's properties translated for kgo: the
// client's options and what the Producer itself enforces.
type clientConfig struct {
	opts []kgo.Opt
	// maxMessage is the largest record (key, value, headers and the
	// record's framing) Produce accepts: message.max.bytes.
	maxMessage int
	// maxQueued is how many records may wait for their acknowledgement at
	// once before Produce waits: queue.buffering.max.messages.
	maxQueued int
	// acked: the brokers acknowledge writes (acks is not 0).
	acked bool
	// idempotent: the client is an idempotent producer, which needs a
	// producer id before it writes (enable.idempotence, the default).
	idempotent bool
	// debug: franz-go's debug lines (one per request) go to the logger
	// too, as librdkafka's "debug" property turns its own on.
	debug bool
	// sasl is the SASL mechanism, nil without SASL; the generation wraps
	// it to see logins that do not finish.
	sasl sasl.Mechanism
}

// Defaults, where librdkafka's differ from kgo's (see NewProducer).
const (
	defaultMaxMessage = 1_000_000 // librdkafka's message.max.bytes
	defaultMaxQueued  = 100_000   // librdkafka's queue.buffering.max.messages
	recordOverhead    = 61 + 21   // a batch header and one record's framing, at most
)

// unsupportedError names a property the Producer cannot translate.
type unsupportedError struct{ key string }

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("property %q is not supported by the franz-go producer", e.key)
}

// valueError names a property whose value the Producer cannot use; want
// says what it accepts. The value itself is never quoted: it may be a
// secret.
type valueError struct{ key, want string }

func (e *valueError) Error() string {
	return fmt.Sprintf("property %q: invalid value: want %s", e.key, e.want)
}

// ignored are librdkafka properties with no effect on a kgo client, or
// whose effect kgo has on its own (keepalive, Nagle, connection-close
// logging, the confluent-kafka-go channel settings): accepted so that one
// secret serves both producers, and dropped.
var ignored = []string{
	"api.version.request",
	"batch.num.messages",
	"broker.address.family",
	"client.dns.lookup",
	"enable.metrics.push",
	"go.batch.producer",
	"go.delivery.report.fields",
	"go.delivery.reports",
	"go.events.channel.size",
	"go.logs.channel.enable",
	"go.produce.channel.size",
	"log.connection.close",
	"reconnect.backoff.jitter.ms",
	"reconnect.backoff.max.ms",
	"socket.keepalive.enable",
	"socket.nagle.disable",
	"sticky.partitioning.linger.ms",
}

// translate turns librdkafka-style properties (as the secrets package
// maps them from a secret) into kgo options; see NewProducer for the
// table. tokens is the OAUTHBEARER token source, if any.
func translate(conf map[string]any, tokens func(context.Context) (string, time.Time, error)) (*clientConfig, error) {
	c := &clientConfig{maxMessage: defaultMaxMessage, maxQueued: defaultMaxQueued, acked: true, idempotent: true}
	get := func(k string) (string, bool) {
		v, ok := conf[k]
		if !ok || v == nil {
			return "", false
		}
		return strings.TrimSpace(fmt.Sprint(v)), true
	}
	// Aliases: one name each, as the secrets package emits them.
	for alias, name := range map[string]string{
		"metadata.broker.list":               "bootstrap.servers",
		"sasl.mechanisms":                    "sasl.mechanism",
		"request.required.acks":              "acks",
		"queue.buffering.max.ms":             "linger.ms",
		"message.send.max.retries":           "retries",
		"compression.codec":                  "compression.type",
		"message.timeout.ms":                 "delivery.timeout.ms",
		"max.in.flight":                      "max.in.flight.requests.per.connection",
		"topic.metadata.refresh.interval.ms": "metadata.max.age.ms",
	} {
		if v, ok := conf[alias]; ok {
			if w, both := conf[name]; both && fmt.Sprint(v) != fmt.Sprint(w) {
				return nil, &valueError{key: alias, want: fmt.Sprintf("the same value as %q (they are one property)", name)}
			}
			m := make(map[string]any, len(conf))
			for k, v := range conf {
				m[k] = v
			}
			delete(m, alias)
			m[name] = v
			conf = m
		}
	}

	var unknown []string
	for k := range conf {
		if _, ok := handlers[k]; !ok && !slices.Contains(ignored, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		errs := make([]error, len(unknown))
		for i, k := range unknown {
			errs[i] = &unsupportedError{key: k}
		}
		return nil, errors.Join(errs...)
	}

	servers, _ := get("bootstrap.servers")
	var seeds []string
	for s := range strings.SplitSeq(servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, &valueError{key: "bootstrap.servers", want: "one or more host:port, comma-separated"}
	}
	c.opts = append(c.opts, kgo.SeedBrokers(seeds...))

	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h := handlers[k]
		if h == nil {
			continue // ignored, or handled elsewhere
		}
		v, _ := get(k)
		if err := h(c, v); err != nil {
			return nil, err
		}
	}

	if err := c.durability(get); err != nil {
		return nil, err
	}
	if err := c.security(get, tokens); err != nil {
		return nil, err
	}
	return c, nil
}

// handlers translate one property each; bootstrap.servers, acks,
// enable.idempotence and the security properties are translated together
// (durability, security) and have nil here.
var handlers = map[string]func(c *clientConfig, v string) error{
	"bootstrap.servers":                     nil,
	"acks":                                  nil,
	"enable.idempotence":                    nil,
	"security.protocol":                     nil,
	"sasl.mechanism":                        nil,
	"sasl.username":                         nil,
	"sasl.password":                         nil,
	"sasl.oauthbearer.method":               nil,
	"ssl.ca.location":                       nil,
	"ssl.ca.pem":                            nil,
	"ssl.certificate.location":              nil,
	"ssl.certificate.pem":                   nil,
	"ssl.key.location":                      nil,
	"ssl.key.pem":                           nil,
	"ssl.endpoint.identification.algorithm": nil,
	"enable.ssl.certificate.verification":   nil,
	"client.id": func(c *clientConfig, v string) error {
		c.opts = append(c.opts, kgo.ClientID(v))
		return nil
	},
	"linger.ms": millis("linger.ms", 0, func(d time.Duration) kgo.Opt { return kgo.ProducerLinger(d) }),
	"compression.type": func(c *clientConfig, v string) error {
		var codec kgo.CompressionCodec
		switch strings.ToLower(v) {
		case "none":
			codec = kgo.NoCompression()
		case "gzip":
			codec = kgo.GzipCompression()
		case "snappy":
			codec = kgo.SnappyCompression()
		case "lz4":
			codec = kgo.Lz4Compression()
		case "zstd":
			codec = kgo.ZstdCompression()
		default:
			return &valueError{key: "compression.type", want: "none, gzip, snappy, lz4 or zstd"}
		}
		c.opts = append(c.opts, kgo.ProducerBatchCompression(codec))
		return nil
	},
	"message.max.bytes": func(c *clientConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 || n > 1_000_000_000 {
			return &valueError{key: "message.max.bytes", want: "an integer from 1000 to 1000000000"}
		}
		c.maxMessage = n
		c.opts = append(c.opts, kgo.ProducerBatchMaxBytes(int32(n)))
		return nil
	},
	"queue.buffering.max.messages": func(c *clientConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 2_147_483_647 {
			return &valueError{key: "queue.buffering.max.messages", want: "a positive integer"}
		}
		c.maxQueued = n
		return nil
	},
	"queue.buffering.max.kbytes": func(c *clientConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 2_147_483_647 {
			return &valueError{key: "queue.buffering.max.kbytes", want: "a positive integer"}
		}
		c.opts = append(c.opts, kgo.MaxBufferedBytes(n*1024))
		return nil
	},
	"request.timeout.ms": millis("request.timeout.ms", 1, func(d time.Duration) kgo.Opt { return kgo.ProduceRequestTimeout(d) }),
	// The transactional clients' (exactly-once mode); without it, see
	// Producer.txnTimeout.
	"transaction.timeout.ms": millis("transaction.timeout.ms", 1, func(d time.Duration) kgo.Opt { return kgo.TransactionTimeout(d) }),
	"delivery.timeout.ms": millis("delivery.timeout.ms", 0, func(d time.Duration) kgo.Opt {
		return kgo.RecordDeliveryTimeout(d) // 0: no limit, as in librdkafka
	}),
	"retries": func(c *clientConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &valueError{key: "retries", want: "a non-negative integer"}
		}
		c.opts = append(c.opts, kgo.RecordRetries(n))
		return nil
	},
	"max.in.flight.requests.per.connection": func(c *clientConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &valueError{key: "max.in.flight.requests.per.connection", want: "a positive integer"}
		}
		c.opts = append(c.opts, kgo.MaxProduceRequestsInflightPerBroker(n))
		return nil
	},
	"connections.max.idle.ms": millis("connections.max.idle.ms", 0, func(d time.Duration) kgo.Opt {
		if d == 0 {
			d = 365 * 24 * time.Hour // librdkafka: 0 disables the idle close
		}
		return kgo.ConnIdleTimeout(d)
	}),
	"socket.connection.setup.timeout.ms": millis("socket.connection.setup.timeout.ms", 1, func(d time.Duration) kgo.Opt { return kgo.DialTimeout(d) }),
	"metadata.max.age.ms":                millis("metadata.max.age.ms", 1, func(d time.Duration) kgo.Opt { return kgo.MetadataMaxAge(d) }),
	"reconnect.backoff.ms": millis("reconnect.backoff.ms", 0, func(d time.Duration) kgo.Opt {
		return kgo.RetryBackoffFn(func(tries int) time.Duration {
			b := d << min(tries, 5)
			return min(b, time.Second)
		})
	}),
	"retry.backoff.ms": nil, // kgo backs off on its own schedule (reconnect.backoff.ms sets it)
	"allow.auto.create.topics": func(c *clientConfig, v string) error {
		b, err := parseBool("allow.auto.create.topics", v)
		if err != nil {
			return err
		}
		if b {
			c.opts = append(c.opts, kgo.AllowAutoTopicCreation())
		}
		return nil
	},
	"partitioner": func(c *clientConfig, v string) error {
		// The Producer always partitions as Java clients do (murmur2 of
		// the key); librdkafka's murmur2_random is that, and "murmur2"
		// too for keyed records. Others would place keys elsewhere.
		switch v {
		case "murmur2_random", "murmur2":
			return nil
		}
		return &valueError{key: "partitioner", want: "murmur2_random or murmur2 (the Java clients' partitioning)"}
	},
	"statistics.interval.ms": func(c *clientConfig, v string) error {
		if v != "0" {
			return &valueError{key: "statistics.interval.ms", want: "0 (the franz-go producer emits no statistics)"}
		}
		return nil
	},
	"debug": func(c *clientConfig, v string) error {
		c.debug = v != ""
		return nil
	},
}

// millis makes a handler for a duration property in milliseconds, at
// least lo.
func millis(key string, lo int, opt func(time.Duration) kgo.Opt) func(*clientConfig, string) error {
	return func(c *clientConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo {
			return &valueError{key: key, want: fmt.Sprintf("an integer number of milliseconds, at least %d", lo)}
		}
		c.opts = append(c.opts, opt(time.Duration(n)*time.Millisecond))
		return nil
	}
}

func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, &valueError{key: key, want: "true or false"}
}

// durability translates acks and enable.idempotence: acks=all with
// idempotence by default; with idempotence on, acks must be all, as
// librdkafka requires.
func (c *clientConfig) durability(get func(string) (string, bool)) error {
	idem := true
	if v, ok := get("enable.idempotence"); ok {
		var err error
		if idem, err = parseBool("enable.idempotence", v); err != nil {
			return err
		}
	}
	acks := kgo.AllISRAcks()
	if v, ok := get("acks"); ok {
		switch strings.ToLower(v) {
		case "all", "-1":
		case "1":
			acks = kgo.LeaderAck()
		case "0":
			acks, c.acked = kgo.NoAck(), false
		default:
			return &valueError{key: "acks", want: "all, -1, 1 or 0"}
		}
		if l := strings.ToLower(v); idem && l != "all" && l != "-1" {
			return &valueError{key: "acks", want: "all (or -1) with enable.idempotence true"}
		}
	}
	c.opts = append(c.opts, kgo.RequiredAcks(acks))
	if !idem {
		c.opts, c.idempotent = append(c.opts, kgo.DisableIdempotentWrite()), false
	}
	return nil
}

// security translates security.protocol, the SASL and the TLS properties.
func (c *clientConfig) security(get func(string) (string, bool), tokens func(context.Context) (string, time.Time, error)) error {
	proto, _ := get("security.protocol")
	proto = strings.ToUpper(proto)
	var useTLS, useSASL bool
	switch proto {
	case "", "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return &valueError{key: "security.protocol", want: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"}
	}
	if useSASL {
		mech, err := c.mechanism(get, tokens)
		if err != nil {
			return err
		}
		c.sasl = mech
	}
	if !useTLS {
		for _, k := range []string{"ssl.ca.location", "ssl.ca.pem", "ssl.certificate.location", "ssl.certificate.pem",
			"ssl.key.location", "ssl.key.pem"} {
			if v, ok := get(k); ok && v != "" {
				return &valueError{key: k, want: "security.protocol SSL or SASL_SSL for it to be used"}
			}
		}
		return nil
	}
	tc, err := tlsConfig(get)
	if err != nil {
		return err
	}
	c.opts = append(c.opts, kgo.DialTLSConfig(tc))
	return nil
}

// mechanism returns the SASL mechanism of sasl.mechanism (PLAIN by
// default, as librdkafka).
func (c *clientConfig) mechanism(get func(string) (string, bool), tokens func(context.Context) (string, time.Time, error)) (sasl.Mechanism, error) {
	user, _ := get("sasl.username")
	pass, _ := get("sasl.password")
	mech, _ := get("sasl.mechanism")
	switch strings.ToUpper(mech) {
	case "", "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	case "OAUTHBEARER":
		if m, ok := get("sasl.oauthbearer.method"); ok && !strings.EqualFold(m, "default") {
			return nil, &valueError{key: "sasl.oauthbearer.method", want: "default (tokens come from WithOAuthBearerTokens)"}
		}
		if tokens == nil {
			return nil, &valueError{key: "sasl.mechanism", want: "a token source (WithOAuthBearerTokens) for OAUTHBEARER"}
		}
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			tok, _, err := tokens(ctx)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("OAUTHBEARER token: %w", err)
			}
			return oauth.Auth{Token: tok}, nil
		}), nil
	}
	return nil, &valueError{key: "sasl.mechanism", want: "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"}
}

// tlsConfig builds the TLS settings: the CA (ssl.ca.pem or the file
// ssl.ca.location; the system's roots otherwise), a client certificate
// (ssl.certificate.pem/.location with ssl.key.pem/.location), and
// verification (enable.ssl.certificate.verification, on by default;
// ssl.endpoint.identification.algorithm https, the default, or none, which
// verifies the chain but not the host name). kgo sets the server name per
// broker.
func tlsConfig(get func(string) (string, bool)) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	read := func(pemKey, fileKey string) ([]byte, error) {
		if v, ok := get(pemKey); ok && v != "" {
			return []byte(v), nil
		}
		if path, ok := get(fileKey); ok && path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				// The path is configuration, not a secret; the error names it.
				return nil, fmt.Errorf("property %q: %w", fileKey, err)
			}
			return b, nil
		}
		return nil, nil
	}
	ca, err := read("ssl.ca.pem", "ssl.ca.location")
	if err != nil {
		return nil, err
	}
	if ca != nil {
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(ca) {
			return nil, &valueError{key: "ssl.ca.pem or ssl.ca.location", want: "PEM certificates"}
		}
	}
	cert, err := read("ssl.certificate.pem", "ssl.certificate.location")
	if err != nil {
		return nil, err
	}
	key, err := read("ssl.key.pem", "ssl.key.location")
	if err != nil {
		return nil, err
	}
	switch {
	case cert != nil && key != nil:
		if b, _ := pem.Decode(key); b != nil && x509.IsEncryptedPEMBlock(b) { //nolint:staticcheck // detection only
			return nil, &valueError{key: "ssl.key.pem or ssl.key.location", want: "an unencrypted key (ssl.key.password is not supported)"}
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			// X509KeyPair's errors do not quote the key.
			return nil, &valueError{key: "ssl.certificate.* and ssl.key.*", want: "a PEM certificate and its PEM private key"}
		}
		tc.Certificates = []tls.Certificate{pair}
	case cert != nil || key != nil:
		return nil, &valueError{key: "ssl.certificate.* and ssl.key.*", want: "both, or neither"}
	}
	verify := true
	if v, ok := get("enable.ssl.certificate.verification"); ok {
		if verify, err = parseBool("enable.ssl.certificate.verification", v); err != nil {
			return nil, err
		}
	}
	hostname := true
	if v, ok := get("ssl.endpoint.identification.algorithm"); ok {
		switch strings.ToLower(v) {
		case "https":
		case "none", "":
			hostname = false
		default:
			return nil, &valueError{key: "ssl.endpoint.identification.algorithm", want: "https or none"}
		}
	}
	switch {
	case !verify:
		tc.InsecureSkipVerify = true
	case !hostname:
		// Verify the chain against the roots, not the name.
		roots := tc.RootCAs
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}
