package proxy

import (
	"slices"
	"strings"
	"testing"
)

// authProxyForgeries are identity headers that authenticating proxies
// (Authelia, Authentik, oauth2-proxy, Kong, Grafana's auth proxy,
// Kubernetes' request-header authentication, Pomerium, Google IAP, AWS
// ALB, Azure App Service, Cloudflare Access, Google Cloud Endpoints and
// API Gateway, WSO2, App Engine) set for the application
// behind them, each with a value an attacker chose.
var authProxyForgeries = []string{
	"Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups",
	"X-Auth-Request-Preferred-Username", "X-Auth-Request-Access-Token",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups",
	"X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token",
	"X-Authenticated-Userid", "X-Consumer-Username", "X-Consumer-ID",
	"X-Userinfo", "X-Id-Token", "X-WEBAUTH-USER",
	"X-Remote-Group", "X-Remote-Extra-Scopes", "X-Authentik-Username",
	"X-Pomerium-Claim-Email", "X-Goog-Authenticated-User-Email",
	"X-Amzn-Oidc-Identity", "X-MS-CLIENT-PRINCIPAL-NAME",
	"Cf-Access-Authenticated-User-Email", "x-auth-username",
	"X-SSL-Client-Cert", "X-SSL-Client-Verify", "X-SSL-Client-S-DN",
	"X-Client-Verify", "X-Client-DN", "X-ARR-ClientCert",
	"X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info",
	"X-Amzn-Mtls-Clientcert",
	"X-Endpoint-API-UserInfo", "X-Apigateway-Api-Userinfo", "X-JWT-Assertion",
	"X-AppEngine-User-Email", "X-AppEngine-User-Is-Admin", "x-appengine-user-id", "X_JWT_ASSERTION", "X-ENDPOINT-API-USERINFO",
	"X-WEBAUTH-EMAIL", "X-WEBAUTH-FULLNAME", "X-Vouch-User", "X-Vouch-IdP-Claims-Email",
	"Tailscale-User-Login", "Tailscale-User-Name", "Tailscale-User-Profile-Pic",
}

// sendForged sends GET /api/items as web with every name in names set to
// "forged-<name>" and returns what the upstream received.
func sendForged(t *testing.T, h *harness, u *rawUpstream, names []string) string {
	t.Helper()
	var hdr []string
	for _, n := range names {
		hdr = append(hdr, n, "forged-"+strings.ToLower(n))
	}
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", hdr...)
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("GET /api/items: status %d, the upstream received %d requests", status(resp), len(got))
	}
	return got[0]
}

// TestAttackAuthProxyHeaders: identity headers that auth proxies set and
// frameworks trust (Remote-User, X-Forwarded-User, X-Auth-Request-*,
// X-Consumer-*, X-WEBAUTH-USER...) reached the upstream as the client
// sent them, so an upstream written for oauth2-proxy or Authelia in
// front took "Remote-User: admin" for a signed-in admin. X-Forwarded-User
// and its kin were removed only from untrusted peers: a trusted load
// balancer, which appends to X-Forwarded-For but passes a client's other
// headers on, let them through. They are removed from every peer now,
// but those headers.keep names, which a trusted peer may send.
func TestAttackAuthProxyHeaders(t *testing.T) {
	u := newRawUpstream(t)
	direct := startWith(t, setup{upstream: u.URL()})
	behindLB := startWith(t, setup{upstream: u.URL(), extra: "clientIP: {trustedProxies: [127.0.0.0/8]}\n"})
	for name, h := range map[string]*harness{"untrusted peer": direct, "trusted peer": behindLB} {
		req := sendForged(t, h, u, authProxyForgeries)
		for _, n := range authProxyForgeries {
			if v := header(req, n); len(v) > 0 {
				t.Errorf("%s: the upstream received the client's %s: %q", name, n, v)
			}
		}
		if strings.Contains(req, "forged-") {
			t.Errorf("%s: a forged header reached the upstream:\n%s", name, req)
		}
	}

	// headers.keep: an oauth2-proxy in front (a trusted peer) sets
	// X-Forwarded-User and Remote-User; they pass from it, and only
	// from it.
	const keep = "headers: {keep: [X-Forwarded-User, remote-user]}\n"
	keepTrusted := startWith(t, setup{upstream: u.URL(), extra: keep + "clientIP: {trustedProxies: [127.0.0.0/8]}\n"})
	keepOther := startWith(t, setup{upstream: u.URL(), extra: keep + "clientIP: {trustedProxies: [10.0.0.0/8]}\n"})
	req := sendForged(t, keepTrusted, u, authProxyForgeries)
	for _, n := range authProxyForgeries {
		v := header(req, n)
		kept := n == "X-Forwarded-User" || n == "Remote-User"
		if kept && !slices.Equal(v, []string{"forged-" + strings.ToLower(n)}) {
			t.Errorf("keep, trusted peer: %s upstream %q, want the trusted proxy's value", n, v)
		}
		if !kept && len(v) > 0 {
			t.Errorf("keep, trusted peer: the upstream received %s: %q", n, v)
		}
	}
	req = sendForged(t, keepOther, u, authProxyForgeries)
	if strings.Contains(req, "forged-") {
		t.Errorf("keep, untrusted peer: a forged header reached the upstream:\n%s", req)
	}
}

