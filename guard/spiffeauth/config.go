package spiffeauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/wardsec/ward/guard/tlsconf"
	"github.com/wardsec/ward/internal/reqstate"
)

// verify returns a VerifyConnection callback that verifies the peer's SVID
// against bundle and authorizes its ID, on every handshake including
// resumed ones.
func verify(bundle x509bundle.Source, authorize Authorizer) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("spiffeauth: peer presented no certificate")
		}
		raw := make([][]byte, len(cs.PeerCertificates))
		for i, c := range cs.PeerCertificates {
			raw[i] = c.Raw
		}
		id, _, err := x509svid.ParseAndVerify(raw, bundle)
		if err != nil {
			return fmt.Errorf("spiffeauth: %w", err)
		}
		return authorize(id)
	}
}

// ServerConfig returns a TLS server configuration of profile p that
// presents the SVID of svid, requires a client SVID that bundle verifies,
// and admits only the IDs authorize accepts, on resumed sessions too.
func ServerConfig(p tlsconf.Profile, svid x509svid.Source, bundle x509bundle.Source, authorize Authorizer) *tls.Config {
	c := tlsconf.Server(p, tlsconfig.GetCertificate(svid))
	// Any certificate is requested; VerifyConnection verifies it against
	// the SPIFFE bundle (the chain has no hostname to check).
	c.ClientAuth = tls.RequireAnyClientCert
	c.VerifyConnection = verify(bundle, authorize)
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
	c.VerifyConnection = verify(bundle, authorize)
	return c
}

// PeerID returns the SPIFFE ID of the TLS peer of r. It is only as
// trustworthy as the server's configuration: use ServerConfig, which
// verifies the chain on every handshake.
func PeerID(r *http.Request) (spiffeid.ID, bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, false
	}
	return idOf(r.TLS.PeerCertificates[0])
}

func idOf(c *x509.Certificate) (spiffeid.ID, bool) {
	id, err := x509svid.IDFromCert(c)
	return id, err == nil
}

type ctxKey struct{}

// FromContext returns the peer ID Handler stored.
func FromContext(ctx context.Context) (spiffeid.ID, bool) {
	id, ok := ctx.Value(ctxKey{}).(spiffeid.ID)
	return id, ok
}

// Handler stores the peer's SPIFFE ID in the request context for next
// (FromContext), on a copy of the request, or in place in the request
// state of its context (reqstate.Context, the audit log's) when it has
// one. Requests without one pass unchanged: enforcement is the TLS
// configuration's job.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := PeerID(r); ok && !reqstate.Set(r.Context(), ctxKey{}, id) {
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		}
		next.ServeHTTP(w, r)
	})
}
