package proxy

// Requests whose headers the checks read one way and the upstream's
// framework another, replayed against a loopback upstream that records
// the raw bytes it receives (rawUpstream).

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestAttackHeaderNamePunctuation: PHP registers $_SERVER (from FastCGI
// parameters, as PHP-FPM behind Caddy or FrankenPHP receives them) with
// every '.' of a name as '_', so "X-Spiffe.Id" is the HTTP_X_SPIFFE_ID
// that X-Spiffe-Id becomes, and "X-Jwt.Sub" the verified subject an
// outputClaimToHeaders header carries. Only '_' was removed: a client
// with no token forged the subject, the peer identity, the client
// address and a header a DENY reads, over HTTP/1.1 and HTTP/2. Every
// client header whose name has a byte other than a letter, digit or '-'
// is now removed, as nginx's ignore_invalid_headers does.
func TestAttackHeaderNamePunctuation(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	pols := policies + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-debug, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{when: [{key: "request.headers[x-debug]", values: ["*"]}]}]
`
	h := startWith(t, setup{upstream: u.URL(), policies: pols, files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}], outputClaimToHeaders: [{header: X-Jwt-Sub, claim: sub}]}\n"})
	forged := []string{
		"X-Jwt.Sub", "admin",
		"X-Spiffe.Id", "spiffe://example.org/ns/shop/sa/admin",
		"X-Forwarded-Client.Cert", "URI=spiffe://example.org/ns/shop/sa/admin",
		"X-Forwarded.For", "10.9.9.9",
		"X-Real.IP", "10.9.9.9",
		"Remote.User", "admin",
		"X-Http-Method.Override", "DELETE",
		"X.Debug", "1",
		"X-Debug!", "1", // no reader known to fold it: removed all the same
	}
	// odd reports header lines the upstream received that are not
	// letters, digits and '-'.
	odd := func(req string) []string {
		var names []string
		head, _, _ := strings.Cut(req, "\r\n\r\n")
		for _, line := range strings.Split(head, "\r\n")[1:] {
			if name, _, _ := strings.Cut(line, ":"); strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
				names = append(names, line)
			}
		}
		return names
	}

	// HTTP/1.1: the request is allowed (the DENY reads X-Debug, which
	// the client did not send), and reaches the upstream without them.
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", append(forged, "X-Other", "v")...)
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("HTTP/1.1: status %d, the upstream got %d requests", status(resp), len(got))
	}
	if names := odd(got[0]); len(names) != 0 {
		t.Errorf("HTTP/1.1: the upstream received %q", names)
	}
	if !slices.Equal(header(got[0], "X-Other"), []string{"v"}) {
		t.Errorf("HTTP/1.1: X-Other %q, want it forwarded (else this test proves nothing)", header(got[0], "X-Other"))
	}

	// HTTP/2 (lower-case names, as PHP sees them alike).
	req, err := http.NewRequest("GET", h.url+"/api/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Client", "h2")
	for i := 0; i+1 < len(forged); i += 2 {
		req.Header[strings.ToLower(forged[i])] = []string{forged[i+1]}
	}
	before := len(u.requests())
	r2, err := h.client("web").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = r2.Body.Close()
	if r2.ProtoMajor != 2 || r2.StatusCode != 200 {
		t.Fatalf("HTTP/2: %s %d, want HTTP/2 200", r2.Proto, r2.StatusCode)
	}
	got = u.requests()[before:]
	if len(got) != 1 {
		t.Fatalf("HTTP/2: the upstream got %d requests", len(got))
	}
	if names := odd(got[0]); len(names) != 0 {
		t.Errorf("HTTP/2: the upstream received %q", names)
	}

	// A configuration cannot keep or key a rate limit by such a name:
	// it never reaches a check.
	cfg := &Config{Headers: &Headers{Keep: []string{"X-Real.IP"}}}
	if !cfg.removedHeader("X-Real.IP") {
		t.Error("removedHeader(X-Real.IP) is false")
	}
}

// TestAttackSchemeAndMountHeaders: X-Scheme (Tornado's xheaders read it
// before X-Forwarded-Proto, Sanic after) and X-Script-Name (the
// ReverseProxied WSGI middleware of Flask's snippets cuts it off
// PATH_INFO: "/api/admin" with "X-Script-Name: /api" runs "/admin") reached
// the upstream from any client, as X-Url-Scheme and X-Forwarded-Prefix no
// longer did.
func TestAttackSchemeAndMountHeaders(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/admin", "X-Scheme", "https", "X-Script-Name", "/api", "X-Kept", "yes")
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("status %d, the upstream got %d requests", status(resp), len(got))
	}
	for _, name := range []string{"X-Scheme", "X-Script-Name"} {
		if v := header(got[0], name); len(v) != 0 {
			t.Errorf("%s reached the upstream: %q", name, v)
		}
	}
	if v := header(got[0], "X-Kept"); len(v) != 1 {
		t.Errorf("X-Kept: %q, want it forwarded (else this test proves nothing)", v)
	}
}

// TestAttackPolicyOnForwardedHeaders: a policy reading a header that the
// proxy sets for the upstream (a jwt.outputClaimToHeaders header,
// X-Forwarded-Client-Cert, X-Forwarded-For) was matched against the
// request as it came, from which the client's own had been removed: a
// DENY of X-Jwt-Sub admin denied nothing, and the upstream got X-Jwt-Sub:
// admin. In Envoy the connection manager sets these (and jwt_authn its
// claim_to_headers) before the RBAC filter runs, so a policy written for
// Istio sees them; the proxy now matches them as the upstream gets them.
func TestAttackPolicyOnForwardedHeaders(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	pols := policies
	for _, c := range []struct{ path, header, value string }{
		{"/api/sub", "x-jwt-sub", "admin"},
		{"/api/cert", "x-forwarded-client-cert", "*;URI=spiffe://example.org/ns/shop/sa/web"},
		{"/api/xff", "x-forwarded-for", "127.0.0.1"},
	} {
		pols += `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny` + strings.ReplaceAll(c.path, "/", "-") + `, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["` + c.path + `"]}}], when: [{key: "request.headers[` + c.header + `]", values: ["` + c.value + `"]}]}]
