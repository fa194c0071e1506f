package authz

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// engine loads and compiles policies for the workload app=httpbin,
// version=v1 in namespace foo, the workload of Istio's examples.
func engine(t *testing.T, policies string) *Engine {
	t.Helper()
	ps, err := Load("test.yaml", []byte(policies))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	e, err := Compile(ps, Workload{Namespace: "foo", Labels: map[string]string{"app": "httpbin", "version": "v1"}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return e
}

// req returns a GET / request to httpbin.foo:8000 from a plaintext,
// anonymous peer at 10.0.0.9, changed by the options.
func req(opts ...func(*Request)) *Request {
	r := &Request{
		Method:   "GET",
		Host:     "httpbin.foo:8000",
		Path:     "/",
		Port:     8000,
		Headers:  http.Header{},
		SourceIP: netip.MustParseAddr("10.0.0.9"),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func path(p string) func(*Request)   { return func(r *Request) { r.Path = p } }
func method(m string) func(*Request) { return func(r *Request) { r.Method = m } }
func host(h string) func(*Request)   { return func(r *Request) { r.Host = h } }
func peer(spiffeID string) func(*Request) {
	return func(r *Request) { r.SourcePrincipal = spiffeID }
}
func jwt(iss, sub string, claims map[string]any) func(*Request) {
	return func(r *Request) {
		r.RequestPrincipal = iss + "/" + sub
		r.Claims = map[string]any{"iss": iss, "sub": sub}
		for k, v := range claims {
			r.Claims[k] = v
		}
	}
}
func ips(source, remote string) func(*Request) {
	return func(r *Request) {
		r.SourceIP = netip.MustParseAddr(source)
		if remote != "" {
			r.RemoteIP = netip.MustParseAddr(remote)
		}
	}
}
func header(k, v string) func(*Request) { return func(r *Request) { r.Headers.Add(k, v) } }

type check struct {
	name    string
	req     *Request
	allowed bool
	reason  string
}

func runChecks(t *testing.T, e *Engine, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			d := e.Decide(c.req)
			if d.Allowed != c.allowed || d.Reason != c.reason {
				t.Errorf("Decide = allowed %v, %q; want allowed %v, %q", d.Allowed, d.Reason, c.allowed, c.reason)
			}
			if rejected := strings.HasPrefix(c.reason, "path rejected"); rejected != (d.PathError != nil) {
				t.Errorf("Decide: PathError = %v with reason %q", d.PathError, d.Reason)
			}
		})
	}
}

// The examples of Istio's AuthorizationPolicy reference and security
// concept pages, each with requests that must be allowed and denied.
func TestIstioExamples(t *testing.T) {
	t.Run("allow-nothing", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: foo
spec: {}
`)
		runChecks(t, e, []check{
			{"GET", req(), false, ReasonNoAllowMatch},
			{"authenticated", req(peer("cluster.local/ns/foo/sa/sleep"), jwt("iss", "sub", nil)), false, ReasonNoAllowMatch},
		})
	})
	t.Run("deny-all", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: foo
spec:
  action: DENY
  rules:
  - {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-all
  namespace: foo
spec:
  rules:
  - {}
`)
		runChecks(t, e, []check{
			{"GET", req(), false, "DENY foo/deny-all rule 0: empty rule matches every request"},
			{"POST authenticated", req(method("POST"), peer("cluster.local/ns/foo/sa/sleep")), false, "DENY foo/deny-all rule 0: empty rule matches every request"},
		})
	})
	t.Run("allow-all", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-all
  namespace: foo
spec:
  rules:
  - {}
`)
		runChecks(t, e, []check{
			{"GET", req(), true, "ALLOW foo/allow-all rule 0: empty rule matches every request"},
		})
	})
	t.Run("principal, namespace, method and issuer", func(t *testing.T) {
		// The first example of the AuthorizationPolicy reference.
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: httpbin
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
      version: v1
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/sleep"]
    - source:
        namespaces: ["dev"]
    to:
    - operation:
        methods: ["GET"]
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
`)
		google := jwt("https://accounts.google.com", "1234", nil)
		runChecks(t, e, []check{
			{"sleep with Google token", req(peer("cluster.local/ns/default/sa/sleep"), google), true,
				"ALLOW foo/httpbin rule 0: from[0] principals; to[0] methods; when request.auth.claims[iss]"},
			{"dev namespace with Google token", req(peer("cluster.local/ns/dev/sa/any"), google), true,
				"ALLOW foo/httpbin rule 0: from[1] namespaces; to[0] methods; when request.auth.claims[iss]"},
			{"sleep without token", req(peer("cluster.local/ns/default/sa/sleep")), false, ReasonNoAllowMatch},
			{"sleep with another issuer", req(peer("cluster.local/ns/default/sa/sleep"), jwt("https://evil.example", "1234", nil)), false, ReasonNoAllowMatch},
			{"sleep POST", req(method("POST"), peer("cluster.local/ns/default/sa/sleep"), google), false, ReasonNoAllowMatch},
			{"other namespace", req(peer("cluster.local/ns/prod/sa/sleep"), google), false, ReasonNoAllowMatch},
			{"plaintext peer", req(google), false, ReasonNoAllowMatch},
		})
	})
	t.Run("deny by notNamespaces", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: httpbin-deny
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
      version: v1
  action: DENY
  rules:
  - from:
    - source:
        notNamespaces: ["foo"]
`)
		runChecks(t, e, []check{
			{"from foo", req(peer("cluster.local/ns/foo/sa/sleep")), true, ReasonNoAllowPolicy},
			{"from bar", req(peer("cluster.local/ns/bar/sa/sleep")), false, "DENY foo/httpbin-deny rule 0: from[0] notNamespaces"},
			// A plaintext peer has no namespace, so it is not in foo.
			{"plaintext", req(), false, "DENY foo/httpbin-deny rule 0: from[0] notNamespaces"},
		})
	})
	t.Run("serviceAccounts and trustDomains", func(t *testing.T) {
		// Istio 1.26's fields: a bare name is in the policy's namespace,
		// names are literal (a dot is not a wildcard), and a principal
		// with more segments matches as Istio's regular expression does.
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: sa, namespace: foo}
spec:
  rules:
  - from:
    - source: {serviceAccounts: ["sleep", "bar/web.v1"], trustDomains: ["cluster.local"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-sa, namespace: foo}
spec:
  action: DENY
  rules:
  - from:
    - source: {notServiceAccounts: ["foo/sleep", "bar/web.v1", "bar/ops"]}
    to:
    - operation: {paths: ["/admin"]}
`)
		runChecks(t, e, []check{
			{"sleep of foo", req(peer("cluster.local/ns/foo/sa/sleep")), true, "ALLOW foo/sa rule 0: from[0] serviceAccounts, trustDomains"},
			{"web.v1 of bar", req(peer("cluster.local/ns/bar/sa/web.v1")), true, "ALLOW foo/sa rule 0: from[0] serviceAccounts, trustDomains"},
			{"extra segments", req(peer("cluster.local/ns/foo/x/sa/sleep/y")), true, "ALLOW foo/sa rule 0: from[0] serviceAccounts, trustDomains"},
			{"dot is literal", req(peer("cluster.local/ns/bar/sa/webxv1")), false, ReasonNoAllowMatch},
			{"sleep of bar", req(peer("cluster.local/ns/bar/sa/sleep")), false, ReasonNoAllowMatch},
			{"name suffix", req(peer("cluster.local/ns/foo/sa/sleepy")), false, ReasonNoAllowMatch},
			{"other trust domain", req(peer("evil.example/ns/foo/sa/sleep")), false, ReasonNoAllowMatch},
			{"plaintext", req(), false, ReasonNoAllowMatch},
			{"admin by sleep", req(path("/admin"), peer("cluster.local/ns/foo/sa/sleep")), true, "ALLOW foo/sa rule 0: from[0] serviceAccounts, trustDomains"},
			{"admin by web of foo", req(path("/admin"), peer("cluster.local/ns/foo/sa/web.v1")), false, "DENY foo/deny-sa rule 0: from[0] notServiceAccounts; to[0] paths"},
		})
	})
	t.Run("DENY wins over ALLOW", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-get
  namespace: foo
spec:
  rules:
  - to:
    - operation:
        methods: ["GET", "HEAD"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
  namespace: foo
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin", "/admin/*"]
`)
		runChecks(t, e, []check{
			{"GET /", req(), true, "ALLOW foo/allow-get rule 0: to[0] methods"},
			{"GET /admin/users", req(path("/admin/users")), false, "DENY foo/deny-admin rule 0: to[0] paths"},
			{"DELETE /", req(method("DELETE")), false, ReasonNoAllowMatch},
		})
	})
	t.Run("requestPrincipals *", func(t *testing.T) {
		// The security concept page: "denies the request to the /admin
		// path for requests without request principals", and an ALLOW
		// policy requiring a token on every path but /healthz.
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: disable-jwt-for-healthz
  namespace: foo
spec:
  action: ALLOW
  rules:
  - to:
    - operation:
        notPaths: ["/healthz"]
    from:
    - source:
        requestPrincipals: ["*"]
  - to:
    - operation:
        paths: ["/healthz"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: enable-jwt-for-admin
  namespace: foo
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin"]
    from:
    - source:
        notRequestPrincipals: ["*"]
`)
		tok := jwt("issuer.example.com", "alice", nil)
		runChecks(t, e, []check{
			{"anonymous /", req(), false, ReasonNoAllowMatch},
			{"anonymous /healthz", req(path("/healthz")), true, "ALLOW foo/disable-jwt-for-healthz rule 1: to[0] paths"},
			{"anonymous /admin", req(path("/admin")), false, "DENY foo/enable-jwt-for-admin rule 0: from[0] notRequestPrincipals; to[0] paths"},
			{"token /", req(tok), true, "ALLOW foo/disable-jwt-for-healthz rule 0: from[0] requestPrincipals; to[0] notPaths"},
			{"token /admin", req(tok, path("/admin")), true, "ALLOW foo/disable-jwt-for-healthz rule 0: from[0] requestPrincipals; to[0] notPaths"},
		})
	})
	t.Run("request principal patterns", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
  namespace: foo
spec:
  rules:
  - from:
    - source:
        requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io", "https://accounts.example.com/*"]
`)
		runChecks(t, e, []check{
			{"exact", req(jwt("testing@secure.istio.io", "testing@secure.istio.io", nil)), true, "ALLOW foo/require-jwt rule 0: from[0] requestPrincipals"},
			{"issuer prefix", req(jwt("https://accounts.example.com", "bob", nil)), true, "ALLOW foo/require-jwt rule 0: from[0] requestPrincipals"},
			// The subject holds a "/": Istio matches the iss and sub claims.
			{"subject with slash", req(jwt("https://accounts.example.com", "team/bob", nil)), true, "ALLOW foo/require-jwt rule 0: from[0] requestPrincipals"},
			{"other issuer", req(jwt("https://accounts.example.com.evil", "bob", nil)), false, ReasonNoAllowMatch},
			{"anonymous", req(), false, ReasonNoAllowMatch},
		})
	})
	t.Run("ipBlocks and remoteIpBlocks", func(t *testing.T) {
		// The ingress examples: behind a load balancer at 10.0.0.9 the
		// peer address is the balancer's, the client's comes from
		// X-Forwarded-For.
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ingress-policy
  namespace: foo
spec:
  rules:
  - from:
    - source:
        ipBlocks: ["1.2.3.4", "5.6.7.0/24"]
  - from:
    - source:
        remoteIpBlocks: ["192.0.2.0/24", "2001:db8::/32"]
`)
		runChecks(t, e, []check{
			{"direct client", req(ips("5.6.7.8", "")), true, "ALLOW foo/ingress-policy rule 0: from[0] ipBlocks"},
			{"IPv4-mapped client", req(ips("::ffff:1.2.3.4", "")), true, "ALLOW foo/ingress-policy rule 0: from[0] ipBlocks"},
			{"balancer forwarding allowed client", req(ips("10.0.0.9", "192.0.2.7")), true, "ALLOW foo/ingress-policy rule 1: from[0] remoteIpBlocks"},
			{"balancer forwarding IPv6 client", req(ips("10.0.0.9", "2001:db8::1")), true, "ALLOW foo/ingress-policy rule 1: from[0] remoteIpBlocks"},
			{"balancer forwarding 1.2.3.4", req(ips("10.0.0.9", "1.2.3.4")), false, ReasonNoAllowMatch},
			{"direct from remote block", req(ips("192.0.2.7", "")), true, "ALLOW foo/ingress-policy rule 1: from[0] remoteIpBlocks"},
			{"other", req(ips("198.51.100.1", "")), false, ReasonNoAllowMatch},
		})
	})
	t.Run("when claims, nested claims and headers", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: claims
  namespace: foo
spec:
  rules:
  - when:
    - key: request.auth.claims[groups]
      values: ["group1"]
  - when:
    - key: request.auth.claims[realm_access][roles]
      values: ["admin"]
    - key: request.headers[X-Team]
      values: ["ops-*"]
      notValues: ["ops-interns"]
`)
		runChecks(t, e, []check{
			{"group list", req(jwt("i", "s", map[string]any{"groups": []any{"group2", "group1"}})), true, "ALLOW foo/claims rule 0: when request.auth.claims[groups]"},
			{"group string", req(jwt("i", "s", map[string]any{"groups": "group1"})), true, "ALLOW foo/claims rule 0: when request.auth.claims[groups]"},
			{"other group", req(jwt("i", "s", map[string]any{"groups": []any{"group2"}})), false, ReasonNoAllowMatch},
			{"nested role and header", req(jwt("i", "s", map[string]any{"realm_access": map[string]any{"roles": []any{"admin"}}}), header("X-Team", "ops-core")), true,
				"ALLOW foo/claims rule 1: when request.auth.claims[realm_access][roles], request.headers[X-Team]"},
			{"nested role, excluded header", req(jwt("i", "s", map[string]any{"realm_access": map[string]any{"roles": []any{"admin"}}}), header("X-Team", "ops-interns")), false, ReasonNoAllowMatch},
			{"nested role, no header", req(jwt("i", "s", map[string]any{"realm_access": map[string]any{"roles": []any{"admin"}}})), false, ReasonNoAllowMatch},
			// Several header lines are joined with "," as Envoy sees them.
			{"two headers", req(jwt("i", "s", map[string]any{"realm_access": map[string]any{"roles": []any{"admin"}}}), header("X-Team", "ops-core"), header("X-Team", "ops-interns")), true,
				"ALLOW foo/claims rule 1: when request.auth.claims[realm_access][roles], request.headers[X-Team]"},
			{"number claim", req(jwt("i", "s", map[string]any{"groups": 1.0})), false, ReasonNoAllowMatch},
		})
	})
	t.Run("value matching", func(t *testing.T) {
		// The concept page's value matching example, and hosts.
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: tester
  namespace: foo
spec:
  rules:
  - to:
    - operation:
        paths: ["/test/*", "*/info"]
  - to:
    - operation:
        hosts: ["*.example.com", "api.example.org"]
        ports: ["8000"]
  - to:
    - operation:
        paths: ["/files/{*}/meta", "/static/{**}"]
`)
		runChecks(t, e, []check{
			{"prefix", req(path("/test/foo")), true, "ALLOW foo/tester rule 0: to[0] paths"},
			{"suffix", req(path("/bar/info")), true, "ALLOW foo/tester rule 0: to[0] paths"},
			{"neither", req(path("/bar/infox")), false, ReasonNoAllowMatch},
			{"host suffix", req(host("shop.Example.COM")), true, "ALLOW foo/tester rule 1: to[0] ports, hosts"},
			{"host with port", req(host("API.example.org:8000")), true, "ALLOW foo/tester rule 1: to[0] ports, hosts"},
			{"host with trailing dot", req(host("api.example.org.")), true, "ALLOW foo/tester rule 1: to[0] ports, hosts"},
			{"other port", req(host("api.example.org"), func(r *Request) { r.Port = 9000 }), false, ReasonNoAllowMatch},
			{"other host", req(host("api.example.org.evil")), false, ReasonNoAllowMatch},
			{"template one segment", req(path("/files/a.txt/meta")), true, "ALLOW foo/tester rule 2: to[0] paths"},
			{"template two segments", req(path("/files/a/b/meta")), false, ReasonNoAllowMatch},
			{"template rest", req(path("/static/css/site.css")), true, "ALLOW foo/tester rule 2: to[0] paths"},
		})
	})
	t.Run("audit", func(t *testing.T) {
		e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: audit-headers
  namespace: foo
spec:
  action: AUDIT
  rules:
  - to:
    - operation:
        paths: ["/headers"]
`)
		d := e.Decide(req(path("/headers")))
		want := Decision{Allowed: true, Audited: true, AuditPolicy: "foo/audit-headers", Reason: ReasonNoAllowPolicy, Rule: -1}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("Decide(/headers) (-want +got):\n%s", diff)
		}
		if d := e.Decide(req(path("/ip"))); d.Audited || !d.Allowed {
			t.Errorf("Decide(/ip) = %+v, want allowed and not audited", d)
		}
	})
}