// TestAuthProxyHeadersPolicy: a policy sees what the upstream gets: a
// DENY on request.headers[remote-user] never sees a client's Remote-User
// (removed before any check), and the upstream does not get it either.
func TestAuthProxyHeadersPolicy(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: users-only, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{when: [{key: "request.headers[remote-user]", values: ["*"]}]}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Remote-User", "admin")
	if status(resp) != 403 || len(got) != 0 {
		t.Errorf("Remote-User: admin from a client: status %d, upstream received %q; want 403 and nothing", status(resp), got)
	}
}

// TestParseConfigHeadersKeep: headers.keep keeps only auth-proxy headers,
// from trusted proxies, and never one the proxy strips or sets itself.
func TestParseConfigHeadersKeep(t *testing.T) {
	const base = "upstream: {url: http://x}\nclientIP: {trustedProxies: [10.0.0.0/8]}\n"
	tests := []struct{ doc, want string }{
		{"upstream: {url: http://x}\nheaders:\n  keep: [Remote-User]\n", "p.yaml:3: headers.keep[0] Remote-User: headers are kept from trusted proxies only"},
		{base + "headers:\n  keep: [X-Custom]\n", "p.yaml:4: headers.keep[0] X-Custom: only the auth-proxy identity headers"},
		{base + "headers:\n  keep: [X-Forwarded-Client-Cert]\n", "p.yaml:4: headers.keep[0] X-Forwarded-Client-Cert: only the auth-proxy"},
		{base + "headers:\n  keep: [X-Remote-User]\n", "p.yaml:4: headers.keep[0] X-Remote-User: only the auth-proxy"},
		{base + "headers:\n  keep: [X_Forwarded_User]\n", "p.yaml:4: headers.keep[0] \"X_Forwarded_User\" is not a header name"},
		{base + "headers:\n  strip: [remote-user]\n  keep: [Remote-User]\n", "p.yaml:5: headers.keep[0] Remote-User is also in headers.strip"},
		{base + "jwt:\n  issuers:\n    - issuer: https://id\n      audiences: [a]\n      algorithms: [ES256]\n      jwksURL: https://id/jwks\n  outputClaimToHeaders: [{header: X-Auth-Request-User, claim: sub}]\nheaders:\n  keep: [x-auth-request-user]\n",
			"p.yaml:11: headers.keep[0] x-auth-request-user is set from a JWT claim"},
	}
	for _, tt := range tests {
		_, err := ParseConfig("p.yaml", []byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.doc, err, tt.want)
		}
	}
	if _, err := ParseConfig("p.yaml", []byte(base+"headers: {keep: [X-Forwarded-User, X-Amzn-Oidc-Data, X-Real-IP, X-Forwarded-Prefix]}\n")); err != nil {
		t.Errorf("keep of auth-proxy headers: %v", err)
	}
}

