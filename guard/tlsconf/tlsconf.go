package tlsconf

import (
	"crypto/tls"
	"fmt"
)

// Profile is a Mozilla server-side TLS profile.
type Profile int

// Profiles. The zero value is Intermediate.
const (
	Intermediate Profile = iota
	Modern
)

func (p Profile) String() string {
	switch p {
	case Intermediate:
		return "intermediate"
	case Modern:
		return "modern"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// ParseProfile parses "intermediate" or "modern"; "" is Intermediate.
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "", "intermediate":
		return Intermediate, nil
	case "modern":
		return Modern, nil
	}
	return 0, fmt.Errorf("tlsconf: unknown TLS profile %q (want intermediate or modern)", s)
}

// intermediateSuites are the TLS 1.2 suites of the intermediate profile
// (TLS 1.3 suites are not configurable in Go and are all AEAD).
var intermediateSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

var curves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

// CipherSuites returns the TLS 1.2 suites p allows (none for Modern).
func (p Profile) CipherSuites() []uint16 {
	if p == Modern {
		return nil
	}
	return append([]uint16(nil), intermediateSuites...)
}

// MinVersion returns the lowest TLS version p allows.
func (p Profile) MinVersion() uint16 {
	if p == Modern {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// HSTS returns the Strict-Transport-Security value of the profile (both
// profiles: two years).
func (p Profile) HSTS() string { return "max-age=63072000" }

func (p Profile) base() *tls.Config {
	return &tls.Config{
		MinVersion:       p.MinVersion(),
		MaxVersion:       tls.VersionTLS13,
		CipherSuites:     p.CipherSuites(),
		CurvePreferences: append([]tls.CurveID(nil), curves...),
	}
}

// Server returns a server configuration for p that serves the certificate
// getCert returns (KeyPair.GetCertificate, say). The caller may set
// ClientAuth and VerifyConnection; it must not lower the versions or
// suites.
func Server(p Profile, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	c := p.base()
	c.GetCertificate = getCert
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}

// Client returns a client configuration for p; RootCAs nil means the
// system's roots.
func Client(p Profile) *tls.Config {
	return p.base()
}
