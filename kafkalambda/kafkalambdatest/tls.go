package kafkalambdatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// WithTLS makes the broker accept only TLS connections, with a certificate
// for 127.0.0.1 and localhost signed by a CA made for this cluster.
// [Cluster.ClientOptions] then dial TLS trusting that CA, and
// [Cluster.CACertPEM] returns it for other clients (librdkafka's
// ssl.ca.location, a command's CA file flag).
func WithTLS() ClusterOption {
	return func(c *clusterConfig) { c.tls = true }
}

// CACertPEM returns the PEM of the CA that signed the broker's certificate
// with WithTLS, or nil without it.
func (c *Cluster) CACertPEM() []byte { return append([]byte(nil), c.caPEM...) }

// selfSigned makes a CA and a server certificate it signs for 127.0.0.1 and
// localhost. It returns the server's TLS config, a client config trusting
// the CA, and the CA's PEM.
func selfSigned() (server, client *tls.Config, caPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kafkalambdatest: tls: %w", err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafkalambdatest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kafkalambdatest: tls: CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kafkalambdatest: tls: CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kafkalambdatest: tls: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kafkalambdatest: tls: certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}},
	}
	client = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return server, client, caPEM, nil
}