// TestParseConfigRateLimitRemovedHeader: a rate limit keyed by a header
// the proxy removes before the checks would put every client in one
// bucket (the key is always empty): a Kong in front keyed by
// X-Consumer-ID, a claim header the proxy sets only for the upstream.
// It is an error, unless headers.keep keeps the auth proxy's header.
func TestParseConfigRateLimitRemovedHeader(t *testing.T) {
	const base = "upstream: {url: http://x}\nclientIP: {trustedProxies: [10.0.0.0/8]}\n"
	for _, tt := range []struct{ doc, want string }{
		{base + "rateLimit: {rate: 1, burst: 1, key: \"header:X-Consumer-ID\"}\n", `p.yaml:3: rateLimit.key "header:X-Consumer-ID": X-Consumer-ID is removed`},
		{base + "rateLimit: {rate: 1, burst: 1, key: \"header:X-Spiffe-Id\"}\n", `rateLimit.key "header:X-Spiffe-Id": X-Spiffe-Id is removed`},
		{base + "rateLimit: {rate: 1, burst: 1, key: \"header:X_Tenant\"}\n", `X_Tenant is removed`},
		{base + "rateLimit: {rate: 1, burst: 1, key: \"header:X-Real-IP\"}\n", `rateLimit.key "header:X-Real-IP": X-Real-IP is removed`},
		{base + "headers: {strip: [x-tenant]}\nrateLimit: {rate: 1, burst: 1, key: \"header:X-Tenant\"}\n", `X-Tenant is removed`},
		{base + "jwt:\n  issuers:\n    - issuer: https://id\n      audiences: [a]\n      algorithms: [ES256]\n      jwksURL: https://id/jwks\n  outputClaimToHeaders: [{header: X-Jwt-Sub, claim: sub}]\nrateLimit: {rate: 1, burst: 1, key: \"header:x-jwt-sub\"}\n", `x-jwt-sub is removed`},
		{base + "routes:\n  - name: r\n    match: {prefix: /}\n    rateLimit: {rate: 1, burst: 1, key: \"header:Remote-User\"}\n", `routes[0].rateLimit.key "header:Remote-User"`},
	} {
		if _, err := ParseConfig("p.yaml", []byte(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.doc, err, tt.want)
		}
	}
	for _, doc := range []string{
		base + "headers: {keep: [X-Consumer-ID]}\nrateLimit: {rate: 1, burst: 1, key: \"header:X-Consumer-ID\"}\n",
		base + "headers: {keep: [CF-Connecting-IP]}\nrateLimit: {rate: 1, burst: 1, key: \"header:CF-Connecting-IP\"}\n",
		base + "rateLimit: {rate: 1, burst: 1, key: \"header:X-Tenant\"}\n",
	} {
		if _, err := ParseConfig("p.yaml", []byte(doc)); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

// lbForgeries are headers that tell an upstream the client's address,
// the original host or scheme, each with a value the client chose, as a
// load balancer that appends to X-Forwarded-For passes them on.
var lbForgeries = []string{
	"X-Real-IP", "True-Client-IP", "X-Client-IP", "X-Cluster-Client-IP",
	"CF-Connecting-IP", "Fastly-Client-IP", "Client-IP", "X-Forwarded",
	"Forwarded-For", "X-Original-Forwarded-For", "X-Original-Host", "X-Host",
	"X-Url-Scheme", "Front-End-Https", "X-Original-Proto", "X-Forwarded-Ssl",
	"X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Uri",
	"DO-Connecting-IP", "X-AppEngine-User-IP",
}

// TestAttackForwardingHeadersBehindLB: behind a trusted load balancer
// (clientIP.trustedProxies), which appends the client's address to
// X-Forwarded-For but passes the client's other headers on, a client's
// X-Real-IP, True-Client-IP, Client-IP... reached the upstream as sent:
// the proxy's allow and deny lists, policies and rate limit judged the
// address it resolved from X-Forwarded-For (and forwarded in its own
// X-Forwarded-For), while chi's RealIP (True-Client-IP, then X-Real-IP),
// PHP's customary Client-IP code or django-ipware took the client's
// word; so did X-Original-Host and X-Host (the host a route or hosts
// rule did not judge) and the scheme headers beside the proxy's own
// X-Forwarded-Proto. They were removed from untrusted peers only. They
// are removed from every peer now, but those headers.keep names, which
// a trusted peer may send.
func TestAttackForwardingHeadersBehindLB(t *testing.T) {
	u := newRawUpstream(t)
	const lb = "clientIP: {trustedProxies: [127.0.0.0/8]}\n"
	behindLB := startWith(t, setup{upstream: u.URL(), extra: lb + "deny: [10.9.0.0/16]\n"})
	send := func(h *harness) string {
		t.Helper()
		hdr := []string{"X-Forwarded-For", "203.0.113.9", "X-Kept", "yes"}
		for _, n := range lbForgeries {
			hdr = append(hdr, n, "10.9.9.9")
		}
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", hdr...)
		if status(resp) != 200 || len(got) != 1 {
			t.Fatalf("status %d, the upstream received %d requests", status(resp), len(got))
		}
		return got[0]
	}
	req := send(behindLB)
	for _, n := range lbForgeries {
		if v := header(req, n); len(v) > 0 {
			t.Errorf("trusted peer: the upstream received the client's %s: %q (the proxy resolved 203.0.113.9)", n, v)
		}
	}
	if v := header(req, "X-Forwarded-For"); !slices.Equal(v, []string{"203.0.113.9"}) {
		t.Errorf("X-Forwarded-For %q, want the resolved client", v)
	}
	if v := header(req, "X-Kept"); len(v) != 1 {
		t.Errorf("X-Kept: %q, want it forwarded (else this test proves nothing)", v)
	}

	// headers.keep: a load balancer that sets X-Real-IP itself.
	keep := startWith(t, setup{upstream: u.URL(), extra: lb + "headers: {keep: [X-Real-IP, x-forwarded-prefix]}\n"})
	req = send(keep)
	for _, n := range lbForgeries {
		v := header(req, n)
		kept := n == "X-Real-IP" || n == "X-Forwarded-Prefix"
		if kept && !slices.Equal(v, []string{"10.9.9.9"}) {
			t.Errorf("keep, trusted peer: %s upstream %q, want the trusted proxy's value", n, v)
		}
		if !kept && len(v) > 0 {
			t.Errorf("keep, trusted peer: the upstream received %s: %q", n, v)
		}
	}
	keepOther := startWith(t, setup{upstream: u.URL(), extra: "clientIP: {trustedProxies: [10.0.0.0/8]}\nheaders: {keep: [X-Real-IP]}\n"})
	if req = send(keepOther); strings.Contains(req, "10.9.9.9") {
		t.Errorf("keep, untrusted peer: a forged header reached the upstream:\n%s", req)
	}
}

// denyAdminTenant denies requests whose X-Tenant header is "admin".
const denyAdminTenant = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-tenant, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{when: [{key: "request.headers[x-tenant]", values: ["admin"]}]}]
---
`

// TestAttackRepeatedPolicyHeader: a header that a policy reads, sent on
// two lines, was matched as its lines joined with "," (as Envoy does):
// "X-Tenant: admin" then "X-Tenant: x" was "admin,x" to a DENY of
// tenant admin, and the upstream, reading the first line (Go's
// Header.Get, Express's req.get for most names, Rack), served admin.
// Such a request is refused with 400, as guard/authz's Handler refuses
// it; headers no policy reads may still repeat.
func TestAttackRepeatedPolicyHeader(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: denyAdminTenant + policies})
	for _, tt := range []struct {
		hdr  []string
		want int
	}{
		{[]string{"X-Tenant", "admin"}, 403},
		{[]string{"X-Tenant", "admin", "X-Tenant", "x"}, 400},
		{[]string{"X-Tenant", "x", "x-tenant", "admin"}, 400},
		{[]string{"X-Tenant", "x"}, 200},
		{[]string{"X-Tenant", "x", "X-Other", "1", "X-Other", "2"}, 200},
	} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", tt.hdr...)
		if status(resp) != tt.want || (tt.want == 200) != (len(got) == 1) {
			t.Errorf("%q: status %d, the upstream received %q; want %d", tt.hdr, status(resp), got, tt.want)
		}
	}
}
