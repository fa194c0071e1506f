package tlsconf

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
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardsec/ward/internal/filestamp"
	"github.com/wardsec/ward/internal/regfile"
)

// KeyPair is a certificate and key read from files, reloaded when the
// files change. It is safe for concurrent use.
type KeyPair struct {
	certFile, keyFile string

	cert atomic.Pointer[tls.Certificate]

	mu      sync.Mutex // serializes reloads
	checked atomic.Int64
	// The files' stamps (device, inode, change time, size and
	// modification time): modification time and size alone missed a
	// certificate or key replaced by another of the same size and
	// modification time (`cp -p`, a rename of a prepared file).
	certStamp filestamp.Stamp
	keyStamp  filestamp.Stamp
	lastErr   error
}

// LoadKeyPair reads a PEM certificate chain and key. It fails when they
// do not load or do not match.
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	k := &KeyPair{certFile: certFile, keyFile: keyFile}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload reads the files again. On error the previous certificate stays in
// use and the error is returned.
func (k *KeyPair) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs, err1 := filestamp.Of(k.certFile)
	ks, err2 := filestamp.Of(k.keyFile)
	if err1 != nil || err2 != nil {
		k.lastErr = fmt.Errorf("tlsconf: %w", firstErr(err1, err2))
		return k.lastErr
	}
	cert, err := loadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		k.lastErr = fmt.Errorf("tlsconf: %s, %s: %w", k.certFile, k.keyFile, err)
		return k.lastErr
	}
	k.cert.Store(&cert)
	k.certStamp, k.keyStamp, k.lastErr = cs, ks, nil
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Err returns the error of the last reload attempt, or nil.
func (k *KeyPair) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

// Certificate returns the current certificate.
func (k *KeyPair) Certificate() *tls.Certificate {
	k.maybeReload()
	return k.cert.Load()
}

// GetCertificate is a tls.Config.GetCertificate callback.
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.Certificate(), nil
}

// GetClientCertificate is a tls.Config.GetClientCertificate callback.
func (k *KeyPair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return k.Certificate(), nil
}

// maybeReload reloads when the files changed, checking at most once a
// second.
func (k *KeyPair) maybeReload() {
	now := time.Now().UnixNano()
	last := k.checked.Load()
	if now-last < int64(time.Second) || !k.checked.CompareAndSwap(last, now) {
		return
	}
	cs, err1 := filestamp.Of(k.certFile)
	ks, err2 := filestamp.Of(k.keyFile)
	k.mu.Lock()
	changed := err1 == nil && err2 == nil && (cs != k.certStamp || ks != k.keyStamp)
	k.mu.Unlock()
	if changed {
		_ = k.Reload() // keeps the old pair on error; Err reports it
	}
}

// NewSelfSigned returns an ECDSA P-256 certificate for hosts, valid for a
// day, for tests and development, with its PEM encodings.
func NewSelfSigned(hosts ...string) (tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "ward self-signed"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     hosts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, keyPEM, err
}

// loadX509KeyPair is tls.LoadX509KeyPair reading through regfile: the
// files are read again on a change, in the handshake that noticed it, so
// a named pipe or /dev/zero in their place would hang every handshake
// (the reload holds mu) or exhaust memory.
func loadX509KeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := regfile.Read(certFile, 0)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := regfile.Read(keyFile, 0)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}