// TestPathBypass sends the classic path tricks to a DENY on /admin, and to
// an ALLOW list that only opens /public.
func TestPathBypass(t *testing.T) {
	deny := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
  namespace: foo
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin", "/admin/*"]
`)
	const denied = "DENY foo/deny-admin rule 0: to[0] paths"
	runChecks(t, deny, []check{
		{"/admin", req(path("/admin")), false, denied},
		{"//admin", req(path("//admin")), false, denied},
		{"/admin//users", req(path("/admin//users")), false, denied},
		{"/%61dmin", req(path("/%61dmin")), false, denied},
		{"/admin?x=1", req(path("/admin?x=1")), false, denied},
		{"/./admin", req(path("/./admin")), false, "path rejected: dot segment (. or ..) in path"},
		{"/public/../admin", req(path("/public/../admin")), false, "path rejected: dot segment (. or ..) in path"},
		{"/public/%2e%2e/admin", req(path("/public/%2e%2e/admin")), false, "path rejected: dot segment (. or ..) in path"},
		{"/admin%2F", req(path("/admin%2F")), false, "path rejected: encoded slash or backslash (%2F, %5C) in path"},
		{"/admin%2fusers", req(path("/admin%2fusers")), false, "path rejected: encoded slash or backslash (%2F, %5C) in path"},
		{"/admin%5Cusers", req(path("/admin%5Cusers")), false, "path rejected: encoded slash or backslash (%2F, %5C) in path"},
		{`/public\..\admin`, req(path(`/public\..\admin`)), false, "path rejected: backslash in path"},
		{"/admin%", req(path("/admin%")), false, "path rejected: malformed path"},
		// Istio's paths are case-sensitive: a DENY on /admin lets /ADMIN
		// through, to a backend that might route it to /admin. Guard
		// such backends with an ALLOW list (below).
		{"/ADMIN", req(path("/ADMIN")), true, ReasonNoAllowPolicy},
		{"/public", req(path("/public")), true, ReasonNoAllowPolicy},
	})

	// Escaped sub-delimiters, ":" and "@", which servers decode before
	// routing: a DENY written either way covers both.
	colon := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-delete
  namespace: foo
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/users/{*}:delete", "/@admin", "/a%2cb"]
`)
	const deniedDelete = "DENY foo/deny-delete rule 0: to[0] paths"
	runChecks(t, colon, []check{
		{"/users/1:delete", req(path("/users/1:delete")), false, deniedDelete},
		{"/users/1%3Adelete", req(path("/users/1%3Adelete")), false, deniedDelete},
		{"/%40admin", req(path("/%40admin")), false, deniedDelete},
		{"/a,b", req(path("/a,b")), false, deniedDelete},
		{"/a%2Cb", req(path("/a%2Cb")), false, deniedDelete},
		// "%2B" is kept: S3 reads "+" in a path as a space.
		{"/a%2Bb", req(path("/a%2Bb")), true, ReasonNoAllowPolicy},
		{"/users/1%3Aget", req(path("/users/1%3Aget")), true, ReasonNoAllowPolicy},
	})

	allow := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: public-only
  namespace: foo
spec:
  rules:
  - to:
    - operation:
        paths: ["/public", "/public/*"]
`)
	runChecks(t, allow, []check{
		{"/public/a", req(path("/public/a")), true, "ALLOW foo/public-only rule 0: to[0] paths"},
		{"//public//a", req(path("//public//a")), true, "ALLOW foo/public-only rule 0: to[0] paths"},
		{"/ADMIN", req(path("/ADMIN")), false, ReasonNoAllowMatch},
		{"/public/../admin", req(path("/public/../admin")), false, "path rejected: dot segment (. or ..) in path"},
		{"/public%2F..%2Fadmin", req(path("/public%2F..%2Fadmin")), false, "path rejected: encoded slash or backslash (%2F, %5C) in path"},
	})
}

func TestSelection(t *testing.T) {
	ps, err := Load("sel.yaml", []byte(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-deny-debug, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/debug*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-v2-only, namespace: istio-system}
spec:
  selector: {matchLabels: {version: v2}}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-app, namespace: foo}
spec:
  selector: {matchLabels: {app: other}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bar-ns, namespace: bar}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: local}
spec:
  action: AUDIT
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: trial
  namespace: foo
  annotations: {istio.io/dry-run: "true"}
spec:
  rules: [{to: [{operation: {paths: ["/trial"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: elsewhere, namespace: bar}
spec:
  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: waypoint, namespace: foo}
spec:
  targetRefs: [{kind: Service, group: "", name: httpbin}]
  action: DENY
  rules: [{}]
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(ps, Workload{Namespace: "foo", Labels: map[string]string{"app": "httpbin", "version": "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"foo/httpbin", "foo/local", "istio-system/mesh-deny-debug"}, e.Policies()); diff != "" {
		t.Errorf("Policies() (-want +got):\n%s", diff)
	}
	want := []Warning{
		{"foo/trial", `istio.io/dry-run is set: the policy is not enforced`},
		{"foo/waypoint", "targetRef binds the policy to a Gateway or waypoint, not to a workload; ward does not enforce it"},
	}
	if diff := cmp.Diff(want, e.Warnings()); diff != "" {
		t.Errorf("Warnings() (-want +got):\n%s", diff)
	}
	if d := e.Decide(req(path("/debug/vars"))); d.Allowed || d.Policy != "istio-system/mesh-deny-debug" || !d.Audited {
		t.Errorf("Decide(/debug/vars) = %+v, want denied by the mesh policy and audited", d)
	}

	// The same policies for a v2 workload in bar: the mesh-wide selector
	// now applies, the namespace's allow-nothing too.
	e, err = Options{}.Compile(ps, Workload{Namespace: "bar", Labels: map[string]string{"app": "httpbin", "version": "v2"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"bar/bar-ns", "bar/local", "istio-system/mesh-deny-debug", "istio-system/mesh-v2-only"}, e.Policies()); diff != "" {
		t.Errorf("Policies() for bar (-want +got):\n%s", diff)
	}

	// Another root namespace: istio-system is an ordinary namespace.
	e, err = Options{RootNamespace: "istio-config"}.Compile(ps, Workload{Namespace: "foo", Labels: map[string]string{"app": "httpbin"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"foo/httpbin", "foo/local"}, e.Policies()); diff != "" {
		t.Errorf("Policies() with root istio-config (-want +got):\n%s", diff)
	}
}

func TestRequestFromHTTP(t *testing.T) {
	r, err := http.NewRequest("DELETE", "http://shop.example:8443/a%2Fb/c?q=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.RemoteAddr = "[::ffff:192.0.2.1]:5555"
	r.Header.Set("X-Team", "ops")
	got := RequestFromHTTP(r)
	want := &Request{
		Method:   "DELETE",
		Host:     "shop.example:8443",
		Path:     "/a%2Fb/c",
		Query:    "q=1",
		Headers:  r.Header,
		SourceIP: netip.MustParseAddr("192.0.2.1"),
		RemoteIP: netip.MustParseAddr("192.0.2.1"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("RequestFromHTTP (-want +got):\n%s", diff)
	}
}

func TestConditions(t *testing.T) {
	e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: c, namespace: foo}
spec:
  rules:
  - when: [{key: source.ip, values: ["10.0.0.0/8"]}, {key: destination.port, notValues: ["9000"]}]
  - when: [{key: remote.ip, values: ["2001:db8::1"]}]
  - when: [{key: destination.ip, values: ["192.0.2.10"]}]
  - when: [{key: connection.sni, values: ["*.internal"]}]
  - when: [{key: source.principal, values: ["cluster.local/ns/foo/*"]}, {key: source.namespace, values: ["foo"]}]
  - when: [{key: request.auth.principal, values: ["*/robot"]}]
  - when: [{key: request.auth.audiences, values: ["shop"]}]
  - when: [{key: request.auth.presenter, values: ["web-client"]}]
  - when: [{key: "request.headers[:authority]", values: ["admin.*"]}, {key: "request.headers[:method]", values: ["PUT"]}]
  - to: [{operation: {hosts: ["example.com:*"], notPorts: ["9000"]}}]
`)
	other := func(r *Request) { r.SourceIP = netip.MustParseAddr("192.0.2.99") }
	const none = ReasonNoAllowMatch
	runChecks(t, e, []check{
		{"source.ip and destination.port", req(ips("10.1.1.1", "")), true, "ALLOW foo/c rule 0: when source.ip, destination.port"},
		{"source.ip, excluded port", req(ips("10.1.1.1", ""), func(r *Request) { r.Port = 9000 }), false, none},
		{"remote.ip", req(ips("192.0.2.99", "2001:db8::1")), true, "ALLOW foo/c rule 1: when remote.ip"},
		{"destination.ip", req(other, func(r *Request) { r.DestinationIP = netip.MustParseAddr("192.0.2.10") }), true, "ALLOW foo/c rule 2: when destination.ip"},
		{"sni", req(other, func(r *Request) { r.SNI = "db.internal" }), true, "ALLOW foo/c rule 3: when connection.sni"},
		{"principal and namespace", req(other, peer("cluster.local/ns/foo/sa/x")), true, "ALLOW foo/c rule 4: when source.principal, source.namespace"},
		{"namespace set apart", req(other, peer("cluster.local/ns/foo/sa/x"), func(r *Request) { r.SourceNamespace = "bar" }), false, none},
		{"request principal", req(other, jwt("https://issuer", "robot", nil)), true, "ALLOW foo/c rule 5: when request.auth.principal"},
		{"audiences field", req(other, func(r *Request) { r.Audiences = []string{"other", "shop"} }), true, "ALLOW foo/c rule 6: when request.auth.audiences"},
		{"audience claim", req(other, jwt("i", "s", map[string]any{"aud": "shop"})), true, "ALLOW foo/c rule 6: when request.auth.audiences"},
		{"presenter claim", req(other, jwt("i", "s", map[string]any{"azp": "web-client"})), true, "ALLOW foo/c rule 7: when request.auth.presenter"},
		{"pseudo-headers", req(other, host("admin.shop"), method("PUT")), true, "ALLOW foo/c rule 8: when request.headers[:authority], request.headers[:method]"},
		{"host with any port", req(other, host("example.com:8443")), true, "ALLOW foo/c rule 9: to[0] notPorts, hosts"},
		{"host without port", req(other, host("example.com")), false, none},
		{"nothing", req(other), false, none},
	})
}

func TestWarnings(t *testing.T) {
	e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: w, namespace: foo}
spec:
  rules:
  - from: [{source: {principals: ["spiffe://cluster.local/ns/foo/sa/a"]}}]
    to: [{operation: {methods: ["get"], paths: ["/a//b", "/q?x=1", "/ok", "/api/*", "*.php"]}}]
`)
	want := []Warning{
		{"foo/w", `spec.rules[0].from[0].source: principal "spiffe://cluster.local/ns/foo/sa/a" never matches: principals are written without "spiffe://"`},
		{"foo/w", `spec.rules[0].to[0].operation: method "get" is not upper case: methods are case-sensitive`},
		{"foo/w", `spec.rules[0].to[0].operation.paths[0]: "/a//b" never matches a normalised path (see Normalize)`},
		{"foo/w", `spec.rules[0].to[0].operation.paths[1]: "/q?x=1" never matches a normalised path (see Normalize)`},
	}
	if diff := cmp.Diff(want, e.Warnings()); diff != "" {
		t.Errorf("Warnings() (-want +got):\n%s", diff)
	}
}

