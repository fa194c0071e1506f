package proxy

import (
	"encoding/base64"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/wardsec/ward/guard/audit"
)

// nobody is a policy no request passes: its route refuses everything.
const nobody = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: nobody, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{from: [{source: {principals: ["example.org/ns/shop/sa/nobody"]}}]}]
`

// anyGet is a policy every GET passes.
const anyGet = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: any-get, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {methods: ["GET"]}}]}]
`

// TestAttackRouteMatchForms: a route's match written in a form requests
// are never compared in (a host with a trailing dot or as a bracketed
// IPv6 address the request names with a port; a path with a non-ASCII
// character, a lower-case or an unreserved escape) never matched, and its
// requests went to the next route that did: a closed route behind a
// catch-all was open. Such matches are now compared in the requests'
// form; a match no request can take (a host with a port, a path with
// "//", "?" or a dot segment) is refused.
func TestAttackRouteMatchForms(t *testing.T) {
	for _, tt := range []struct {
		match      string // the closed route's match
		host, path string // a request it must refuse
	}{
		{`{host: "admin.example.com.", prefix: /}`, "admin.example.com", "/x"},
		{`{host: "ADMIN.example.com.", prefix: /}`, "admin.example.com.:8443", "/x"},
		{`{host: "[::1]", prefix: /}`, "[::1]:8443", "/x"},
		{`{host: "[::1]", prefix: /}`, "[::1]", "/x"},
		{`{prefix: "/café/"}`, "api", "/caf%C3%A9/x"},
		{`{prefix: "/caf%c3%a9/"}`, "api", "/caf%C3%A9/x"},
		{`{prefix: "/%7eadmin/"}`, "api", "/~admin/x"},
		{`{path: "/%7eadmin"}`, "api", "/%7Eadmin"},
	} {
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(),
			files: map[string][]byte{"nobody.yaml": []byte(nobody), "any.yaml": []byte(anyGet)},
			extra: "routes:\n  - name: closed\n    match: " + tt.match + "\n    authorization: {policies: [nobody.yaml]}\n" +
				"  - name: open\n    match: {prefix: /}\n    authorization: {policies: [any.yaml]}\n"})
		before := len(u.requests())
		resp := h.raw(t, "web", "GET "+tt.path+" HTTP/1.1\r\nHost: "+tt.host+"\r\nX-Client: a\r\nConnection: close\r\n\r\n")
		if got := u.requests()[before:]; status(resp) != 403 || len(got) != 0 {
			t.Errorf("match %s, GET %s Host %s: %d, the upstream received %q; want the closed route's 403", tt.match, tt.path, tt.host, status(resp), got)
		}
	}
	for _, match := range []string{
		`{host: "admin.example.com:8443", prefix: /}`,
		`{host: "::1", prefix: /}`,
		`{host: "*.example.com:443", prefix: /}`,
		`{prefix: "/api//admin/"}`,
		`{prefix: "/api/../admin/"}`,
		`{path: "/login?next=/admin"}`,
		`{prefix: "/api/%2F"}`,
		`{prefix: "/api/%zz"}`,
	} {
		path := filepath.Join(t.TempDir(), "p.yaml")
		writeFile(t, path, []byte("upstream: {url: 'http://a:1'}\nroutes:\n  - name: r\n    match: "+match+"\n"))
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "routes[0].match") {
			t.Errorf("match %s: %v, want an error: no request can match it", match, err)
		}
	}
}

// TestAttackWAFPathForms: waf.paths written with a non-ASCII character
// or an escape in another case than requests are compared in never
// matched, and the WAF skipped the requests it was meant for; so did
// requests whose path differs from a waf.paths prefix in case only.
func TestAttackWAFPathForms(t *testing.T) {
	for _, p := range []string{"/café/", "/caf%c3%a9/"} {
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(), policies: anyGet, extra: "waf: {paths: [\"" + p + "\"]}\n"})
		before := len(u.requests())
		resp := h.raw(t, "web", "GET /caf%C3%A9/x?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: api\r\nX-Client: a\r\nConnection: close\r\n\r\n")
		if got := u.requests()[before:]; status(resp) != 403 || len(got) != 0 {
			t.Errorf("waf.paths [%s]: %d, the upstream received %q; want the WAF's 403", p, status(resp), got)
		}
	}
	// Paths in another case: ASP.NET Core and IIS route /API/x and
	// /%41pi/x to the handler of /api/x; the WAF skipped them.
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyGet, extra: "waf: {paths: [/api/]}\n"})
	for _, target := range []string{"/api/x", "/API/x", "/Api/x", "/%41pi/x", "/aPI/x"} {
		resp, got := sendRaw(t, h, u, "web", "GET", target+"?id=1'%20or%20'1'='1")
		if status(resp) != 403 || len(got) != 0 {
			t.Errorf("waf.paths [/api/], GET %s: %d, the upstream received %q; want the WAF's 403", target, status(resp), got)
		}
	}
	if resp, got := sendRaw(t, h, u, "web", "GET", "/apix?id=1'%20or%20'1'='1"); status(resp) != 200 || len(got) != 1 {
		t.Errorf("waf.paths [/api/], GET /apix: %d, want 200 uninspected (else this test proves nothing)", status(resp))
	}
	path := filepath.Join(t.TempDir(), "p.yaml")
	writeFile(t, path, []byte("upstream: {url: 'http://a:1'}\nwaf: {paths: [\"/api//x\"]}\n"))
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "waf.paths[0]") {
		t.Errorf("waf.paths [/api//x]: %v, want an error", err)
	}
}

