package guard_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardsec/ward/guard"
	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/guard/ipallow"
	"github.com/wardsec/ward/guard/jwt"
	"github.com/wardsec/ward/guard/ratelimit"
)

// chainPolicies are five policies for the workload foo/api: two DENY and
// three ALLOW, on paths, methods, principals, a request principal, a
// header and a claim.
const chainPolicies = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*", "/debug/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-outsiders, namespace: foo}
spec:
  action: DENY
  rules: [{from: [{source: {notNamespaces: ["foo", "ingress"]}}], to: [{operation: {paths: ["/internal/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: probes, namespace: foo}
spec:
  rules: [{to: [{operation: {methods: ["GET"], paths: ["/healthz"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ops, namespace: foo}
spec:
  rules: [{to: [{operation: {paths: ["/metrics"]}}], when: [{key: "request.headers[X-Team]", values: ["ops-*"]}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: users, namespace: foo}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/foo/sa/frontend"], requestPrincipals: ["https://id.example.com/*"]}}]
    to: [{operation: {methods: ["GET", "POST"], paths: ["/api/*"]}}]
    when: [{key: "request.auth.claims[groups]", values: ["users"]}]
`

type chain struct {
	allow *ipallow.Filter
	jwt   *jwt.Middleware
	authz *authz.Engine
	rl    *ratelimit.Limiter
}

func newChain(tb testing.TB) (*chain, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	jwks := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	v, err := jwt.New([]jwt.Issuer{{Issuer: "https://id.example.com", Audiences: []string{"api"}, Algorithms: []jose.SignatureAlgorithm{jose.ES256}, Keys: jwks}}, jwt.WithCache(1024))
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := josejwt.Signed(signer).Claims(map[string]any{
		"iss": "https://id.example.com", "sub": "alice", "aud": "api", "groups": []string{"users"},
		"exp": time.Now().Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	// 10,000 prefixes: /24s of 10.0.0.0/8, the client's among them.
	var prefixes []netip.Prefix
	for i := range 10000 {
		prefixes = append(prefixes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24))
	}
	list, err := ipallow.New(prefixes, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ps, err := authz.Load("bench.yaml", []byte(chainPolicies))
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := authz.Compile(ps, authz.Workload{Namespace: "foo", Labels: map[string]string{"app": "api"}})
	if err != nil {
		tb.Fatal(err)
	}
	rl, err := ratelimit.New(ratelimit.Config{Rate: 1e9, Burst: 1e9, Key: func(r *http.Request) string { return r.RemoteAddr }})
	if err != nil {
		tb.Fatal(err)
	}
	return &chain{allow: ipallow.NewFilter(list), jwt: jwt.NewMiddleware(v), authz: eng, rl: rl}, tok
}

// decide runs the checks a request goes through: allowlist, JWT (cached
// after the first request), authorization, rate limit.
func (c *chain) decide(r *http.Request) bool {
	if c.allow.Check(r) != nil {
		return false
	}
	claims, err := c.jwt.Authenticate(r)
	if err != nil || claims == nil {
		return false
	}
	q := authz.RequestFromHTTP(r)
	q.SourcePrincipal = "cluster.local/ns/foo/sa/frontend"
	q.RequestPrincipal = claims.RequestPrincipal()
	q.Claims = claims.SharedMap()
	if !c.authz.Decide(q).Allowed {
		return false
	}
	return c.rl.Check(r) == nil
}

func chainRequest(tok string) *http.Request {
	r := httptest.NewRequest("GET", "https://api.foo/api/items", nil)
	r.RemoteAddr = "10.3.4.5:51000" // in 10.3.4.0/24, the 773rd prefix
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestChainAllows(t *testing.T) {
	c, tok := newChain(t)
	if !c.decide(chainRequest(tok)) {
		t.Fatal("the benchmark's request is refused: it would measure the wrong path")
	}
	r := chainRequest(tok)
	r.URL.Path = "/admin"
	if c.decide(r) {
		t.Error("/admin allowed")
	}
}

// handler is the chain as a server runs it: the guard packages' own
// middlewares composed with guard.Chain, in front of a handler that
// answers 204.
func (c *chain) handler() http.Handler {
	enrich := func(r *http.Request, q *authz.Request) {
		q.SourcePrincipal = "cluster.local/ns/foo/sa/frontend"
		if claims, ok := jwt.FromContext(r.Context()); ok {
			q.RequestPrincipal = claims.RequestPrincipal()
			q.Claims = claims.SharedMap()
		}
	}
	return guard.Chain(c.allow.Handler, c.jwt.Handler,
		func(next http.Handler) http.Handler { return c.authz.Handler(enrich, next) },
		c.rl.Handler,
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
}

// statusWriter is the cheapest ResponseWriter that keeps the status.
type statusWriter struct {
	h      http.Header
	status int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(code int)        { w.status = code }

func TestChainHandler(t *testing.T) {
	c, tok := newChain(t)
	h := c.handler()
	for path, want := range map[string]int{"/api/items": 204, "/admin": 403, "/api/../admin": 400} {
		r := chainRequest(tok)
		r.URL.Path, r.URL.RawPath = path, ""
		w := &statusWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		if w.status != want {
			t.Errorf("%s: %d, want %d", path, w.status, want)
		}
	}
	r := chainRequest(tok)
	r.RemoteAddr = "192.0.2.1:5000"
	w := &statusWriter{h: http.Header{}}
	if h.ServeHTTP(w, r); w.status != 403 {
		t.Errorf("client outside the allowlist: %d", w.status)
	}
}

// BenchmarkChain is the target: the real middlewares in
// guard.Chain (a 10,000-prefix allowlist, a cached verified JWT,
// authorization with five policies, a rate limit) on a real
// *http.Request, per request.
func BenchmarkChain(b *testing.B) {
	c, tok := newChain(b)
	h := c.handler()
	r := chainRequest(tok)
	w := &statusWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.status = 0
		h.ServeHTTP(w, r)
		if w.status != http.StatusNoContent {
			b.Fatalf("refused: %d", w.status)
		}
	}
}

// BenchmarkChainChecks is the same checks called directly (Check and
// Decide), without the handlers around them.
func BenchmarkChainChecks(b *testing.B) {
	c, tok := newChain(b)
	r := chainRequest(tok)
	b.ReportAllocs()
	for b.Loop() {
		if !c.decide(r) {
			b.Fatal("refused")
		}
	}
}