// TestWarningsHeadNotCovered: a DENY of GET alone, or an ALLOW of every
// method but GET, leaves HEAD to the GET handler of most frameworks.
func TestWarningsHeadNotCovered(t *testing.T) {
	e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-get, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: ["GET"], paths: ["/export"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-both, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: ["GET", "HEAD"], paths: ["/export2"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-but-get, namespace: foo}
spec:
  rules: [{to: [{operation: {notMethods: ["GET"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: foo}
spec:
  rules: [{to: [{operation: {methods: ["GET"]}}]}]
`)
	want := []Warning{
		{"foo/allow-but-get", `spec.rules[0].to[0].operation.notMethods: GET is excluded but not HEAD, which most frameworks answer with the GET handler: list HEAD too`},
		{"foo/deny-get", `spec.rules[0].to[0].operation.methods: GET is denied but not HEAD, which most frameworks answer with the GET handler: list HEAD too`},
	}
	if diff := cmp.Diff(want, e.Warnings()); diff != "" {
		t.Errorf("Warnings() (-want +got):\n%s", diff)
	}
}

// TestWarningsHostPortOnly: a hosts value with a port ("example.com:*",
// as Istio's documentation writes it, or "example.com:443") matches only
// a Host header with a port: a DENY of it alone let "Host: example.com"
// through to the upstream's virtual host of that name.
func TestWarningsHostPortOnly(t *testing.T) {
	e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-port-only, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {hosts: ["admin.example.com:*", "[::1]:8443", "Other.example.com:443", "other.example.com"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-but-port, namespace: foo}
spec:
  rules: [{to: [{operation: {notHosts: ["admin.example.com:*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-port, namespace: foo}
spec:
  rules: [{to: [{operation: {hosts: ["api.example.com:*"]}}]}]
`)
	want := []Warning{
		{"foo/allow-but-port", `spec.rules[0].to[0].operation.notHosts: "admin.example.com:*" is excluded only with a port in the Host header, which most clients leave out: list "admin.example.com" too`},
		{"foo/deny-port-only", `spec.rules[0].to[0].operation.hosts: "admin.example.com:*" is denied only with a port in the Host header, which most clients leave out: list "admin.example.com" too`},
		{"foo/deny-port-only", `spec.rules[0].to[0].operation.hosts: "[::1]:8443" is denied only with a port in the Host header, which most clients leave out: list "[::1]" too`},
	}
	if diff := cmp.Diff(want, e.Warnings()); diff != "" {
		t.Errorf("Warnings() (-want +got):\n%s", diff)
	}
}

func TestRequestFromHTTPConnection(t *testing.T) {
	r, err := http.NewRequest("GET", "/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = "shop.example"
	r.RemoteAddr = "[fe80::1%eth0]:5555"
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 8443}))
	r.TLS = &tls.ConnectionState{ServerName: "shop.example"}
	got := RequestFromHTTP(r)
	if got.Port != 8443 || got.DestinationIP != netip.MustParseAddr("10.0.0.5") || got.SNI != "shop.example" ||
		got.SourceIP != netip.MustParseAddr("fe80::1") || got.Path != "/x" {
		t.Errorf("RequestFromHTTP = %+v", got)
	}
}

// TestHostHeaderConditionAsHosts: a condition on the Host header
// matches as hosts does (Decide is what `ward proxy` runs, and it
// forwards "admin.example.com:80" to an upstream that routes it as
// admin.example.com): case-insensitively, and a value without a port
// whatever port the Host names. Compared exactly, the port escaped a DENY.
func TestHostHeaderConditionAsHosts(t *testing.T) {
	e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[:authority]", values: ["admin.example.com", "*.internal"]}]
  - when: [{key: "request.headers[host]", values: ["ops.example.com:9000"]}]
`)
	const deny0 = "DENY foo/deny-admin rule 0: when request.headers[:authority]"
	runChecks(t, e, []check{
		{"admin", req(host("admin.example.com")), false, deny0},
		{"admin with a port", req(host("admin.example.com:80")), false, deny0},
		{"admin upper case", req(host("Admin.Example.com:443")), false, deny0},
		{"suffix with a port", req(host("db.internal:5432")), false, deny0},
		{"value with a port", req(host("ops.example.com:9000")), false, "DENY foo/deny-admin rule 1: when request.headers[host]"},
		{"value with another port", req(host("ops.example.com:9001")), true, ReasonNoAllowPolicy},
		{"other host", req(host("www.example.com:80")), true, ReasonNoAllowPolicy},
	})
}

// TestRequestPrincipalSubjectWithSlash: subjects may hold "/" (JWT-SVIDs
// are "spiffe://td/ns/x/sa/y", GitHub's OIDC tokens "repo:org/repo:ref:
// ..."), and Istio splits a value at its last "/", so a DENY naming such
// a token ("<iss>/spiffe://td/.../sa/admin") or its subjects by prefix
// ("<iss>/repo:org/*") compared the issuer with "<iss>/spiffe://td/...",
// never matched, and let the token through; so did notRequestPrincipals
// in an ALLOW. Values that deny (in a DENY) or exclude (notX in an
// ALLOW) also match "<iss>/<sub>" whole; values that allow (and a
// DENY's notRequestPrincipals) keep Istio's split, so that they allow
// no more than in Istio: the deployer below is denied /deploy, as there.
func TestRequestPrincipalSubjectWithSlash(t *testing.T) {
	const (
		oidc  = "https://oidc.example.org"
		gh    = "https://token.actions.githubusercontent.com"
		admin = "spiffe://example.org/ns/prod/sa/admin"
	)
	e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-tokens, namespace: foo}
spec:
  action: DENY
  rules:
  - from: [{source: {requestPrincipals: ["`+oidc+`/`+admin+`", "`+gh+`/repo:org/evil:*"]}}]
  - to: [{operation: {paths: ["/deploy"]}}]
    from: [{source: {notRequestPrincipals: ["`+gh+`/repo:org/deployer:ref:refs/heads/main"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: foo}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["`+oidc+`/*", "`+gh+`/*"], notRequestPrincipals: ["`+oidc+`/spiffe://example.org/ns/test/*"]}}]
  - from: [{source: {requestPrincipals: ["https://a.example.com/x/*"]}}]
`)
	runChecks(t, e, []check{
		{"JWT-SVID named by a DENY", req(jwt(oidc, admin, nil)), false, "DENY foo/deny-tokens rule 0: from[0] requestPrincipals"},
		{"JWT-SVID not named", req(jwt(oidc, "spiffe://example.org/ns/prod/sa/web", nil)), true, "ALLOW foo/allow rule 0: from[0] requestPrincipals, notRequestPrincipals"},
		{"subject prefix denied", req(jwt(gh, "repo:org/evil:ref:refs/heads/main", nil)), false, "DENY foo/deny-tokens rule 0: from[0] requestPrincipals"},
		{"other repository", req(jwt(gh, "repo:org/app:ref:refs/heads/main", nil)), true, "ALLOW foo/allow rule 0: from[0] requestPrincipals, notRequestPrincipals"},
		{"deploy by another", req(path("/deploy"), jwt(gh, "repo:org/app:ref:refs/heads/main", nil)), false, "DENY foo/deny-tokens rule 1: from[0] notRequestPrincipals; to[0] paths"},
		{"excluded by an ALLOW's notRequestPrincipals", req(jwt(oidc, "spiffe://example.org/ns/test/sa/web", nil)), false, ReasonNoAllowMatch},
		// An allowing value keeps Istio's split: the issuer is compared
		// whole, "https://a.example.com" is not "https://a.example.com/x".
		{"allowing value not widened", req(jwt("https://a.example.com", "x/y", nil)), false, ReasonNoAllowMatch},
		{"allowing value", req(jwt("https://a.example.com/x", "y", nil)), true, "ALLOW foo/allow rule 1: from[0] requestPrincipals"},
	})
}

// TestPathHeaderQuery: Envoy's :path is the path and the query, and
// Istio policies match query parameters with request.headers[:path];
// Decide read :path without the query, so a DENY of "/export?format=csv*"
// or "*&debug=1" denied nothing. A value that denies (in a DENY) or
// excludes (notValues in an ALLOW) matches :path with the query and
// without it (so "*.php" still denies "/x.php?a"); a value that allows
// matches the path alone (so "*.css" allows no "/admin?x=.css").
func TestPathHeaderQuery(t *testing.T) {
	e := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: foo}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[:path]", values: ["/export?format=csv*", "*&debug=1", "*.php"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: foo}
spec:
  rules:
  - when: [{key: "request.headers[:path]", values: ["*.css", "/api/*"], notValues: ["/api/internal?*"]}]
`)
	const deny = "DENY foo/deny rule 0: when request.headers[:path]"
	const allow = "ALLOW foo/allow rule 0: when request.headers[:path]"
	runChecks(t, e, []check{
		{"query prefix", req(path("/export?format=csv&x=1")), false, deny},
		{"query suffix", req(path("/api/items?a=b&debug=1")), false, deny},
		{"path suffix with a query", req(path("/index.php?a=1")), false, deny},
		{"other query", req(path("/api/export?format=json")), true, allow},
		{"allowing value reads the path", req(path("/admin?x=.css")), false, ReasonNoAllowMatch},
		{"allowed", req(path("/static/site.css?v=2")), true, allow},
		{"excluded with its query", req(path("/api/internal?a=1")), false, ReasonNoAllowMatch},
	})
}

// TestSourcePrincipalWithScheme: enrich functions fill SourcePrincipal
// from spiffeauth's spiffeid.ID, whose String() has "spiffe://" in
// front; policies write principals without it. Compared as given, a
// DENY of "cluster.local/ns/evil/sa/x" or of the trust domain never
// matched "spiffe://cluster.local/ns/evil/sa/x" and let the peer
// through. Decide takes the ID in either form.
func TestSourcePrincipalWithScheme(t *testing.T) {
	deny := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: foo}
spec:
  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/ns/evil/sa/x"]}}]
  - from: [{source: {trustDomains: ["partner.example"]}}]
  - when: [{key: source.principal, values: ["cluster.local/ns/a/sa/root"]}]
`)
	runChecks(t, deny, []check{
		{"principal", req(peer("spiffe://cluster.local/ns/evil/sa/x")), false, "DENY foo/deny rule 0: from[0] principals"},
		{"trust domain", req(peer("spiffe://partner.example/ns/a/sa/b")), false, "DENY foo/deny rule 1: from[0] trustDomains"},
		{"source.principal", req(peer("spiffe://cluster.local/ns/a/sa/root")), false, "DENY foo/deny rule 2: when source.principal"},
		{"other peer", req(peer("spiffe://cluster.local/ns/a/sa/b")), true, ReasonNoAllowPolicy},
	})
	allow := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: foo}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/*"]}}]
`)
	runChecks(t, allow, []check{
		{"allowed with the scheme", req(peer("spiffe://cluster.local/ns/a/sa/b")), true, "ALLOW foo/allow rule 0: from[0] principals"},
		{"allowed without", req(peer("cluster.local/ns/a/sa/b")), true, "ALLOW foo/allow rule 0: from[0] principals"},
		{"another trust domain", req(peer("spiffe://partner.example/ns/a/sa/b")), false, ReasonNoAllowMatch},
	})
}

// TestPseudoHeadersRefused: a condition on a pseudo-header Decide does
// not fill (":scheme", ":protocol", ...) read a header net/http never
// has, so a DENY of request.headers[:scheme] "http" (plaintext) compiled
// and denied nothing. Load and Compile refuse them as unsupported; ":authority",
// ":method" and ":path" are read from the request.
func TestPseudoHeadersRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{":scheme", false}, {":protocol", false}, {":status", false}, {":Scheme", false},
		{":authority", true}, {":method", true}, {":path", true}, {"host", true}, {"x-team", true},
	} {
		ps, err := Load("test.yaml", []byte(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: foo}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[`+tc.name+`]", values: ["http"]}]
`))
		if err == nil { // Load checks policies as Compile does
			_, err = Compile(ps, Workload{Namespace: "foo"})
		}
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Compile error %v, want ErrUnsupported", tc.name, err)
		}
	}
}

// TestCompileNoneApply: policies written for a workload, compiled with a
// Workload that none selects (left out: namespace "default", no labels;
// or its labels forgotten), compiled to an engine without policies,
// which allows every request: the DENY below never ran. Compile refuses
// such a set, as `ward proxy` refuses the file.
func TestCompileNoneApply(t *testing.T) {
	ps, err := Load("shop.yaml", []byte(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []Workload{{}, {Namespace: "shop"}, {Namespace: "shop", Labels: map[string]string{"app": "web"}}} {
		e, err := Compile(ps, w)
		if !errors.Is(err, ErrNoneApply) {
			d := "no engine"
			if e != nil {
				d = e.Decide(req(path("/admin"))).Reason
			}
			t.Errorf("Compile for %+v: error %v (/admin: %s), want ErrNoneApply", w, err, d)
		}
	}
	e, err := Compile(ps, Workload{Namespace: "shop", Labels: map[string]string{"app": "api"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Decide(req(path("/admin"))); d.Allowed {
		t.Errorf("/admin allowed: %s", d.Reason)
	}
	// No policies at all is Istio's "allow" for a workload, but an
	// engine a service wraps its handler in was meant to authorize: no
	// policies is an empty file (TestHandlerNoPoliciesRefused).
	if _, err := Compile(nil, Workload{}); !errors.Is(err, ErrNoneApply) {
		t.Errorf("Compile(nil): %v, want ErrNoneApply", err)
	}
	// A dry-run policy that applies is chosen, not mistaken.
	ps[0].Annotations = map[string]string{DryRunAnnotation: "true"}
	if _, err := Compile(ps, Workload{Namespace: "shop", Labels: map[string]string{"app": "api"}}); err != nil {
		t.Errorf("dry run: %v", err)
	}
}

// TestNamespacesAnyOccurrence: Istio matches namespaces with the regular
// expression ".*/ns/<namespace>/.*" on the principal, so it denies a
// peer "example.org/ns/dev/sa/ci/ns/admin/x" (SPIRE registers IDs of any
// path) a DENY of namespace admin; Decide read the first "/ns/" alone
// and let it through. Values that deny (in a DENY) or exclude (notX in an
// ALLOW) match any "/ns/<namespace>/"; values that allow, the first.
func TestNamespacesAnyOccurrence(t *testing.T) {
	const odd = "example.org/ns/dev/sa/ci/ns/admin/x"
	deny := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: foo}