// TestAttackQueryToken: the proxy reads bearer tokens from the
// Authorization header only, and forwarded one in the query
// (?access_token=, where Envoy's jwt_authn, and so Istio, also looks by
// default, and which ASP.NET, SignalR and Spring can read) unverified: a
// token the proxy refuses in the header (another audience) reached the
// upstream, which the proxy's authorization had let in as anonymous. With
// jwt set, a query naming access_token is refused.
func TestAttackQueryToken(t *testing.T) {
	iss := newJWTIssuer(t) // its tokens are for audience "shop"
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: anyGet, files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, audiences: [orders], algorithms: [ES256], jwksFile: jwks.json}]}\n"})
	tok := iss.token(t, "alice")
	if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok); status(resp) != 401 || len(got) != 0 {
		t.Fatalf("the token in the header: %d, upstream received %d requests; want 401", status(resp), len(got))
	}
	for _, q := range []string{"access_token=" + tok, "a=1&access_token=" + tok, "a=1;access_token=" + tok,
		"Access_Token=" + tok, "access%5Ftoken=" + tok, "access_token"} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items?"+q)
		if status(resp) != 400 || len(got) != 0 {
			t.Errorf("GET /api/items?%.40s: %d, the upstream received %q; want 400", q, status(resp), got)
		}
	}
	for _, q := range []string{"token=x", "my_access_token=x", "q=access_token"} {
		if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items?"+q); status(resp) != 200 || len(got) != 1 {
			t.Errorf("GET /api/items?%s: %d, want 200", q, status(resp))
		}
	}
	// Kubernetes' WebSocket clients send the token as a subprotocol
	// (base64url.bearer.authorization.k8s.io.<token>), which its API
	// server, and servers written like it, read.
	enc := base64.RawURLEncoding.EncodeToString([]byte(tok))
	for _, v := range []string{"base64url.bearer.authorization.k8s.io." + enc,
		"v4.channel.k8s.io, base64url.bearer.authorization.k8s.io." + enc,
		"v4.channel.k8s.io,Base64URL.Bearer.Authorization.K8s.IO." + enc} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Sec-WebSocket-Protocol", v)
		if status(resp) != 400 || len(got) != 0 {
			t.Errorf("Sec-WebSocket-Protocol: %.60s: %d, the upstream received %q; want 400", v, status(resp), got)
		}
	}
	// The token in a second Sec-WebSocket-Protocol field, after a tab.
	if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Sec-WebSocket-Protocol", "v4.channel.k8s.io",
		"Sec-WebSocket-Protocol", "\tbase64url.bearer.authorization.k8s.io."+enc); status(resp) != 400 || len(got) != 0 {
		t.Errorf("the token in a second Sec-WebSocket-Protocol field: %d, the upstream received %q; want 400", status(resp), got)
	}
	if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Sec-WebSocket-Protocol", "v4.channel.k8s.io, graphql-ws"); status(resp) != 200 || len(got) != 1 {
		t.Errorf("Sec-WebSocket-Protocol without a token: %d, want 200", status(resp))
	}
}

// TestAttackConnectionDropsCheckedHeader: a header the client names in
// Connection is removed by the forwarding step (RFC 9110 7.6.1), after
// the checks saw it: an ALLOW on X-Tenant: a let the request in, and the
// upstream got no X-Tenant (its default tenant). Nominated headers are
// now removed before the checks, which see what the upstream gets.
func TestAttackConnectionDropsCheckedHeader(t *testing.T) {
	const tenantA = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: tenant-a, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{when: [{key: "request.headers[X-Tenant]", values: ["a"]}]}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: tenantA})
	if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Tenant", "a"); status(resp) != 200 || len(got) != 1 || len(header(got[0], "X-Tenant")) != 1 {
		t.Fatalf("X-Tenant: a: %d, upstream %q; want it forwarded", status(resp), got)
	}
	// Proxy-Authorization is removed by forwarding whatever Connection says.
	const proxyAuth = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: proxy-auth, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{when: [{key: "request.headers[Proxy-Authorization]", values: ["*"]}]}]
