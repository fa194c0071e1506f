package tlsconf

import (
	"crypto/tls"
	"testing"

	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/internal/tlsscan"
)

// serveTLS accepts connections with cfg until the test ends.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestScan checks the profiles with an independent scanner, sslscan from
// Debian: no SSL, TLS 1.0 or 1.1, only AEAD suites, TLS 1.3 only for
// Modern, no insecure renegotiation. A deliberately weak server scanned
// the same way must be flagged, so the check cannot pass vacuously.
func TestScan(t *testing.T) {
	testenv.RequireCommand(t, "sslscan")
	cert, _, _, err := NewSelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	for _, tt := range []struct {
		name    string
		profile Profile
	}{{"intermediate", Intermediate}, {"modern", Modern}} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tlsscan.Scan(serveTLS(t, Server(tt.profile, get)))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Problems(tt.profile == Modern) {
				t.Error(p)
			}
		})
	}
	t.Run("weak server is flagged", func(t *testing.T) {
		weak := &tls.Config{
			MinVersion:   tls.VersionTLS10, // #nosec G402 -- the negative control: deliberately weak
			Certificates: []tls.Certificate{cert},
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		}
		r, err := tlsscan.Scan(serveTLS(t, weak))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Weak() || len(r.Problems(false)) == 0 {
			t.Errorf("sslscan did not flag the weak server (%+v): the checks above would prove nothing", r)
		}
	})
}
