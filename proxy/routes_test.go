package proxy

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRoutes: requests go to the first route that matches host and
// normalized path, in file order, with that route's upstream, policies,
// WAF and size limits; the path is forwarded unchanged; a request no
// route matches goes through the top-level checks (which refuse it here;
// see TestAttackRouteEnumeration for the 404 after them); a route an
// earlier one covers is reported.
func TestRoutes(t *testing.T) {
	a, b := newRawUpstream(t), newRawUpstream(t)
	const public = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: public, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {methods: ["GET"]}}]}]
`
	const statusPolicy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: status, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules:
  - from: [{source: {principals: ["example.org/ns/shop/sa/web", "example.org/ns/shop/sa/batch"]}}]
    to: [{operation: {paths: ["/api/status"]}}]
`
	h := startWith(t, setup{upstream: a.URL(),
		files:   map[string][]byte{"public.yaml": []byte(public), "status.yaml": []byte(statusPolicy)},
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 1000, burst: 1000}"},
		extra: `routes:
  - name: public
    match: {host: "*.public.example", prefix: /}
    upstream: {url: ` + b.URL() + `}
    authorization: {policies: [public.yaml]}
  - name: status
    match: {path: /api/status}
    upstream: {url: ` + b.URL() + `}
    authorization: {policies: [status.yaml]}
  - name: api
    match: {prefix: /api/}
    waf: {mode: block}
    limits: {maxBodyBytes: 10}
  - name: api-v2
    match: {prefix: /api/v2/}
    upstream: {url: ` + b.URL() + `}
`})
	tests := []struct {
		who, method, host, target string
		want                      int
		up                        *rawUpstream // nil: neither receives it
		line                      string
	}{
		{"web", "GET", "api", "/api/items", 200, a, "GET /api/items HTTP/1.1"},
		{"web", "GET", "api", "/api/v2/x", 200, a, "GET /api/v2/x HTTP/1.1"}, // first match wins
		{"web", "GET", "api", "//api/status", 200, b, "GET /api/status HTTP/1.1"},
		{"batch", "GET", "api", "/api/status", 200, b, "GET /api/status HTTP/1.1"}, // the route's policies
		{"batch", "GET", "api", "/api/items", 403, nil, ""},                        // the top-level policies
		{"batch", "GET", "www.public.example:8443", "/docs/x", 200, b, "GET /docs/x HTTP/1.1"},
		{"batch", "GET", "public.example", "/docs/x", 403, nil, ""}, // *. needs a subdomain: no route, the top-level policies
		{"web", "GET", "api", "/other", 403, nil, ""},
		{"web", "GET", "api", "/api/items?q=%3Cscript%3Ealert(1)%3C/script%3E", 403, nil, ""}, // the route's WAF
		{"web", "GET", "api", "/api/status?q=%3Cscript%3Ealert(1)%3C/script%3E", 200, b, "GET /api/status?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1"},
		{"web", "POST", "api", "/api/items", 413, nil, ""}, // the route's size limit
	}
	for _, tt := range tests {
		na, nb := len(a.requests()), len(b.requests())
		body := ""
		if tt.method == "POST" {
			body = strings.Repeat("x", 100)
		}
		resp := h.raw(t, tt.who, tt.method+" "+tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body)
		gotA, gotB := a.requests()[na:], b.requests()[nb:]
		name := tt.who + " " + tt.method + " " + tt.host + tt.target
		if status(resp) != tt.want {
			t.Errorf("%s: %d, want %d", name, status(resp), tt.want)
		}
		var got []string
		switch tt.up {
		case a:
			got, gotA = gotA, nil
		case b:
			got, gotB = gotB, nil
		}
		if len(gotA)+len(gotB) > 0 {
			t.Errorf("%s reached the wrong upstream: a %q, b %q", name, gotA, gotB)
		}
		if tt.up != nil && (len(got) != 1 || requestLine(got[0]) != tt.line) {
			t.Errorf("%s: the upstream received %q, want %q", name, got, tt.line)
		}
	}
	var warned bool
	for _, w := range h.srv.cur.Load().Warnings() {
		warned = warned || strings.Contains(w, "route api-v2 can never match: route api")
	}
	if !warned {
		t.Errorf("no warning for the shadowed route: %q", h.srv.cur.Load().Warnings())
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(h.audit.String(), "\n") {
		if strings.Contains(line, `"path":"/other"`) && (!strings.Contains(line, `"rule":"authz"`) || strings.Contains(line, `"route":`)) {
			t.Errorf("an unrouted request's audit record: %s; want the top-level authorization's denial, no route", line)
		}
	}
	if log := h.audit.String(); !strings.Contains(log, `"route":"status"`) || !strings.Contains(log, `"path":"/other"`) {
		t.Errorf("audit records lack the route:\n%s", log)
	}
}

// TestAttackRouteLosesAuthorization (hole 5 with routes): a reload in
// which a route loses its own policies, with no top-level ones to fall
// back on, is refused: the route would otherwise allow everything.
func TestAttackRouteLosesAuthorization(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(),
		replace: []string{"authorization:\n  policies: [policies.yaml]\n", ""},
		extra:   "routes:\n  - name: api\n    match: {prefix: /}\n    authorization: {policies: [policies.yaml]}\n"})
	admin := func(step string) {
		t.Helper()
		resp, got := sendRaw(t, h, u, "web", "GET", "/admin")
		if status(resp) != 403 || len(got) != 0 {
			t.Errorf("%s: GET /admin %d, upstream received %d", step, status(resp), len(got))
		}
	}
	admin("before")
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), "    authorization: {policies: [policies.yaml]}\n", "", 1)))
	if err := h.srv.Reload(); err == nil {
		t.Error("a reload that drops the route's only policies was accepted")
	}
	admin("after the refused reload")
}

// TestRoutesJWTAndRateLimit: a route's JWT requirement and rate limit
// apply to its requests only.
func TestRoutesJWTAndRateLimit(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 1000, burst: 1000}"},
		extra: `jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}
routes:
  - name: private
    match: {prefix: /api/private/}
    jwt: {required: true}
  - name: limited
    match: {prefix: /api/limited/}
    rateLimit: {rate: 0.01, burst: 2}
  - name: api
    match: {prefix: /api/}
`})
	get := func(path string, hdr ...string) (int, int) {
		before := len(u.requests())
		resp, _ := sendRaw(t, h, u, "web", "GET", path, hdr...)
		return status(resp), len(u.requests()) - before
	}
	if code, n := get("/api/private/x"); code != 401 || n != 0 {
		t.Errorf("private route without a token: %d, upstream got %d", code, n)
	}
	if code, n := get("/api/private/x", "Authorization", "Bearer "+iss.token(t, "alice")); code != 200 || n != 1 {
		t.Errorf("private route with a token: %d, upstream got %d", code, n)
	}
	if code, n := get("/api/items"); code != 200 || n != 1 {
		t.Errorf("api route without a token: %d, upstream got %d", code, n)
	}
	var codes []int
	for range 3 {
		code, _ := get("/api/limited/x")
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 200 429]" {
		t.Errorf("limited route: %v, want [200 200 429]", codes)
	}
	if code, _ := get("/api/items"); code != 200 {
		t.Errorf("api route after the limited one ran out: %d", code)
	}
}