`
	u2 := newRawUpstream(t)
	h2 := startWith(t, setup{upstream: u2.URL(), policies: proxyAuth})
	if resp, got := sendRaw(t, h2, u2, "web", "GET", "/api/items", "Proxy-Authorization", "Basic eDp5"); status(resp) != 403 || len(got) != 0 {
		t.Errorf("an ALLOW on Proxy-Authorization, which the upstream never gets: %d, upstream received %q; want 403", status(resp), got)
	}
	for _, conn := range []string{"X-Tenant", "keep-alive, x-tenant", "X-Other,X-TENANT"} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Tenant", "a", "Connection", conn)
		for _, req := range got {
			if len(header(req, "X-Tenant")) == 0 {
				t.Errorf("Connection: %s: %d, the upstream received the request without the X-Tenant the policy allowed", conn, status(resp))
			}
		}
		if status(resp) != 403 {
			t.Errorf("Connection: %s: %d, want 403 (the checks see no X-Tenant, as the upstream)", conn, status(resp))
		}
	}
}

// TestAttackUpstreamURLPath: an upstream URL with a path or a query was
// accepted, and every request was forwarded under it ("/x" as
// "/internal/x", "?a=1" with "tenant=a&" before it): the upstream got
// another path than the one the policies decided on, although paths are
// documented as forwarded unchanged (an Envoy cluster has no path; a
// rewrite is explicit). Such URLs are refused.
func TestAttackUpstreamURLPath(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:8080/internal", "http://127.0.0.1:8080/internal/", "http://127.0.0.1:8080/?tenant=a",
		"http://127.0.0.1:8080?tenant=a", "http://127.0.0.1:8080#x", "http://u:p@127.0.0.1:8080"} {
		for _, cfg := range []string{"upstream: {url: '" + url + "'}\n",
			"upstream: {url: 'http://a:1'}\nroutes:\n  - name: r\n    match: {prefix: /}\n    upstream: {url: '" + url + "'}\n"} {
			path := filepath.Join(t.TempDir(), "p.yaml")
			writeFile(t, path, []byte(cfg))
			if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "upstream.url") {
				t.Errorf("%s: %v, want an error", strings.ReplaceAll(cfg, "\n", " "), err)
			}
		}
	}
	for _, url := range []string{"http://127.0.0.1:8080", "http://127.0.0.1:8080/", "https://[::1]:8443"} {
		path := filepath.Join(t.TempDir(), "p.yaml")
		writeFile(t, path, []byte("upstream: {url: '"+url+"'}\n"))
		if _, err := LoadConfig(path); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
}

// TestAttackRouteEnumeration: a request no route matched got 404 before
// any check, where a routed one without credentials got 401 or 403, so an
// anonymous client could list which paths exist. A request no route
// matches now goes through the top-level checks first (as Istio's
// RequestAuthentication and AuthorizationPolicy apply before routing):
// without credentials it gets what a routed request gets; with them, 404.
func TestAttackRouteEnumeration(t *testing.T) {
	iss := newJWTIssuer(t)
	const jwtRequired = "jwt: {required: true, issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}\n"
	const routes = "routes:\n  - name: api\n    match: {prefix: /api/}\n  - name: health\n    match: {path: /healthz}\n"
	bearer := []string{"Authorization", "Bearer " + iss.token(t, "alice")}
	for _, tt := range []struct {
		name     string
		policies string // top-level; "" for none
		extra    string
		who      string
		hdr      []string
		routed   int // GET /api/items
		unrouted int // GET /internal/x, GET /api (no route has it)
	}{
		{"jwt anonymous", "", jwtRequired, "web", nil, 401, 401},
		{"jwt bad token", "", jwtRequired, "web", []string{"Authorization", "Bearer x.y.z"}, 401, 401},
		{"jwt authenticated", "", jwtRequired, "web", bearer, 200, 404},
		{"authorization denied", nobody, "", "web", nil, 403, 403},
		{"authorization allowed", anyGet, "", "web", nil, 200, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newRawUpstream(t)
			su := setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks}, extra: tt.extra + routes}
			if tt.policies == "" {
				su.replace = []string{"authorization:\n  policies: [policies.yaml]\n", "authorization: none\n"}
			} else {
				su.policies = tt.policies
			}
			su.replace = append(su.replace, `rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 1000, burst: 1000}")
			h := startWith(t, su)
			if resp, got := sendRaw(t, h, u, tt.who, "GET", "/api/items", tt.hdr...); status(resp) != tt.routed || (tt.routed == 200) != (len(got) == 1) {
				t.Fatalf("GET /api/items: %d, the upstream received %d requests; want %d", status(resp), len(got), tt.routed)
			}
			for _, path := range []string{"/internal/x", "/api", "/healthz/x"} {
				if resp, got := sendRaw(t, h, u, tt.who, "GET", path, tt.hdr...); status(resp) != tt.unrouted || len(got) != 0 {
					t.Errorf("GET %s (no route): %d, the upstream received %q; want %d, as a routed request", path, status(resp), got, tt.unrouted)
				}
			}
			if err := h.srv.auditBuf.Flush(); err != nil {
				t.Fatal(err)
			}
			seen := false
			for _, line := range strings.Split(strings.TrimSpace(h.audit.String()), "\n") {
				if !strings.Contains(line, `"path":"/internal/x"`) {
					continue
				}
				seen = true
				if strings.Contains(line, `"route":`) {
					t.Errorf("an unrouted request's audit record names a route: %s", line)
				}
			}
			if !seen {
				t.Errorf("no audit record for GET /internal/x:\n%s", h.audit.String())
			}
		})
	}
}

