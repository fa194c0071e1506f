package spiffeauth

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/wardsec/ward/guard/tlsconf"
)

// verify returns a VerifyConnection callback that verifies the peer's SVID
// against bundle and authorizes its ID, on every handshake including
// resumed ones. A server's (mark) records the verified leaf for Handler
// and PeerID.
func verify(bundle x509bundle.Source, authorize Authorizer, mark bool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("spiffeauth: peer presented no certificate")
		}
		// The parsed certificates crypto/tls holds, verified as they are
		// (x509svid.ParseAndVerify of their Raw would parse them again),
		// against the bundle of the leaf's trust domain taken once, so
		// that the mark names the bundle that verified them.
		leafID, err := x509svid.IDFromCert(cs.PeerCertificates[0])
		if err != nil {
			return fmt.Errorf("spiffeauth: %w", err)
		}
		b, err := bundle.GetX509BundleForTrustDomain(leafID.TrustDomain())
		if err != nil {
			return fmt.Errorf("spiffeauth: %w", err)
		}
		id, chains, err := x509svid.Verify(cs.PeerCertificates, b)
		if err != nil {
			return fmt.Errorf("spiffeauth: %w", err)
		}
		if err := authorize(id); err != nil {
			return err
		}
		if mark {
			markVerified(cs.PeerCertificates[0], &handshake{id: id, ok: true, source: bundle, bundle: b, expires: chainExpiry(chains)})
		}
		return nil
	}
}

// ServerConfig returns a TLS server configuration of profile p that
// presents the SVID of svid, requires a client SVID that bundle verifies,
// and admits only the IDs authorize accepts, on resumed sessions too.
// Handler and PeerID identify the peers it verified. Its VerifyConnection
// is what verifies: a copy of the configuration that replaces it leaves
// peers unidentified.
func ServerConfig(p tlsconf.Profile, svid x509svid.Source, bundle x509bundle.Source, authorize Authorizer) *tls.Config {
	c := tlsconf.Server(p, tlsconfig.GetCertificate(svid))
	// Any certificate is requested; VerifyConnection verifies it against
	// the SPIFFE bundle (the chain has no hostname to check).
	c.ClientAuth = tls.RequireAnyClientCert
	c.VerifyConnection = verify(bundle, authorize, true)
	return c
}

// ClientConfig returns a TLS client configuration of profile p that
// presents the SVID of svid and accepts only servers whose SVID bundle
// verifies and whose ID authorize accepts.
func ClientConfig(p tlsconf.Profile, svid x509svid.Source, bundle x509bundle.Source, authorize Authorizer) *tls.Config {
	c := tlsconf.Client(p)
	c.GetClientCertificate = tlsconfig.GetClientCertificate(svid)
	// SPIFFE verification in VerifyConnection replaces Go's hostname-based
	// verification, which cannot check a SPIFFE ID.
	c.InsecureSkipVerify = true // #nosec G402 -- the peer's SVID is verified and authorized in VerifyConnection
	c.VerifyConnection = verify(bundle, authorize, false)
	return c
}
