package authz_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"

	"github.com/wardsec/ward/guard/authz"
)

// ranLog records which application handlers ran.
type ranLog struct {
	mu  sync.Mutex
	ran []string
}

func (l *ranLog) handler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.ran = append(l.ran, name)
		l.mu.Unlock()
	}
}

func (l *ranLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ran := l.ran
	l.ran = nil
	return ran
}

// engineFor compiles one policy document for a workload in namespace shop.
func engineFor(t *testing.T, doc string) *authz.Engine {
	t.Helper()
	ps, err := authz.Load("policy.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	e, err := authz.Compile(ps, authz.Workload{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sendRaw writes a request as raw bytes, so that no client library cleans
// its request line, and returns the response status code.
// expectRan sends raw to addr and checks the status and the handler
// that ran: exactly one named ran, or none for "".
func expectRan(t *testing.T, addr string, log *ranLog, raw string, code int, ran string) {
	t.Helper()
	got := sendRaw(t, addr, raw)
	r := log.take()
	if got != code || (ran == "") != (len(r) == 0) || ran != "" && (len(r) != 1 || r[0] != ran) {
		t.Errorf("%q: got %d, handlers %q; want %d, handler %q", raw, got, r, code, ran)
	}
}

func sendRaw(t *testing.T, addr, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return sendRawConn(t, c, raw)
}

// sendRawConn is sendRaw on an open connection, which it closes.
func sendRawConn(t *testing.T, c net.Conn, raw string) int {
	t.Helper()
	defer func() { _ = c.Close() }()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestHandlerServeMuxHEADRunsGET: http.ServeMux runs a "GET /x" handler
// for HEAD /x, so a DENY of GET must stop HEAD too, or the denied handler
// runs (its side effects and headers reach the client).
func TestHandlerServeMuxHEADRunsGET(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-export, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["GET"], paths: ["/export"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("GET /export", log.handler("export"))
	sm.HandleFunc("GET /items", log.handler("items"))
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		raw  string
		code int
		ran  string
	}{
		{"GET /export HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n", http.StatusForbidden, ""},
		{"HEAD /export HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n", http.StatusForbidden, ""},
		{"HEAD /items HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n", http.StatusOK, "items"},
	} {
		code := sendRaw(t, addr, tc.raw)
		ran := log.take()
		if code != tc.code || (tc.ran == "") != (len(ran) == 0) || tc.ran != "" && ran[0] != tc.ran {
			t.Errorf("%q: got %d, handlers %q; want %d, handler %q", tc.raw, code, ran, tc.code, tc.ran)
		}
	}
}

// TestHandlerEmptySegmentRefused: Decide merges "//", but the router
// behind Handler sees the path as sent. http.ServeMux does not clean
// CONNECT paths and routes "CONNECT /api//admin" to "/api/{tenant}/admin"
// (chi does the same for GET), while Decide saw "/api/admin", which a
// DENY of "/api/{*}/admin" does not match.
func TestHandlerEmptySegmentRefused(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-tenant-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/api/{*}/admin", "/files/secret/*"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/api/{tenant}/admin", log.handler("tenant-admin"))
	sm.HandleFunc("/files/{rest...}", log.handler("files"))
	sm.HandleFunc("/", log.handler("root"))
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, raw := range []string{
		"CONNECT /api//admin HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
		"GET /api//admin HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
		"CONNECT /files//secret/x HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
		"CONNECT //api/t/admin HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
	} {
		expectRan(t, addr, &log, raw, http.StatusBadRequest, "")
	}
	// A tenant's own path still reaches its handler.
	raw := "GET /api/t/items HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
	expectRan(t, addr, &log, raw, http.StatusOK, "root")
}

// TestHandlerServeMuxHostCase: hosts rules compare the Host
// case-insensitively and without a trailing dot, http.ServeMux's host
// patterns exactly. "PUBLIC.example.com" was allowed as the public host
// and then served by the mux's host-less patterns, here the internal
// application that only principals may reach.
func TestHandlerServeMuxHostCase(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: public-site, namespace: shop}
spec:
  rules:
  - to:
    - operation: {hosts: ["public.example.com"]}
  - from:
    - source: {principals: ["cluster.local/ns/shop/sa/admin"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("public.example.com/", log.handler("public"))
	sm.HandleFunc("/", log.handler("internal"))
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		host string
		code int
		ran  string
	}{
		{"public.example.com", http.StatusOK, "public"},
		{"public.example.com:80", http.StatusOK, "public"},
		{"internal.example.com", http.StatusForbidden, ""},
		{"PUBLIC.example.com", http.StatusBadRequest, ""},
		{"public.example.com.", http.StatusBadRequest, ""},
		{"Public.Example.Com.:80", http.StatusBadRequest, ""},
	} {
		raw := "GET /orders HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
	// ServeMux matches a CONNECT request's Host with its port.
	raw := "CONNECT /orders HTTP/1.1\r\nHost: public.example.com:443\r\nConnection: close\r\n\r\n"
	expectRan(t, addr, &log, raw, http.StatusBadRequest, "")
	raw = "CONNECT /orders HTTP/1.1\r\nHost: public.example.com\r\nConnection: close\r\n\r\n"
	expectRan(t, addr, &log, raw, http.StatusOK, "public")
	// Absolute-form targets set the Host net/http routes by.
	raw = "GET http://PUBLIC.example.com/orders HTTP/1.1\r\nHost: public.example.com\r\nConnection: close\r\n\r\n"
	expectRan(t, addr, &log, raw, http.StatusBadRequest, "")
}

// TestHandlerServeMuxHostForms: a DENY of a host, in a Go service
// routing by host with http.ServeMux. ServeMux takes the port off with
// net.SplitHostPort, which also unwraps any bracketed name:
// "[admin.example.com]:80" ran the admin.example.com handler while
// Decide compared "[admin.example.com]" and denied nothing; so did
// "[127.0.0.1]:80" for a pattern of 127.0.0.1. Every Host not in
// CanonicalHost's form is refused when a policy matches hosts.
func TestHandlerServeMuxHostForms(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {hosts: ["admin.example.com", "127.0.0.1", "[::1]"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("admin.example.com/", log.handler("admin"))
	sm.HandleFunc("127.0.0.1/", log.handler("loopback"))
	sm.HandleFunc("/", log.handler("app"))
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		host string
		code int
		ran  string
	}{
		{"www.example.com", http.StatusOK, "app"},
		{"www.example.com:8080", http.StatusOK, "app"},
		{"[2001:db8::1]:80", http.StatusOK, "app"},
		{"admin.example.com", http.StatusForbidden, ""},
		{"admin.example.com:443", http.StatusForbidden, ""},
		{"127.0.0.1:80", http.StatusForbidden, ""},
		{"[::1]:80", http.StatusForbidden, ""},
		{"[admin.example.com]:80", http.StatusBadRequest, ""},
		{"[admin.example.com]:", http.StatusBadRequest, ""},
		{"[admin.example.com]", http.StatusBadRequest, ""},
		{"[127.0.0.1]:80", http.StatusBadRequest, ""},
		{"[0::1]:80", http.StatusBadRequest, ""},
		{"[::ffff:127.0.0.1]", http.StatusBadRequest, ""},
		{"admin.example.com:", http.StatusBadRequest, ""},
		{"admin.example.com:0443", http.StatusBadRequest, ""},
		{"127.1", http.StatusBadRequest, ""},
		{"xn--admin-.example.com", http.StatusBadRequest, ""},
		{"admin.example.com%2e", http.StatusBadRequest, ""},
	} {
		raw := "GET /orders HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerChiEmptySegment: chi never merges slashes and matches an
// empty {tenant}, so "GET /api//admin" ran "/api/{tenant}/admin" while
// Decide saw "/api/admin", which the DENY of "/api/{*}/admin" does not
// cover.
func TestHandlerChiEmptySegment(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-tenant-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/api/{*}/admin"]}
`)
	var log ranLog
	r := chi.NewRouter()
	r.Get("/api/{tenant}/admin", log.handler("tenant-admin"))
	r.Get("/api/{tenant}/items", log.handler("items"))
	srv := httptest.NewServer(e.Handler(nil, r))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		path string
		code int
		ran  string
	}{
		{"/api//admin", http.StatusBadRequest, ""},
		{"/api/t/admin", http.StatusForbidden, ""},
		{"/api/t/items", http.StatusOK, "items"},
	} {
		raw := "GET " + tc.path + " HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerGorillaHostCase: gorilla/mux's Host matcher is exact, so
// "PUBLIC.example.com", which the hosts rule allows, fell through to the
// routes without a host.
func TestHandlerGorillaHostCase(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: public-site, namespace: shop}
spec:
  rules:
  - to:
    - operation: {hosts: ["public.example.com"]}
`)
	var log ranLog
	r := mux.NewRouter()
	r.Host("public.example.com").HandlerFunc(log.handler("public"))
	r.PathPrefix("/").HandlerFunc(log.handler("internal"))
	srv := httptest.NewServer(e.Handler(nil, r))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		host string
		code int
		ran  string
	}{
		{"public.example.com", http.StatusOK, "public"},
		{"PUBLIC.EXAMPLE.COM", http.StatusBadRequest, ""},
		{"public.example.com.", http.StatusBadRequest, ""},
	} {
		raw := "GET /orders HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerChiRawPath: chi routes on r.URL.RawPath when it is set,
// while Decide saw r.URL.EscapedPath(), which net/http recomputes from
// the decoded Path when RawPath holds a byte it would have escaped ("|",
// a non-ASCII byte): "/api/a%2Fb|/admin" was decided as
// "/api/a/b%7C/admin", which the DENY of "/api/{*}/admin" does not match,
// and chi ran "/api/{tenant}/admin" with tenant "a%2Fb|".
func TestHandlerChiRawPath(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-tenant-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/api/{*}/admin"]}
`)
	var log ranLog
	r := chi.NewRouter()
	r.Get("/api/{tenant}/admin", log.handler("tenant-admin"))
	r.Get("/api/{tenant}/items", log.handler("items"))
	srv := httptest.NewServer(e.Handler(nil, r))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		path string
		code int
		ran  string
	}{
		{"/api/a%2Fb|/admin", http.StatusBadRequest, ""},
		{"/api/a%2Fb\xc3\xa9/admin", http.StatusBadRequest, ""},
		{"/api/a%2fb^/admin", http.StatusBadRequest, ""},
		{"/api/t|/admin", http.StatusForbidden, ""},
		{"/api/t\xc3\xa9/admin", http.StatusForbidden, ""},
		{"/api/t|/items", http.StatusOK, "items"},
		{"/api/t%7C/items", http.StatusOK, "items"},
	} {
		raw := "GET " + tc.path + " HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerGorillaHostColons: gorilla/mux cuts a Host at its first
// colon when its host template has no port, hostName at the last one, and
// only when it is the only one. "internal.example.com:80:80" escaped the
// DENY of the internal host (Decide compared the whole value) and gorilla
// served it as "internal.example.com".
func TestHandlerGorillaHostColons(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-internal, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {hosts: ["internal.example.com"]}
`)
	var log ranLog
	r := mux.NewRouter()
	r.Host("internal.example.com").HandlerFunc(log.handler("internal"))
	r.PathPrefix("/").HandlerFunc(log.handler("public"))
	srv := httptest.NewServer(e.Handler(nil, r))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		host string
		code int
		ran  string
	}{
		{"internal.example.com", http.StatusForbidden, ""},
		{"internal.example.com:8080", http.StatusForbidden, ""},
		{"internal.example.com:80:80", http.StatusBadRequest, ""},
		{"internal.example.com::", http.StatusBadRequest, ""},
		{"public.example.com:8080", http.StatusOK, "public"},
		{"[::1]:8080", http.StatusOK, "public"},
	} {
		raw := "GET /orders HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerRepeatedHeader: Decide matches a header sent on several
// lines as its values joined with "," (as Envoy does), but handlers read
// the first line (r.Header.Get). "X-Tenant: evil" then "X-Tenant: good"
// escaped the DENY of tenant "evil" ("evil,good" is not "evil") and the
// handler served tenant evil.
func TestHandlerRepeatedHeader(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-evil-tenant, namespace: shop}
spec:
  action: DENY
  rules:
  - when:
    - key: request.headers[x-tenant]
      values: ["evil"]
`)
	var mu sync.Mutex
	var tenants []string
	sm := http.NewServeMux()
	sm.HandleFunc("/", func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tenants = append(tenants, r.Header.Get("X-Tenant"))
		mu.Unlock()
	})
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		headers string
		code    int
		tenant  string
	}{
		{"X-Tenant: evil\r\n", http.StatusForbidden, ""},
		{"X-Tenant: good\r\n", http.StatusOK, "good"},
		{"X-Tenant: evil\r\nX-Tenant: good\r\n", http.StatusBadRequest, ""},
		{"x-tenant: evil\r\nX-TENANT: good\r\n", http.StatusBadRequest, ""},
		{"X-Other: a\r\nX-Other: b\r\nX-Tenant: good\r\n", http.StatusOK, "good"}, // no policy reads X-Other
	} {
		raw := "GET /orders HTTP/1.1\r\nHost: shop\r\n" + tc.headers + "Connection: close\r\n\r\n"
		code := sendRaw(t, addr, raw)
		mu.Lock()
		got := tenants
		tenants = nil
		mu.Unlock()
		if code != tc.code || (tc.tenant == "") != (len(got) == 0) || tc.tenant != "" && got[0] != tc.tenant {
			t.Errorf("%q: got %d, handler saw tenants %q; want %d, %q", tc.headers, code, got, tc.code, tc.tenant)
		}
	}
}

// TestHandlerEncodedSubDelims: Normalize keeps escapes of characters a
// path may hold raw (":", "@", "!", "+", ...), so Decide compared
// "/v1/jobs%3Acancel" with the DENY of "/v1/jobs:cancel" and let it
// pass, while http.ServeMux (which unescapes each segment before
// matching) and gorilla/mux (which routes on the decoded Path) ran the
// "/v1/jobs:cancel" handler.
func TestHandlerEncodedSubDelims(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-cancel, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/v1/jobs:cancel", "/users/@admin/*", "/c++"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/v1/jobs:cancel", log.handler("cancel"))
	sm.HandleFunc("/users/@admin/", log.handler("admin"))
	sm.HandleFunc("/c++", log.handler("cpp"))
	sm.HandleFunc("/", log.handler("root"))
	gr := mux.NewRouter()
	gr.Path("/v1/jobs:cancel").HandlerFunc(log.handler("cancel"))
	gr.PathPrefix("/users/@admin/").HandlerFunc(log.handler("admin"))
	gr.Path("/c++").HandlerFunc(log.handler("cpp"))
	gr.PathPrefix("/").HandlerFunc(log.handler("root"))

	for name, router := range map[string]http.Handler{"ServeMux": sm, "gorilla": gr} {
		srv := httptest.NewServer(e.Handler(nil, router))
		addr := srv.Listener.Addr().String()
		for _, tc := range []struct {
			path string
			code int
			ran  string
		}{
			{"/v1/jobs:cancel", http.StatusForbidden, ""},
			{"/v1/jobs%3Acancel", http.StatusForbidden, ""},
			{"/v1/jobs%3acancel", http.StatusForbidden, ""},
			{"/users/%40admin/x", http.StatusForbidden, ""},
			{"/c%2B%2b", http.StatusForbidden, ""},
			{"/c%2B", http.StatusOK, "root"},
			{"/v1/jobs%3Alist", http.StatusOK, "root"},
		} {
			raw := "POST " + tc.path + " HTTP/1.1\r\nHost: shop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
			t.Run(name, func(t *testing.T) { expectRan(t, addr, &log, raw, tc.code, tc.ran) })
		}
		srv.Close()
	}
}

// TestHandlerBearerUnicodeSpaceNotVerified: Handler looked for a bearer
// token with the scheme ending at a space or tab, so
// "Bearer<NBSP>token", which an application splitting at white space
// reads as a bearer token, reached Decide as anonymous with no jwt
// middleware before it.
func TestHandlerBearerUnicodeSpaceNotVerified(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-contractors, namespace: shop}
spec:
  action: DENY
  rules:
  - when:
    - key: request.auth.claims[groups]
      values: ["contractors"]
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/", log.handler("app"))
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		auth string
		code int
		ran  string
	}{
		{"Bearer abc.def.ghi", http.StatusInternalServerError, ""},
		{"Bearer\u00a0abc.def.ghi", http.StatusInternalServerError, ""},
		{"bearer\u3000 abc.def.ghi", http.StatusInternalServerError, ""},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", http.StatusOK, "app"},
	} {
		raw := "GET /orders HTTP/1.1\r\nHost: shop\r\nAuthorization: " + tc.auth + "\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerHostHeaderCondition: a DENY of a host written as a
// condition on the Host header (request.headers[:authority] or [host])
// rather than as hosts. Compared exactly, "admin.example.com:80" and
// "[admin.example.com]:80" were no match, and http.ServeMux, which takes
// the port (and the brackets) off, ran the admin.example.com handler.
// The condition now matches as hosts does, and Handler refuses a Host
// not in CanonicalHost's form.
func TestHandlerHostHeaderCondition(t *testing.T) {
	for _, key := range []string{"request.headers[:authority]", "request.headers[host]", "request.headers[Host]"} {
		e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - when:
    - key: `+key+`
      values: ["admin.example.com"]
`)
		var log ranLog
		sm := http.NewServeMux()
		sm.HandleFunc("admin.example.com/", log.handler("admin"))
		sm.HandleFunc("/", log.handler("app"))
		srv := httptest.NewServer(e.Handler(nil, sm))
		addr := srv.Listener.Addr().String()
		for _, tc := range []struct {
			host string
			code int
			ran  string
		}{
			{"www.example.com", http.StatusOK, "app"},
			{"www.example.com:8080", http.StatusOK, "app"},
			{"admin.example.com", http.StatusForbidden, ""},
			{"admin.example.com:80", http.StatusForbidden, ""},
			{"admin.example.com:8443", http.StatusForbidden, ""},
			{"[admin.example.com]:80", http.StatusBadRequest, ""},
			{"ADMIN.example.com", http.StatusBadRequest, ""},
			{"admin.example.com.", http.StatusBadRequest, ""},
		} {
			raw := "GET /orders HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n"
			t.Run(key+" "+tc.host, func(t *testing.T) { expectRan(t, addr, &log, raw, tc.code, tc.ran) })
		}
		srv.Close()
	}
}

// TestHandlerPathHeaderQuery: a DENY of a query parameter written on
// request.headers[:path], as Envoy's :path holds the query. Handler read
// :path without it and ran the export handler for every format.
func TestHandlerPathHeaderQuery(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-csv, namespace: shop}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[:path]", values: ["/export?format=csv*"]}]
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/export", log.handler("export"))
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		target string
		code   int
		ran    string
	}{
		{"/export?format=json", http.StatusOK, "export"},
		{"/export", http.StatusOK, "export"},
		{"/export?format=csv", http.StatusForbidden, ""},
		{"/export?format=csv&all=1", http.StatusForbidden, ""},
	} {
		raw := "GET " + tc.target + " HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestRemovedHeadersRefused: net/http takes Transfer-Encoding and
// Trailer out of the request's headers once it has framed the body, so
// a DENY of request.headers[transfer-encoding] (a smuggling guard)
// compiled and never matched a chunked request. Load refuses both.
func TestRemovedHeadersRefused(t *testing.T) {
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	raw := "POST / HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nConnection: close\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n"
	sendRaw(t, srv.Listener.Addr().String(), raw)
	srv.Close()
	for _, name := range []string{"Transfer-Encoding", "Trailer"} {
		if _, ok := seen[name]; ok {
			t.Fatalf("net/http keeps %s in Header now: %v", name, seen)
		}
	}
	for _, key := range []string{"transfer-encoding", "Transfer-Encoding", "trailer"} {
		_, err := authz.Load("policy.yaml", []byte(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-chunked, namespace: shop}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[`+key+`]", values: ["*"]}]
`))
		if !errors.Is(err, authz.ErrUnsupported) {
			t.Errorf("%s: Load error %v, want ErrUnsupported", key, err)
		}
	}
}

// TestHandlerSNIFronting: a DENY of connection.sni, in a Go service
// routing by host with http.ServeMux. A client that shakes hands for
// public.example.com and then asks for Host admin.example.com on that
// connection (domain fronting; browsers coalesce HTTP/2 connections so)
// was decided on the public SNI while ServeMux ran the admin handler.
// Handler now answers 421 Misdirected Request, as `ward proxy` does,
// when policies read connection.sni and the Host is not the server name.
func TestHandlerSNIFronting(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-sni, namespace: shop}
spec:
  action: DENY
  rules:
  - when: [{key: connection.sni, values: ["admin.example.com"]}]
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("admin.example.com/", log.handler("admin"))
	sm.HandleFunc("/", log.handler("public"))
	srv := httptest.NewTLSServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		sni, host string
		code      int
		ran       string
	}{
		{"public.example.com", "public.example.com", http.StatusOK, "public"},
		{"public.example.com", "Public.Example.com.:443", http.StatusOK, "public"},
		{"admin.example.com", "admin.example.com", http.StatusForbidden, ""},
		{"public.example.com", "admin.example.com", http.StatusMisdirectedRequest, ""},
		{"public.example.com", "admin.example.com:443", http.StatusMisdirectedRequest, ""},
		{"", "admin.example.com", http.StatusMisdirectedRequest, ""},
	} {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true}) // #nosec G402 -- test server's own certificate
		if err != nil {
			t.Fatal(err)
		}
		raw := "GET /orders HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n"
		code := sendRawConn(t, c, raw)
		if r := log.take(); code != tc.code || (tc.ran == "") != (len(r) == 0) || tc.ran != "" && r[0] != tc.ran {
			t.Errorf("SNI %q, Host %q: got %d, handlers %q; want %d, handler %q", tc.sni, tc.host, code, r, tc.code, tc.ran)
		}
	}
}

// TestHandlerNoPoliciesRefused: an engine without policies allows every
// request (Istio's behaviour for a workload no policy selects). A service
// that loaded its policies from an empty or truncated file, or from a
// file of other kinds (its Deployment manifest, a misspelt path to the
// wrong YAML), compiled without an error and served its admin handler to
// everyone; `ward proxy` refused such a file itself, the library did not.
// Compile now fails with ErrNoneApply, and the zero Engine, which no
// Compile made, denies every request instead of allowing it.
func TestHandlerNoPoliciesRefused(t *testing.T) {
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("GET /admin", log.handler("admin"))
	for _, tc := range []struct{ name, doc string }{
		{"empty file", ""},
		{"truncated to its separator", "---\n"},
		{"a Deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop, namespace: shop}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := authz.Load("policy.yaml", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			e, err := authz.Compile(ps, authz.Workload{Namespace: "shop"})
			if errors.Is(err, authz.ErrNoneApply) {
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v, want ErrNoneApply", err)
			}
			srv := httptest.NewServer(e.Handler(nil, sm))
			defer srv.Close()
			code := sendRaw(t, srv.Listener.Addr().String(), "GET /admin HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
			t.Errorf("Compile of no policies succeeded; GET /admin: %d, handlers %q", code, log.take())
		})
	}
	var zero authz.Engine
	srv := httptest.NewServer(zero.Handler(nil, sm))
	defer srv.Close()
	expectRan(t, srv.Listener.Addr().String(), &log, "GET /admin HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n", http.StatusForbidden, "")
	if d := zero.Decide(&authz.Request{Method: "GET", Path: "/admin"}); d.Allowed || d.Reason != authz.ReasonNotCompiled {
		t.Errorf("zero Engine: %+v, want a denial, %q", d, authz.ReasonNotCompiled)
	}
}

// TestHandlerPolicyPathRawBytes: a policy path written with characters
// that a request path carries percent-encoded (non-ASCII letters, "|")
// was compared as written with the normalised request path, in which
// Normalize encodes them ("/caf%C3%A9"), so a DENY of "/café" matched no
// request (Compile only warned) while http.ServeMux, which matches
// decoded segments, ran the "/café" handler. Such paths are now compiled
// in the normalised form, as escapes in them already were.
func TestHandlerPolicyPathRawBytes(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-raw, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/café", "/x|y", "/reports/ünï*", "/api/{*}/naïve"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("/café", log.handler("cafe"))
	sm.HandleFunc("/x|y", log.handler("pipe"))
	sm.HandleFunc("/reports/", log.handler("reports"))
	sm.HandleFunc("/api/{tenant}/naïve", log.handler("naive"))
	sm.HandleFunc("/", log.handler("root"))
	srv := httptest.NewServer(e.Handler(nil, sm))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		path string
		code int
		ran  string
	}{
		{"/caf%C3%A9", http.StatusForbidden, ""},
		{"/caf%c3%a9", http.StatusForbidden, ""},
		{"/café", http.StatusForbidden, ""}, // raw UTF-8 on the request line
		{"/x|y", http.StatusForbidden, ""},
		{"/x%7Cy", http.StatusForbidden, ""},
		{"/reports/%C3%BCn%C3%AF-2026", http.StatusForbidden, ""},
		{"/api/t1/na%C3%AFve", http.StatusForbidden, ""},
		{"/api/t1/naïve", http.StatusForbidden, ""},
		{"/cafe", http.StatusOK, "root"},
		{"/reports/2026", http.StatusOK, "reports"},
	} {
		raw := "GET " + tc.path + " HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
	for _, w := range e.Warnings() {
		t.Errorf("warning: %v", w)
	}
}

// methodOverride is gorilla/handlers' HTTPMethodOverrideHandler (v1.5),
// which the module does not depend on: a POST runs as the PUT, PATCH or
// DELETE that its "_method" form value (query or body) or its
// X-HTTP-Method-Override header names.
func methodOverride(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			om := r.FormValue("_method")
			if om == "" {
				om = r.Header.Get("X-HTTP-Method-Override")
			}
			if om == http.MethodPut || om == http.MethodPatch || om == http.MethodDelete {
				r.Method = om
			}
		}
		h.ServeHTTP(w, r)
	})
}

// TestHandlerMethodOverrideAfterAuthz: a method override middleware
// wrapped around the router, inside the chain (guard.Chain(...,
// authz)(override(mux)), the natural place for it), ran "POST" plus
// "X-HTTP-Method-Override: DELETE" as DELETE past a DENY of DELETE that
// Handler had decided as POST. Handler now decides a POST that names an
// override method (header or "_method" in the query) as that method
// too; the override placed before Handler, as documented, still works.
func TestHandlerMethodOverrideAfterAuthz(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"], paths: ["/items/*"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("DELETE /items/{id}", log.handler("delete"))
	sm.HandleFunc("PUT /items/{id}", log.handler("put"))
	sm.HandleFunc("POST /items/{id}", log.handler("post"))
	for name, h := range map[string]http.Handler{
		"override after authz":  e.Handler(nil, methodOverride(sm)),
		"override before authz": methodOverride(e.Handler(nil, sm)),
		// net/http's AllowQuerySemicolons inside Handler makes
		// "?a=1;_method=DELETE" a _method FormValue reads.
		"override after authz, semicolons": e.Handler(nil, http.AllowQuerySemicolons(methodOverride(sm))),
	} {
		srv := httptest.NewServer(h)
		addr := srv.Listener.Addr().String()
		for _, tc := range []struct {
			target, header string
			code           int
			ran            string
		}{
			{"/items/1", "X-HTTP-Method-Override: DELETE\r\n", http.StatusForbidden, ""},
			{"/items/1", "X-HTTP-Method-Override: delete\r\nX-HTTP-Method-Override: DELETE\r\n", http.StatusForbidden, ""},
			{"/items/1?_method=DELETE", "", http.StatusForbidden, ""},
			{"/items/1?%5Fmethod=DELETE", "", http.StatusForbidden, ""},
			{"/items/1?a=1;_method=DELETE", "", http.StatusForbidden, ""},
			{"/items/1", "X-HTTP-Method-Override: PUT\r\n", http.StatusOK, "put"},
			{"/items/1", "", http.StatusOK, "post"},
		} {
			raw := "POST " + tc.target + " HTTP/1.1\r\nHost: shop\r\n" + tc.header + "Content-Length: 0\r\nConnection: close\r\n\r\n"
			t.Run(name, func(t *testing.T) { expectRan(t, addr, &log, raw, tc.code, tc.ran) })
		}
		srv.Close()
	}
}