// anyRequest is a policy every request passes.
const anyRequest = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: any, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{}]
`

// TestAttackBodyToken: RFC 6750 2.2 lets a client send its bearer token
// as a form body field access_token, which Spring Security
// (allowFormEncodedBodyParameter), Doorkeeper and Rack's OAuth2
// middlewares read; the proxy verified the Authorization header only and
// forwarded such a body whole, so the upstream acted on a token the proxy
// never verified (here, one for another audience, which the proxy refuses
// in the header). With jwt set, a form body naming access_token is now
// cut off before the field's value leaves the proxy, and answered 400.
func TestAttackBodyToken(t *testing.T) {
	iss := newJWTIssuer(t) // its tokens are for audience "shop"
	const jwtOrders = "jwt: {issuers: [{issuer: https://id.test, audiences: [orders], algorithms: [ES256], jwksFile: jwks.json}]}\n"
	const routes = "routes:\n  - name: api\n    match: {prefix: /}\n"
	tok := iss.token(t, "alice")
	mp := func(name string) string {
		return "--B0\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nabc\r\n" +
			"--B0\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + tok + "\r\n--B0--\r\n"
	}
	form, multi := "application/x-www-form-urlencoded", "multipart/form-data; boundary=B0"
	pad := "pad=" + strings.Repeat("p", 64<<10)
	for _, su := range []struct {
		name, extra string
		jwt         bool
	}{
		{"jwt", jwtOrders, true},
		{"jwt route", jwtOrders + routes, true},
		{"no jwt", "", false},
	} {
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(), policies: anyRequest, files: map[string][]byte{"jwks.json": iss.jwks}, extra: su.extra,
			replace: []string{"limits: {maxBodyBytes: 1024}", "limits: {maxBodyBytes: 1048576}",
				`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 1000, burst: 1000}"}})
		if su.jwt {
			if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok); status(resp) != 401 || len(got) != 0 {
				t.Fatalf("%s: the token in the header: %d, upstream received %d requests; want 401", su.name, status(resp), len(got))
			}
		}
		for _, tt := range []struct {
			name, ctype, body string
			chunked           bool
			split             int // write the body in two parts, the second after a pause, cut here
			token             bool
		}{
			{"form", form, "title=abc&access_token=" + tok, false, 0, true},
			{"form first", form, "access_token=" + tok, false, 0, true},
			{"form escaped", form, "access%5Ftoken=" + tok, false, 0, true},
			{"form escaped letters", form, "%61ccess_token=" + tok, false, 0, true},
			{"form case", form, "Access_Token=" + tok, false, 0, true},
			{"form php name", form, "access.token=" + tok, false, 0, true},
			{"form semicolon", form, "a=1;access_token=" + tok, false, 0, true},
			{"form no content type", "", "access_token=" + tok, false, 0, true},
			{"form charset", "application/x-www-form-urlencoded; charset=UTF-8", "access_token=" + tok, false, 0, true},
			{"form chunked", form, "a=1&access_token=" + tok, true, 0, true},
			// The first part is over the transport's write buffer, so
			// that it reaches the upstream before the rest is sent.
			{"form split in the name", form, pad + "&access_to" + "ken=" + tok, false, len(pad + "&access_to"), true},
			{"multipart", multi, mp("access_token"), false, 0, true},
			{"multipart rfc 2231", multi, strings.Replace(mp("x"), `name="x"`, `name*=UTF-8''access%5Ftoken`, 1), false, 0, true},
			{"multipart chunked", multi, mp("access_token"), true, 0, true},
			{"form legit", form, "authenticity_token=abc&token_type=bearer&q=access_token%3Dx", false, 0, false},
			{"multipart legit", multi, mp("refresh_token"), false, 0, false},
			// JSON bodies are not read for tokens (docs/proxy.md).
			{"json", "application/json", `{"access_token":"` + tok + `"}`, false, 0, false},
		} {
			t.Run(su.name+"/"+tt.name, func(t *testing.T) {
				want := 200
				if tt.token && su.jwt {
					want = 400
				}
				resp := postBody(t, h, u, rawPost{path: "/api/items", client: tt.name, ctype: tt.ctype, body: tt.body, chunked: tt.chunked, split: tt.split}, want)
				if want != 200 && !strings.Contains(resp, `Bearer error="invalid_request"`) {
					t.Errorf("no WWW-Authenticate invalid_request: %.300q", resp)
				}
			})
		}
		if err := h.srv.auditBuf.Flush(); err != nil {
			t.Fatal(err)
		}
		if log := h.audit.String(); su.jwt && (!strings.Contains(log, `"reason":"bearer token field (access_token) in form body: only the Authorization header is verified","rule":"jwt"`) || strings.Contains(log, "upstream error")) {
			t.Errorf("%s: audit records:\n%s", su.name, log)
		}
	}
}

