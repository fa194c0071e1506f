package authz_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/wardsec/ward/guard"
	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/guard/tlsconf"
)

// TestHandlerSPIFFEUnverifiedPeer: a service that writes its own
// tls.Config asking for a client certificate without verifying it
// (ClientAuth RequestClientCert, or RequireAnyClientCert without
// VerifyConnection) and puts spiffeauth's Handler and an ALLOW of one
// principal in front of its handlers. spiffeauth took the ID of any
// certificate, so a self-signed one from another CA claiming
// spiffe://example.org/ns/prod/sa/admin was authorized as that workload.
// Handler now identifies only peers that ServerConfig verified; a
// Verifier verifies the chain against the bundle itself.
func TestHandlerSPIFFEUnverifiedPeer(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admin-only, namespace: shop}
spec:
  rules:
  - from:
    - source: {principals: ["example.org/ns/prod/sa/admin"]}
`)
	td := spiffeid.RequireTrustDomainFromString("example.org")
	adminID := spiffeid.RequireFromPath(td, "/ns/prod/sa/admin")
	issue := func(ca *spiffeauth.DevCA, id spiffeid.ID) *x509svid.SVID {
		s, err := ca.Issue(id, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ca, err := spiffeauth.NewDevCA(td, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := spiffeauth.NewDevCA(td, time.Hour) // the attacker's own CA, same trust domain name
	if err != nil {
		t.Fatal(err)
	}
	server := issue(ca, spiffeid.RequireFromPath(td, "/ns/shop/sa/api"))
	admin, forged := issue(ca, adminID), issue(rogue, adminID)
	enrich := func(r *http.Request, q *authz.Request) {
		if id, ok := spiffeauth.FromContext(r.Context()); ok {
			q.SourcePrincipal = strings.TrimPrefix(id.String(), "spiffe://")
		}
	}
	authzMW := func(next http.Handler) http.Handler { return e.Handler(enrich, next) }
	verifier := spiffeauth.NewVerifier(ca.Bundle())
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/", log.handler("admin"))

	for _, clientAuth := range []tls.ClientAuthType{tls.RequestClientCert, tls.RequireAnyClientCert} {
		for _, tc := range []struct {
			name string
			id   func(http.Handler) http.Handler
			peer *x509svid.SVID
			code int
		}{
			{"Handler, forged", spiffeauth.Handler, forged, http.StatusForbidden},
			// No ServerConfig verified it: Handler cannot tell it from
			// the forged one.
			{"Handler, genuine", spiffeauth.Handler, admin, http.StatusForbidden},
			{"Verifier, forged", verifier.Handler, forged, http.StatusForbidden},
			{"Verifier, genuine", verifier.Handler, admin, http.StatusOK},
		} {
			srv := httptest.NewUnstartedServer(guard.Chain(tc.id, authzMW)(sm))
			cfg := tlsconf.Server(tlsconf.Intermediate, tlsconfig.GetCertificate(server))
			cfg.ClientAuth = clientAuth
			srv.Listener = tls.NewListener(srv.Listener, cfg)
			srv.Start()
			client := &tls.Config{
				InsecureSkipVerify:   true, // #nosec G402 -- the attacker does not care who the server is
				GetClientCertificate: tlsconfig.GetClientCertificate(tc.peer),
			}
			c, err := tls.Dial("tcp", srv.Listener.Addr().String(), client)
			if err != nil {
				srv.Close()
				t.Fatal(err)
			}
			code := sendRawConn(t, c, "GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
			srv.Close()
			ran := log.take()
			if code != tc.code || (len(ran) > 0) != (tc.code == http.StatusOK) {
				t.Errorf("%v, %s: got %d, handlers %q; want %d", clientAuth, tc.name, code, ran, tc.code)
			}
		}
	}
}
