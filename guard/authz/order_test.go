package authz_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardsec/ward/guard"
	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/guard/clientip"
	"github.com/wardsec/ward/guard/jwt"
	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/guard/tlsconf"
)

// TestHandlerJWTAfterAuthz: with jwt's Handler placed after authz's (an
// order guard.Chain accepts), a contractor's token reached Decide as an
// anonymous request, which the DENY of the contractors group does not
// match, and then passed jwt's check: the admin handler ran. Handler now
// refuses a bearer token that nobody verified before it.
func TestHandlerJWTAfterAuthz(t *testing.T) {
	e, v, token := contractorSetup(t)

	enrich := func(r *http.Request, q *authz.Request) {
		if c, ok := jwt.FromContext(r.Context()); ok {
			q.RequestPrincipal, q.Claims = c.RequestPrincipal(), c.SharedMap()
		}
	}
	jm := jwt.NewMiddleware(v)
	jm.SetRequired(true)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/admin/", log.handler("admin"))
	authzMW := func(next http.Handler) http.Handler { return e.Handler(enrich, next) }

	raw := "GET /admin/users HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer " + token + "\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct {
		name  string
		chain guard.Middleware
		code  int
	}{
		{"jwt first", guard.Chain(jm.Handler, authzMW), http.StatusForbidden},
		{"authz first", guard.Chain(authzMW, jm.Handler), http.StatusInternalServerError},
	} {
		srv := httptest.NewServer(tc.chain(sm))
		code := sendRaw(t, srv.Listener.Addr().String(), raw)
		srv.Close()
		if ran := log.take(); code != tc.code || len(ran) > 0 {
			t.Errorf("%s: got %d, handlers %q; want %d and no handler", tc.name, code, ran, tc.code)
		}
	}
}

// TestHandlerSPIFFEAfterAuthz: with spiffeauth's Handler placed after
// authz's, a peer of the trust domain that a DENY names reached Decide
// without a principal and passed. Handler now refuses a SPIFFE peer that
// nobody identified before it.
func TestHandlerSPIFFEAfterAuthz(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-other-ns, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source: {namespaces: ["other"]}
`)
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca, err := spiffeauth.NewDevCA(td, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(spiffeid.RequireFromPath(td, "/ns/shop/sa/api"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := ca.Issue(spiffeid.RequireFromPath(td, "/ns/other/sa/web"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	anyID := func(spiffeid.ID) error { return nil } // the trust domain is enough to connect
	enrich := func(r *http.Request, q *authz.Request) {
		if id, ok := spiffeauth.FromContext(r.Context()); ok {
			q.SourcePrincipal = strings.TrimPrefix(id.String(), "spiffe://")
		}
	}
	authzMW := func(next http.Handler) http.Handler { return e.Handler(enrich, next) }
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/", log.handler("app"))

	for _, tc := range []struct {
		name  string
		chain guard.Middleware
		code  int
	}{
		{"spiffeauth first", guard.Chain(spiffeauth.Handler, authzMW), http.StatusForbidden},
		{"authz first", guard.Chain(authzMW, spiffeauth.Handler), http.StatusInternalServerError},
	} {
		srv := httptest.NewUnstartedServer(tc.chain(sm))
		srv.Listener = tls.NewListener(srv.Listener, spiffeauth.ServerConfig(tlsconf.Intermediate, server, ca.Bundle(), anyID))
		srv.Start()
		c, err := tls.Dial("tcp", srv.Listener.Addr().String(), spiffeauth.ClientConfig(tlsconf.Intermediate, mallory, ca.Bundle(), anyID))
		if err != nil {
			srv.Close()
			t.Fatal(err)
		}
		code := sendRawConn(t, c, "GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
		srv.Close()
		if ran := log.take(); code != tc.code || len(ran) > 0 {
			t.Errorf("%s: got %d, handlers %q; want %d and no handler", tc.name, code, ran, tc.code)
		}
	}
}

// TestHandlerUnknownClientNotTheProxy: a client behind a trusted proxy
// that writes Forwarded opens a quote that swallows the hop the proxy
// appends, so clientip reports the client unknown (the invalid address).
// Decide replaced it with the peer, the proxy itself, which the
// internal-only remoteIpBlocks allows.
func TestHandlerUnknownClientNotTheProxy(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: internal-only, namespace: shop}
spec:
  rules:
  - from:
    - source: {remoteIpBlocks: ["127.0.0.0/8"]}
`)
	res, err := clientip.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, clientip.WithHeaders(clientip.Forwarded))
	if err != nil {
		t.Fatal(err)
	}
	enrich := func(r *http.Request, q *authz.Request) {
		if a, ok := clientip.FromContext(r.Context()); ok {
			q.RemoteIP = a
		}
	}
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/", log.handler("internal"))
	srv := httptest.NewServer(guard.Chain(res.Handler, func(next http.Handler) http.Handler { return e.Handler(enrich, next) })(sm))
	defer srv.Close()

	for _, tc := range []struct {
		forwarded string // as the trusted proxy (the test client, 127.0.0.1) sends it
		code      int
		ran       string
	}{
		{"for=127.0.0.9", http.StatusOK, "internal"},
		{"for=198.51.100.7", http.StatusForbidden, ""},
		{`for="x, for=198.51.100.7`, http.StatusBadRequest, ""},
		{"for=_hidden, for=unknown", http.StatusBadRequest, ""},
	} {
		raw := "GET /orders HTTP/1.1\r\nHost: shop\r\nForwarded: " + tc.forwarded + "\r\nConnection: close\r\n\r\n"
		code := sendRaw(t, srv.Listener.Addr().String(), raw)
		ran := log.take()
		if code != tc.code || (tc.ran == "") != (len(ran) == 0) || tc.ran != "" && ran[0] != tc.ran {
			t.Errorf("Forwarded %q: got %d, handlers %q; want %d, handler %q", tc.forwarded, code, ran, tc.code, tc.ran)
		}
	}
}