// TestAttackUpgradeTunnelsRequests: an upgrade to a protocol that
// carries HTTP requests (h2c; TLS per RFC 2817) opens a
// tunnel in which every request reaches the upstream unchecked (h2c
// smuggling: the upstream serves the HTTP/2 streams that follow). With
// `upgrades: [websocket, h2c]` a request for /admin, which the policies
// deny, reached the upstream through one. Such names are a
// configuration error.
func TestAttackUpgradeTunnelsRequests(t *testing.T) {
	for _, up := range []string{"h2c", "H2C", "h2", "http", "TLS"} {
		_, err := ParseConfig("p.yaml", []byte("upstream: {url: http://x}\nupgrades: [websocket, "+up+"]\n"))
		if err != nil {
			if !strings.Contains(err.Error(), "p.yaml:2: upgrades[1]") {
				t.Errorf("upgrades: [websocket, %s]: error %v, want one naming p.yaml:2", up, err)
			}
			continue
		}
		// Accepted: show what it lets through.
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(), extra: "upgrades: [websocket, " + up + "]\n"})
		conn := h.dial(t, "web")
		_, _ = io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: "+up+
			"\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nX-Client: "+up+"\r\n\r\n")
		buf := make([]byte, 4096)
		n, _ := conn.Read(buf)
		// HTTP/2's preface and a HEADERS frame for /admin, which a DENY covers.
		frame := hpackBlock(":method", "GET", ":scheme", "http", ":authority", "api", ":path", "/admin")
		hdr := []byte{byte(len(frame) >> 16), byte(len(frame) >> 8), byte(len(frame)), 1, 5, 0, 0, 0, 1}
		_, _ = io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"+string(hdr)+string(frame))
		time.Sleep(200 * time.Millisecond)
		conn.Close()
		t.Errorf("upgrades: [websocket, %s] is accepted: the proxy answered %q and the upstream received, unchecked:\n%q",
			up, strings.SplitN(string(buf[:n]), "\r\n", 2)[0], u.received())
	}
	if _, err := ParseConfig("p.yaml", []byte("upstream: {url: http://x}\nupgrades: [websocket, foo]\n")); err != nil {
		t.Errorf("upgrades: [websocket, foo]: %v", err)
	}
}

// TestAttackEscapedSubDelims: a policy denies a path holding a reserved
// character that paths carry as data (Google-style custom methods,
// /v1/users/x:delete; "@", "+", "=", ","...). Escaped, "%3A" for ":",
// the request passed: the policy compared "/api/users/1%3Adelete" with
// "/api/users/1:delete", while the upstream's router (Go's ServeMux,
// Express, Spring, Rails) decodes the escape and ran the handler the
// policy denied. Such escapes are decoded, in what is checked and what
// is forwarded, as unreserved ones are; "%3B" (;) and "%2F" (/) are
// still refused.
func TestAttackEscapedSubDelims(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/api/users/{*}:delete", "/api/@admin", "/api/x=1,2", "/api/it's", "/api/$(x)*!&y"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {paths: ["/api/*"]}}]}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	checkTargets(t, u, []targetCase{
		{h, "/api/users/1:delete", 403, ""},
		{h, "/api/users/1%3Adelete", 403, ""},
		{h, "/api/users/1%3adelete", 403, ""},
		{h, "/api/%40admin", 403, ""},
		{h, "/api/x%3D1%2C2", 403, ""},
		{h, "/api/it%27s", 403, ""},
		{h, "/api/%24%28x%29%2A%21%26y", 403, ""},
		{h, "/api/users/1%3Aget", 200, "GET /api/users/1:get HTTP/1.1"},
		{h, "/api/a%2Cc?q=%3A", 200, "GET /api/a,c?q=%3A HTTP/1.1"},
		// Kept: S3 reads a raw "+" in a path as a space.
		{h, "/api/a%2bc", 200, "GET /api/a%2Bc HTTP/1.1"},
		{h, "/api/a%3Bb", 400, ""},
		{h, "/api/a%2Fb", 400, ""},
		{h, "/api/a%20b", 200, "GET /api/a%20b HTTP/1.1"},
	})
}