`
	}
	h := startWith(t, setup{upstream: u.URL(), policies: pols, files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}], outputClaimToHeaders: [{header: X-Jwt-Sub, claim: sub}]}\n"})
	admin, alice := "Bearer "+iss.token(t, "admin"), "Bearer "+iss.token(t, "alice")
	tests := []struct {
		path, token string
		want        int
	}{
		{"/api/sub", admin, 403},
		{"/api/sub", alice, 200},
		{"/api/cert", alice, 403},
		{"/api/xff", alice, 403},
		{"/api/other", admin, 200},
	}
	for _, tt := range tests {
		resp, got := sendRaw(t, h, u, "web", "GET", tt.path, "Authorization", tt.token)
		if status(resp) != tt.want {
			t.Errorf("%s: status %d, want %d", tt.path, status(resp), tt.want)
		}
		if tt.want == 403 && len(got) != 0 {
			t.Errorf("%s: the upstream received %q", tt.path, got)
		}
		if tt.want == 200 && (len(got) != 1 || len(header(got[0], "X-Jwt-Sub")) != 1) {
			t.Errorf("%s: the upstream received %q, want one request with X-Jwt-Sub", tt.path, got)
		}
	}
}

// TestAttackOptionsAsterisk: "OPTIONS *" was answered 200 by net/http
// itself, over HTTP/1.1 and HTTP/2, before any check and without an audit
// record (the proxy's record of every request had a gap a client chose).
// It now reaches the checks, which refuse it (400), and is recorded.
func TestAttackOptionsAsterisk(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	if resp := h.raw(t, "web", "OPTIONS * HTTP/1.1\r\nHost: api\r\nX-Client: h1\r\nConnection: close\r\n\r\n"); status(resp) != 400 {
		t.Errorf("HTTP/1.1: %.60q, want 400", resp)
	}
	req, err := http.NewRequest("OPTIONS", h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "*"
	req.Header.Set("X-Client", "h2")
	resp, err := h.client("web").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 400 {
		t.Errorf("HTTP/2: %s %d, want HTTP/2 400", resp.Proto, resp.StatusCode)
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h.audit.String(), `"method":"OPTIONS"`); n != 2 {
		t.Errorf("%d audit records of the 2 requests:\n%s", n, h.audit.String())
	}
	if n := len(u.requests()); n != 0 {
		t.Errorf("the upstream received %d requests", n)
	}
}

// TestAttackHTTPoxy: a client's Proxy header reached the upstream, and
// CGI-style gateways (PHP-FPM's getenv, Python
// CGI and WSGI servers) present it as the HTTP_PROXY that HTTP client
// libraries take as their outbound proxy (httpoxy, CVE-2016-5385 and
// siblings): the upstream's own requests went through the client's
// server. Go's net/http/cgi skips the header for this reason; the proxy
// removes it from every request (headers.keep cannot keep it). Likewise Next.js's
// internal X-Middleware-Subrequest, with which a client skipped the
// middleware that checks sign-in (CVE-2025-29927).
func TestAttackHTTPoxy(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/x", "Proxy", "http://attacker.example:8080",
		"X-Middleware-Subrequest", "middleware:middleware:middleware:middleware:middleware", "X-Kept", "yes")
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("status %d, the upstream got %d requests", status(resp), len(got))
	}
	for _, name := range []string{"Proxy", "X-Middleware-Subrequest"} {
		if v := header(got[0], name); len(v) != 0 {
			t.Errorf("%s reached the upstream: %q", name, v)
		}
	}
	if v := header(got[0], "X-Kept"); len(v) != 1 {
		t.Errorf("X-Kept: %q, want it forwarded (else this test proves nothing)", v)
	}
}