// TestHandlerClaimsNotCopied: an enrich function that copies the
// token's principal but not its claims (q.RequestPrincipal =
// c.RequestPrincipal() alone) had a contractor's request decided with no
// groups claim: the DENY of the contractors group matched nothing and
// the admin handler ran. Handler now answers 500, as for a token nobody
// verified.
func TestHandlerClaimsNotCopied(t *testing.T) {
	e, v, token := contractorSetup(t)
	jm := jwt.NewMiddleware(v)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/admin/", log.handler("admin"))
	raw := "GET /admin/users HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer " + token + "\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct {
		name   string
		enrich func(*http.Request, *authz.Request)
		code   int
	}{
		{"claims copied", func(r *http.Request, q *authz.Request) {
			if c, ok := jwt.FromContext(r.Context()); ok {
				q.RequestPrincipal, q.Claims = c.RequestPrincipal(), c.SharedMap()
			}
		}, http.StatusForbidden},
		{"principal alone", func(r *http.Request, q *authz.Request) {
			if c, ok := jwt.FromContext(r.Context()); ok {
				q.RequestPrincipal = c.RequestPrincipal()
			}
		}, http.StatusInternalServerError},
	} {
		authzMW := func(next http.Handler) http.Handler { return e.Handler(tc.enrich, next) }
		srv := httptest.NewServer(guard.Chain(jm.Handler, authzMW)(sm))
		code := sendRaw(t, srv.Listener.Addr().String(), raw)
		srv.Close()
		if ran := log.take(); code != tc.code || len(ran) != 0 {
			t.Errorf("%s: got %d, handlers %q; want %d and no handler", tc.name, code, ran, tc.code)
		}
	}
}

// TestHandlerClientIPWithoutEnrich: clientip's Handler before authz's,
// with no enrich (or one that copies only identities): ipallow's Filter
// reads the address clientip resolved by itself, authz's Handler decided
// remoteIpBlocks on the peer, the trusted proxy, which the internal-only
// ALLOW let in whoever the client was. Handler now reads clientip's
// address when enrich left RemoteIP alone.
func TestHandlerClientIPWithoutEnrich(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: internal-only, namespace: shop}
spec:
  rules:
  - from:
    - source: {remoteIpBlocks: ["127.0.0.0/8"]}
`)
	res, err := clientip.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	if err != nil {
		t.Fatal(err)
	}
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/", log.handler("internal"))
	for _, enrich := range []func(*http.Request, *authz.Request){nil, func(*http.Request, *authz.Request) {}} {
		srv := httptest.NewServer(guard.Chain(res.Handler, func(next http.Handler) http.Handler { return e.Handler(enrich, next) })(sm))
		for _, tc := range []struct {
			xff  string // as the trusted proxy (the test client, 127.0.0.1) sends it
			code int
			ran  string
		}{
			{"127.0.0.9", http.StatusOK, "internal"},
			{"198.51.100.7", http.StatusForbidden, ""},
			{"x", http.StatusBadRequest, ""},
		} {
			raw := "GET /orders HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: " + tc.xff + "\r\nConnection: close\r\n\r\n"
			expectRan(t, srv.Listener.Addr().String(), &log, raw, tc.code, tc.ran)
		}
		srv.Close()
	}
}

// contractorSetup returns an engine denying the contractors group the
// admin paths, a verifier of the issuer idp.example.com and a token it
// signed for carol in that group.
func contractorSetup(t *testing.T) (e *authz.Engine, v *jwt.Verifier, token string) {
	t.Helper()
	e = engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-contractors-in-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/admin/*"]}
    when:
    - key: request.auth.claims[groups]
      values: ["contractors"]
`)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://idp.example.com"
	v, err = jwt.New([]jwt.Issuer{{
		Issuer:     iss,
		Audiences:  []string{"shop"},
		Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys:       &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k0", Algorithm: "ES256", Use: "sig"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k0"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any{"iss": iss, "sub": "carol", "aud": "shop", "groups": []string{"contractors"}, "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	token, err = jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return e, v, token
}