// TestAbsoluteFormHost (held): an absolute-form target names a host
// other than the Host header. net/http takes the target's (RFC 9112
// 3.2.2), and so do the hosts rules and the Host the upstream gets: a
// DENY of admin.example covers "GET http://admin.example/..." whatever
// the Host header says, and the header's host is not what is forwarded.
// Two Host headers are refused (400) by net/http.
func TestAbsoluteFormHost(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-host, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {hosts: ["admin.example"]}}]}]
---
` + anyGet
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	for _, tt := range []struct {
		target, host string
		want         int
		fwdHost      string
	}{
		{"http://admin.example/api/items", "api", 403, ""},
		{"http://ADMIN.example./api/items", "api", 403, ""},
		{"http://api/api/items", "admin.example", 200, "api"},
	} {
		resp := h.raw(t, "web", "GET "+tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\nX-Client: abs-"+tt.target+"\r\nConnection: close\r\n\r\n")
		reqs := u.requests()
		var got []string
		for _, r := range reqs {
			if strings.Contains(r, "X-Client: abs-"+tt.target+"\r\n") {
				got = append(got, r)
			}
		}
		if status(resp) != tt.want || (tt.fwdHost == "") != (len(got) == 0) ||
			len(got) == 1 && strings.Join(header(got[0], "Host"), ",") != tt.fwdHost {
			t.Errorf("GET %s, Host %s: status %d, the upstream received %q; want %d, Host %q", tt.target, tt.host, status(resp), got, tt.want, tt.fwdHost)
		}
	}
	// Two Host headers: which one a reader takes is anyone's guess.
	before := len(u.requests())
	resp := h.raw(t, "web", "GET /api/items HTTP/1.1\r\nHost: api\r\nHost: admin.example\r\nConnection: close\r\n\r\n")
	if status(resp) != 400 || len(u.requests()) != before {
		t.Errorf("two Host headers: status %d, the upstream received %q", status(resp), u.requests()[before:])
	}
}

// hostRoutes is a configuration with closed routes for an admin name,
// the loopback addresses and the internal names, before an open
// catch-all.
const hostRoutes = "routes:\n" +
	"  - name: closed\n    match: {host: admin.example.com, prefix: /}\n    authorization: {policies: [nobody.yaml]}\n" +
	"  - name: closed4\n    match: {host: 127.0.0.1, prefix: /}\n    authorization: {policies: [nobody.yaml]}\n" +
	"  - name: closed6\n    match: {host: \"[0:0::1]\", prefix: /}\n    authorization: {policies: [nobody.yaml]}\n" +
	"  - name: internal\n    match: {host: \"*.internal\", prefix: /}\n    authorization: {policies: [nobody.yaml]}\n" +
	"  - name: open\n    match: {prefix: /}\n    authorization: {policies: [any.yaml]}\n"

// TestAttackHostSpellings: a Host was checked in one spelling and
// forwarded, or read by the upstream, in another.
//
// Hosts rules with a port compared the Host as sent, trailing dot
// included, while the Host forwarded lost the dot: a DENY of
// "admin.example.com:*" let "admin.example.com.:443" through, and the
// upstream got "admin.example.com:443". The Host is now put in one form
// (authz.CanonicalHost) before any check, and that form is forwarded.
//
// A name that ends in a number is an IPv4 address to the WHATWG URL
// parser (Node's `new URL(req.url, "http://" + req.headers.host)`) and to
// inet_aton: "127.1", "0x7f.1", "2130706433" and "0177.0.0.1" are
// 127.0.0.1 there, and went past a closed route of 127.0.0.1 to the
// catch-all; so did "[::1]" to a route written "[0:0::1]", and
// "[::ffff:127.0.0.1]", 127.0.0.1 to a reader that unmaps. A lax IDNA
// decoder (Python's "idna" codec, Go's idna without validation) reads
// "xn--admin-.example.com" as "admin.example.com". They are refused
// (400), and IPv6 addresses are compared and forwarded in RFC 5952 form.
func TestAttackHostSpellings(t *testing.T) {
	const denyPorts = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin-port, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {hosts: ["admin.example.com:*", "*.internal:8443"]}}]}]
---
` + anyGet
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: denyPorts})
	for _, tt := range []struct{ target, host string }{
		{"/api/items", "admin.example.com.:443"},
		{"/api/items", "ADMIN.Example.COM.:8080"},
		{"/api/items", "db.internal.:8443"},
		{"http://admin.example.com.:443/api/items", "api"},
	} {
		before := len(u.requests())
		resp := h.raw(t, "web", "GET "+tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\nX-Client: dp-"+tt.host+tt.target+"\r\nConnection: close\r\n\r\n")
		if got := u.requests()[before:]; status(resp) != 403 || len(got) != 0 {
			t.Errorf("DENY of hosts admin.example.com:*, *.internal:8443: GET %s, Host %s: %d, the upstream received %q; want 403",
				tt.target, tt.host, status(resp), got)
		}
	}

	u = newRawUpstream(t)
	h = startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"nobody.yaml": []byte(nobody), "any.yaml": []byte(anyGet)}, extra: hostRoutes})
	for _, tt := range []struct {
		host string
		want int // 403: the closed route; 400: refused
	}{
		{"[::1]", 403},
		{"[0::1]:443", 403},
		{"[::0:1]", 403},
		{"127.1", 400},
		{"127.0.1", 400},
		{"0x7f.1", 400},
		{"0x7f000001", 400},
		{"2130706433", 400},
		{"0177.0.0.1", 400},
		{"127.000.000.001", 400},
		{"[::ffff:127.0.0.1]", 400},
		{"[::ffff:7f00:1]:80", 400},
		{"xn--admin-.example.com", 400},
		{"XN--ADMIN-.example.com:443", 400},
		{"db.xn--internal-", 400},
	} {
		before := len(u.requests())
		resp := h.raw(t, "web", "GET /api/items HTTP/1.1\r\nHost: "+tt.host+"\r\nX-Client: sp-"+tt.host+"\r\nConnection: close\r\n\r\n")
		if got := u.requests()[before:]; status(resp) != tt.want || len(got) != 0 {
			t.Errorf("Host %s: %d, the upstream received %q; want %d", tt.host, status(resp), got, tt.want)
		}
	}
}