spec:
  action: DENY
  rules:
  - from: [{source: {namespaces: ["admin"]}}]
  - when: [{key: source.namespace, values: ["kube-*"]}]
`)
	runChecks(t, deny, []check{
		{"namespaces", req(peer(odd)), false, "DENY foo/deny rule 0: from[0] namespaces"},
		{"source.namespace", req(peer("example.org/ns/dev/sa/ci/ns/kube-system/x")), false, "DENY foo/deny rule 1: when source.namespace"},
		{"first namespace", req(peer("example.org/ns/admin/sa/x")), false, "DENY foo/deny rule 0: from[0] namespaces"},
		{"other", req(peer("example.org/ns/dev/sa/ci")), true, ReasonNoAllowPolicy},
		{"no slash after", req(peer("example.org/ns/dev/sa/ns/admin")), true, ReasonNoAllowPolicy},
	})
	allow := engine(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: foo}
spec:
  rules:
  - from: [{source: {namespaces: ["admin", "dev"], notNamespaces: ["quarantine"]}}]
`)
	runChecks(t, allow, []check{
		{"allowing value reads the first", req(peer("example.org/ns/web/sa/x/ns/admin/y")), false, ReasonNoAllowMatch},
		{"allowed", req(peer("example.org/ns/dev/sa/x")), true, "ALLOW foo/allow rule 0: from[0] namespaces, notNamespaces"},
		{"excluded by any", req(peer("example.org/ns/dev/sa/x/ns/quarantine/y")), false, ReasonNoAllowMatch},
	})
}
