package spiffeauth_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/guard/tlsconf"
)

func ExampleAllowPatterns() {
	authorize := spiffeauth.AllowPatterns(
		spiffeauth.MustParsePattern("spiffe://example.org/ns/shop/**"),
		spiffeauth.MustParsePattern("spiffe://example.org/ns/*/sa/prometheus"),
	)
	for _, id := range []string{
		"spiffe://example.org/ns/shop/sa/web",
		"spiffe://example.org/ns/monitoring/sa/prometheus",
		"spiffe://example.org/ns/other/sa/web",
	} {
		fmt.Println(id, authorize(spiffeid.RequireFromString(id)) == nil)
	}
	// Output:
	// spiffe://example.org/ns/shop/sa/web true
	// spiffe://example.org/ns/monitoring/sa/prometheus true
	// spiffe://example.org/ns/other/sa/web false
}

// A server whose tls.Config is not ServerConfig's (here one that asks
// for a client certificate without verifying it) identifies its peers
// with a Verifier: only a chain that the bundle verifies gives an ID.
func ExampleVerifier() {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca, _ := spiffeauth.NewDevCA(td, time.Hour)
	rogue, _ := spiffeauth.NewDevCA(td, time.Hour) // not in the bundle
	server, _ := ca.Issue(spiffeid.RequireFromPath(td, "/ns/shop/sa/api"), time.Hour)

	v := spiffeauth.NewVerifier(ca.Bundle())
	srv := httptest.NewUnstartedServer(v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := spiffeauth.FromContext(r.Context()); ok {
			fmt.Fprintln(w, "peer", id)
			return
		}
		fmt.Fprintln(w, "no verified peer")
	})))
	cfg := tlsconf.Server(tlsconf.Intermediate, tlsconfig.GetCertificate(server))
	cfg.ClientAuth = tls.RequestClientCert
	srv.Listener = tls.NewListener(srv.Listener, cfg)
	srv.Start()
	defer srv.Close()

	id := spiffeid.RequireFromPath(td, "/ns/shop/sa/web")
	for _, issuer := range []*spiffeauth.DevCA{ca, rogue} {
		svid, _ := issuer.Issue(id, time.Hour)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: spiffeauth.ClientConfig(tlsconf.Intermediate, svid, ca.Bundle(), spiffeauth.AllowPatterns(spiffeauth.MustParsePattern("spiffe://example.org/**")))}}
		resp, err := client.Get("https://" + srv.Listener.Addr().String())
		if err != nil {
			fmt.Println(err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Print(string(b))
	}
	// Output:
	// peer spiffe://example.org/ns/shop/sa/web
	// no verified peer
}