// TestHostForms (held, and pinned): how each spelling of a host is
// routed, and the Host and request line the upstream receives, with the
// closed routes of hostRoutes before an open catch-all. Every spelling of
// a closed host takes its route; a Host readers could split otherwise is
// refused; what is forwarded is the host the route was chosen by.
func TestHostForms(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"nobody.yaml": []byte(nobody), "any.yaml": []byte(anyGet)}, extra: hostRoutes})
	for i, tt := range []struct {
		req  string // request line and headers but X-Client and Connection
		want int
		fwd  string // Host the upstream receives; "" for no request
	}{
		// Case, trailing dot, ports: the closed route.
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: ADMIN.Example.Com", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com.", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:443", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:80", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com.:8443", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: db.INTERNAL.", 403, ""},
		{"GET /api/items HTTP/1.1\r\nHost: 127.0.0.1:8443", 403, ""},
		// Ports no reader agrees on, and hosts that are not host[:port].
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:0", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:0443", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:65536", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:99999", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com:443:443", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: [fe80::1%25eth0]", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: %61dmin.example.com", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin%2eexample.com", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin.example.com..", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin .example.com", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: \xc3\xa4dmin.example.com", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: admin\xe3\x80\x82example.com", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: \xef\xbd\x81dmin.example.com", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: ", 400, ""},
		{"GET /api/items HTTP/1.1\r\nHost: api\r\nHost: admin.example.com", 400, ""},
		{"GET /api/items HTTP/1.0", 400, ""},
		// Absolute form: the target's host, not the Host header, is
		// routed and forwarded; userinfo is refused.
		{"GET http://admin.example.com/api/items HTTP/1.1\r\nHost: api", 403, ""},
		{"GET http://ADMIN.example.com.:443/api/items HTTP/1.1\r\nHost: api", 403, ""},
		{"GET http://api/api/items HTTP/1.1\r\nHost: admin.example.com", 200, "api"},
		{"GET http://user@admin.example.com/api/items HTTP/1.1\r\nHost: api", 400, ""},
		{"GET http://admin.example.com@api/api/items HTTP/1.1\r\nHost: api", 400, ""},
		{"GET http://127.1/api/items HTTP/1.1\r\nHost: api", 400, ""},
		// Forwarded in canonical form.
		{"GET /api/items HTTP/1.1\r\nHost: API.Example.com.:8443", 200, "api.example.com:8443"},
		{"GET /api/items HTTP/1.1\r\nHost: api.example.com:", 200, "api.example.com"},
		{"GET /api/items HTTP/1.1\r\nHost: [2001:DB8:0::1]:443", 200, "[2001:db8::1]:443"},
		{"GET /api/items HTTP/1.1\r\nHost: 10.0.0.1", 200, "10.0.0.1"},
		// A punycode name is its own host (its Unicode form is not
		// ASCII), forwarded as sent.
		{"GET /api/items HTTP/1.1\r\nHost: xn--dmin-qoa.example.com", 200, "xn--dmin-qoa.example.com"},
		// The client's forwarding headers choose nothing and are not
		// forwarded.
		{"GET /api/items HTTP/1.1\r\nHost: api\r\nX-Forwarded-Host: admin.example.com", 200, "api"},
		{"GET /api/items HTTP/1.1\r\nHost: api\r\nForwarded: host=admin.example.com", 200, "api"},
		{"GET /api/items HTTP/1.1\r\nHost: api\r\nX-Original-Host: admin.example.com\r\nX-Host: admin.example.com", 200, "api"},
	} {
		before := len(u.requests())
		resp := h.raw(t, "web", tt.req+"\r\nX-Client: hf-"+strconv.Itoa(i)+"\r\nConnection: close\r\n\r\n")
		got := u.requests()[before:]
		line, _, _ := strings.Cut(tt.req, "\r\n")
		if code := statusAny(resp); code != tt.want {
			t.Errorf("%q: status %d, want %d", tt.req, code, tt.want)
		}
		switch {
		case tt.fwd == "" && len(got) > 0:
			t.Errorf("%q: the upstream received %q", tt.req, got)
		case tt.fwd != "" && len(got) != 1:
			t.Errorf("%q: the upstream received %q, want one request", tt.req, got)
		case tt.fwd != "":
			head, _, _ := strings.Cut(got[0], "\r\n")
			if hs := header(got[0], "Host"); len(hs) != 1 || hs[0] != tt.fwd || head != "GET /api/items HTTP/1.1" {
				t.Errorf("%s: the upstream received %q, want GET /api/items with Host %s", line, got[0], tt.fwd)
			}
			for _, name := range []string{"X-Forwarded-Host", "Forwarded", "X-Original-Host", "X-Host"} {
				if v := header(got[0], name); len(v) != 0 {
					t.Errorf("%s: the upstream received %s: %q", line, name, v)
				}
			}
		}
	}
	// HTTP/2: :authority is the host, in the same form; a host field
	// beside it is not forwarded (Go's transport writes the Host from
	// :authority).
	for i, tt := range []struct {
		fields []string
		want   string
		fwd    string
	}{
		{[]string{":authority", "ADMIN.Example.com.:443"}, "403", ""},
		{[]string{":authority", "127.1"}, "400", ""},
		{[]string{":authority", "[0::1]"}, "403", ""},
		{[]string{":authority", "api", "host", "admin.example.com"}, "200", "api"},
		{[]string{"host", "ADMIN.example.com."}, "403", ""},
		{[]string{":authority", "Api.Example.:8443"}, "200", "api.example:8443"},
	} {
		c := h.dialH2(t, "web")
		before := len(u.requests())
		fields := []string{":method", "GET", ":scheme", "https", ":path", "/api/items"}
		if tt.fields[0] == ":authority" {
			fields = append(fields, tt.fields[:2]...)
			tt.fields = tt.fields[2:]
		}
		fields = append(append(fields, tt.fields...), "x-client", "hf2-"+strconv.Itoa(i))
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(fields...), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		code := c.result(1)
		_ = c.c.Close()
		got := u.requests()[before:]
		if code != tt.want || (tt.fwd == "") != (len(got) == 0) || len(got) == 1 && strings.Join(header(got[0], "Host"), ",") != tt.fwd {
			t.Errorf("HTTP/2 %q: %s, the upstream received %q; want %s, Host %q", fields, code, got, tt.want, tt.fwd)
		}
	}
}

// TestHostValuesNeverMatch: a route's host no request can take is
// refused at load, and a policy's hosts or notHosts value that no Host in
// canonical form matches is warned of: a DENY of "admin.example.com." or
// "[0:0::1]" denied nothing.
func TestHostValuesNeverMatch(t *testing.T) {
	for _, host := range []string{"127.1", "0x7f.1", "[::ffff:10.0.0.1]", "xn--admin-.example.com", "admin.example.com:", "*.127.1"} {
		path := filepath.Join(t.TempDir(), "p.yaml")
		writeFile(t, path, []byte("upstream: {url: 'http://a:1'}\nroutes:\n  - name: r\n    match: {host: \""+host+"\", prefix: /}\n"))
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "routes[0].match.host") {
			t.Errorf("match.host %s: %v, want an error: no request can match it", host, err)
		}
	}
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {hosts: ["admin.example.com.", "[0:0::1]", "127.1", "a.example:0443", "*.example.com.", "*.example.com.:443", "ok.example", "[::1]:443", "*.ok", "*", "ok*", "Ok.Example"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: elsewhere, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {hosts: ["other.example."]}}]}]
`
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "policies.yaml"), []byte(pols))
	writeFile(t, filepath.Join(dir, "proxy.yaml"), []byte("upstream: {url: \"http://127.0.0.1:8080\"}\nworkload: {namespace: shop, labels: {app: api}}\nauthorization: {policies: [policies.yaml]}\n"))
	cfg, err := LoadConfig(filepath.Join(dir, "proxy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Audit: a})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []string
	for _, w := range p.Warnings() {
		if strings.Contains(w, "never matches: requests are compared with the Host") {
			_, v, _ := strings.Cut(w, "] ")
			v, _, _ = strings.Cut(v, " never")
			got = append(got, v)
		}
	}
	want := []string{`"admin.example.com."`, `"[0:0::1]"`, `"127.1"`, `"a.example:0443"`, `"*.example.com."`, `"*.example.com.:443"`}
	if !slices.Equal(got, want) {
		t.Errorf("hosts values warned of: %q, want %q (all warnings: %q)", got, want, p.Warnings())
	}
}

// TestAttackRateLimitHostField: a rate limit keyed by header:host read
// the header map, where HTTP/2 keeps a host field beside :authority (and
// HTTP/1 keeps no Host at all): a client sending a new host field with
// each request had a new bucket each time, while :authority chose the
// route and the Host forwarded. The field is discarded before any check,
// two of them are refused, and header:host keys by the Host.
func TestAttackRateLimitHostField(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, `rateLimit: {rate: 0.001, burst: 2, key: "header:host"}`}})
	send := func(fields ...string) (string, []string) {
		c := h.dialH2(t, "web")
		before := len(u.requests())
		f := append([]string{":method", "GET", ":scheme", "https", ":path", "/api/items"}, fields...)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(f...), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		code := c.result(1)
		_ = c.c.Close()
		return code, u.requests()[before:]
	}
	var codes []string
	for i := range 5 {
		code, got := send(":authority", "api", "host", "h"+strconv.Itoa(i)+".example")
		codes = append(codes, code)
		if len(got) == 1 && len(header(got[0], "Host")) != 1 {
			t.Errorf("the upstream received %q", got)
		}
	}
	if want := []string{"200", "200", "429", "429", "429"}; !slices.Equal(codes, want) {
		t.Errorf(":authority api with a new host field each time: %q, want %q", codes, want)
	}
	if code, got := send(":authority", "other.example"); code != "200" || len(got) != 1 {
		t.Errorf("another :authority: %s, the upstream received %q; want 200 (its own bucket)", code, got)
	}
	if code, got := send("host", "third.example", "host", "api"); code != "400" || len(got) != 0 {
		t.Errorf("two host fields: %s, the upstream received %q; want 400", code, got)
	}
}
