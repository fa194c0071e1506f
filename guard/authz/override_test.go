package authz_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/wardsec/ward/guard/authz"
)

// multipartBody returns a multipart/form-data body with the fields
// given (name, value pairs) and its Content-Type.
func multipartBody(t *testing.T, fields ...string) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), mw.FormDataContentType()
}

// TestHandlerMethodOverrideFormBody: gorilla/handlers'
// HTTPMethodOverrideHandler (and Buffalo's, and Echo's MethodFromForm)
// reads "_method" with FormValue, which also reads a form body: placed
// after Handler, it ran "POST /items/1" with the body "_method=DELETE"
// as the DELETE a policy denies, which Handler had allowed as a POST.
// Handler now reads a POST's form body (urlencoded or multipart, up to
// MaxFormBody, leaving it whole for next) when policies read the method,
// and decides it as the method named too; a larger body gets 413, an
// unreadable one 400, unless Options.FormBodiesUnread declares that
// no override runs after Handler.
func TestHandlerMethodOverrideFormBody(t *testing.T) {
	const doc = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"], paths: ["/items/*"]}
`
	ps, err := authz.Load("policy.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	strict, err := authz.Compile(ps, authz.Workload{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	optOut, err := authz.Options{FormBodiesUnread: true}.Compile(ps, authz.Workload{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	noMethods := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/admin"]}
`)
	var log ranLog
	sm := http.NewServeMux()
	sm.HandleFunc("DELETE /items/{id}", log.handler("delete"))
	sm.HandleFunc("PUT /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		log.handler("put:"+r.PostFormValue("name"))(w, r)
	})
	sm.HandleFunc("POST /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		log.handler(fmt.Sprintf("post:%d", len(b)))(w, r)
	})

	mpDelete, mpDeleteType := multipartBody(t, "name", "x", "_method", "DELETE")
	mpPut, mpPutType := multipartBody(t, "_method", "PUT", "name", "x")
	big := "name=" + strings.Repeat("a", authz.MaxFormBody) + "&_method=DELETE"
	bigPlain := strings.Repeat("a", authz.MaxFormBody+10)
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name   string
		engine *authz.Engine
		// override after Handler, else the plain router
		override     bool
		header, body string
		code         int
		ran          string
	}{
		{"urlencoded DELETE", strict, true, "Content-Type: " + form + "\r\n", "_method=DELETE", http.StatusForbidden, ""},
		{"urlencoded DELETE later", strict, true, "Content-Type: " + form + "; charset=utf-8\r\n", "name=x&_method=DELETE", http.StatusForbidden, ""},
		{"urlencoded escaped", strict, true, "Content-Type: Application/X-WWW-Form-Urlencoded\r\n", "%5Fmethod=DEL%45TE", http.StatusForbidden, ""},
		{"urlencoded chunked", strict, true, "Content-Type: " + form + "\r\nTransfer-Encoding: chunked\r\n", "chunked:_method=DELETE", http.StatusForbidden, ""},
		{"multipart DELETE", strict, true, "Content-Type: " + mpDeleteType + "\r\n", mpDelete, http.StatusForbidden, ""},
		{"urlencoded PUT, body intact", strict, true, "Content-Type: " + form + "\r\n", "_method=PUT&name=x", http.StatusOK, "put:x"},
		{"multipart PUT, body intact", strict, true, "Content-Type: " + mpPutType + "\r\n", mpPut, http.StatusOK, "put:x"},
		{"urlencoded POST, body intact", strict, false, "Content-Type: " + form + "\r\n", "name=x", http.StatusOK, "post:6"},
		{"not a form", strict, true, "Content-Type: application/json\r\n", `{"_method":"DELETE"}`, http.StatusOK, "post:20"},
		{"too large", strict, true, "Content-Type: " + form + "\r\n", big, http.StatusRequestEntityTooLarge, ""},
		{"large, not a form", strict, false, "Content-Type: application/octet-stream\r\n", bigPlain, http.StatusOK, fmt.Sprintf("post:%d", len(bigPlain))},
		{"gzip", strict, true, "Content-Type: " + form + "\r\nContent-Encoding: gzip\r\n", "_method=DELETE", http.StatusBadRequest, ""},
		{"Content-Type repeated", strict, true, "Content-Type: text/plain\r\nContent-Type: " + form + "\r\n", "_method=DELETE", http.StatusBadRequest, ""},
		{"multipart no boundary", strict, true, "Content-Type: multipart/form-data\r\n", mpDelete, http.StatusBadRequest, ""},
		{"multipart malformed", strict, true, "Content-Type: " + mpDeleteType + "\r\n", mpDelete[:len(mpDelete)-20], http.StatusBadRequest, ""},
		{"opted out, large", optOut, false, "Content-Type: " + form + "\r\n", big, http.StatusOK, fmt.Sprintf("post:%d", len(big))},
		{"policies read no method", noMethods, false, "Content-Type: " + form + "\r\n", big, http.StatusOK, fmt.Sprintf("post:%d", len(big))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var next http.Handler = sm
			if tc.override {
				next = methodOverride(sm)
			}
			srv := httptest.NewServer(tc.engine.Handler(nil, next))
			defer srv.Close()
			framing := fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(tc.body), tc.body)
			if b, ok := strings.CutPrefix(tc.body, "chunked:"); ok {
				framing = fmt.Sprintf("\r\n%x\r\n%s\r\n0\r\n\r\n", len(b), b)
			}
			raw := "POST /items/1 HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n" + tc.header + framing
			expectRan(t, srv.Listener.Addr().String(), &log, raw, tc.code, tc.ran)
		})
	}
}

// TestHandlerFormBodyCallerRequest: Handler reads a form body for
// "_method" into a copy of the request, as the guard middlewares derive
// copies, and leaves the caller's request as it was.
func TestHandlerFormBodyCallerRequest(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"]}
`)
	var got string
	h := e.Handler(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.PostFormValue("name")
	}))
	r := httptest.NewRequest(http.MethodPost, "/items/1", strings.NewReader("name=x&_method=PUT"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body := r.Body
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || got != "x" {
		t.Errorf("got %d, name %q; want 200, name \"x\"", rec.Code, got)
	}
	if r.Body != body || r.Form != nil {
		t.Error("Handler changed the caller's request")
	}
}

// TestHandlerTokenOutsideHeader: jwt verifies the Authorization header's
// token only, but an application may read a bearer token from an
// "access_token" query parameter or form field (RFC 6750 2.2 and 2.3;
// go-oauth2's BearerAuth reads FormValue("access_token")): the request
// was anonymous to the policies, which a DENY of the token's principal
// does not match, and the application acted as that principal. When
// policies read the JWT, Handler now refuses such a request with 400.
func TestHandlerTokenOutsideHeader(t *testing.T) {
	const doc = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-mallory, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source: {requestPrincipals: ["https://id.example.com/mallory"]}
`
	ps, err := authz.Load("policy.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	strict, err := authz.Compile(ps, authz.Workload{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	unread, err := authz.Options{FormBodiesUnread: true}.Compile(ps, authz.Workload{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	noToken := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/admin"]}
`)
	var log ranLog
	// The application authenticates as go-oauth2's BearerAuth does.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.handler("as:"+r.FormValue("access_token"))(w, r)
	})
	mp, mpType := multipartBody(t, "access_token", "mallory")
	const form = "Content-Type: application/x-www-form-urlencoded\r\n"
	for _, tc := range []struct {
		name           string
		engine         *authz.Engine
		method, target string
		header, body   string
		code           int
		ran            string
	}{
		{"query", strict, "GET", "/items?access_token=mallory", "", "", http.StatusBadRequest, ""},
		{"query, semicolon", strict, "GET", "/items?a=1;ACCESS%5FTOKEN=mallory", "", "", http.StatusBadRequest, ""},
		{"urlencoded POST", strict, "POST", "/items", form, "access_token=mallory", http.StatusBadRequest, ""},
		{"urlencoded PUT", strict, "PUT", "/items", form, "a=1&access_token=mallory", http.StatusBadRequest, ""},
		{"multipart PATCH", strict, "PATCH", "/items", "Content-Type: " + mpType + "\r\n", mp, http.StatusBadRequest, ""},
		{"WebSocket subprotocol", strict, "GET", "/items", "Sec-WebSocket-Protocol: chat, Base64url.Bearer.Authorization.k8s.io.bWFsbG9yeQ\r\n", "", http.StatusBadRequest, ""},
		{"WebSocket subprotocol, other", strict, "GET", "/items", "Sec-WebSocket-Protocol: chat\r\n", "", http.StatusOK, "as:"},
		{"DPoP", strict, "GET", "/items", "Authorization: DPoP bWFsbG9yeQ\r\nDPoP: eyJ0\r\n", "", http.StatusBadRequest, ""},
		{"Basic", strict, "GET", "/items", "Authorization: Basic YTpi\r\n", "", http.StatusOK, "as:"},
		{"empty token", strict, "GET", "/items?access_token=", "", "", http.StatusOK, "as:"},
		{"no token", strict, "POST", "/items", form, "name=x", http.StatusOK, "as:"},
		{"bodies unread", unread, "POST", "/items", form, "access_token=mallory", http.StatusOK, "as:mallory"},
		{"bodies unread, query", unread, "GET", "/items?access_token=mallory", "", "", http.StatusBadRequest, ""},
		{"policies read no token", noToken, "GET", "/items?access_token=alice", "", "", http.StatusOK, "as:alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.engine.Handler(nil, app))
			defer srv.Close()
			raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n%s",
				tc.method, tc.target, tc.header, len(tc.body), tc.body)
			expectRan(t, srv.Listener.Addr().String(), &log, raw, tc.code, tc.ran)
		})
	}
}

// TestHandlerMethodOverrideList: Express's method-override (behind a Go
// reverse proxy, or an override written like it) runs the first method
// of "X-HTTP-Method-Override: DELETE, PUT"; Handler decided the whole
// value as one method, which no DENY of DELETE matches. It now decides
// each element of the list too.
func TestHandlerMethodOverrideList(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"]}
`)
	var log ranLog
	firstOfList := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if v := r.Header.Get("X-HTTP-Method-Override"); r.Method == http.MethodPost && v != "" {
				m, _, _ := strings.Cut(v, ",")
				r.Method = strings.ToUpper(strings.TrimSpace(m))
			}
			h.ServeHTTP(w, r)
		})
	}
	app := firstOfList(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { log.handler(r.Method)(w, r) }))
	srv := httptest.NewServer(e.Handler(nil, app))
	defer srv.Close()
	for _, tc := range []struct {
		header string
		code   int
		ran    string
	}{
		{"X-HTTP-Method-Override: DELETE, PUT\r\n", http.StatusForbidden, ""},
		{"X-HTTP-Method-Override: PUT,delete\r\n", http.StatusForbidden, ""},
		{"X-HTTP-Method-Override: PUT, PATCH\r\n", http.StatusOK, "PUT"},
	} {
		raw := "POST /items/1 HTTP/1.1\r\nHost: shop\r\n" + tc.header + "Content-Length: 0\r\nConnection: close\r\n\r\n"
		expectRan(t, srv.Listener.Addr().String(), &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerFormBodyReadWhenItMatters: Handler reads a form body only
// when what it may hold could change the decision: for "_method" when
// the request is not allowed as every method (the policies' exact method
// values, the registered ones and one named nowhere stand for all), and
// always when a policy matches methods by prefix or suffix; for
// "access_token" when no token was verified from the header. A large
// upload elsewhere than a DENY's paths is not refused.
func TestHandlerFormBodyReadWhenItMatters(t *testing.T) {
	exact := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"], paths: ["/items/*"]}
`)
	prefix := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-del, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DEL*"], paths: ["/items/*"]}
`)
	allowPost := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: post-only, namespace: shop}
spec:
  rules:
  - to:
    - operation: {methods: ["POST"]}
`)
	tokens := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-mallory, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source: {requestPrincipals: ["https://id.example.com/mallory"]}
`)
	alice := func(_ *http.Request, q *authz.Request) {
		q.RequestPrincipal = "https://id.example.com/alice"
	}
	// bearer sends alice's token, which jwt verified (alice copies it).
	bearer := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("Authorization", "Bearer alice")
			h.ServeHTTP(w, r)
		})
	}
	var log ranLog
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		log.handler(fmt.Sprintf("%s:%d", r.Method, len(b)))(w, r)
	})
	big := "file=" + strings.Repeat("a", authz.MaxFormBody)
	ran := fmt.Sprintf("POST:%d", len(big))
	for _, tc := range []struct {
		name   string
		h      http.Handler
		target string
		body   string
		code   int
		ran    string
	}{
		{"upload outside the DENY", exact.Handler(nil, app), "/upload", big, http.StatusOK, ran},
		{"upload under the DENY", exact.Handler(nil, app), "/items/1", big, http.StatusRequestEntityTooLarge, ""},
		{"prefix method pattern", prefix.Handler(nil, app), "/upload", big, http.StatusRequestEntityTooLarge, ""},
		{"ALLOW of POST only", allowPost.Handler(nil, app), "/upload", big, http.StatusRequestEntityTooLarge, ""},
		{"ALLOW of POST only, small", allowPost.Handler(nil, app), "/upload", "_method=DELETE", http.StatusForbidden, ""},
		{"token verified from the header", bearer(tokens.Handler(alice, app)), "/upload", big, http.StatusOK, ran},
		{"anonymous", tokens.Handler(nil, app), "/upload", big, http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			raw := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: shop\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
				tc.target, len(tc.body), tc.body)
			expectRan(t, srv.Listener.Addr().String(), &log, raw, tc.code, tc.ran)
		})
	}
}

// TestHandlerNoClientAddress: served on a Unix socket (behind a local
// nginx), a request's RemoteAddr is "@", no IP address, and no ipBlocks
// or remoteIpBlocks value matched it: a DENY of some addresses let every
// client through. When policies read an address, Handler now refuses a
// request that has none with 400.
func TestHandlerNoClientAddress(t *testing.T) {
	for _, tc := range []struct {
		name, source, remoteAddr string
		code                     int
	}{
		{"ipBlocks, Unix socket", "ipBlocks: [\"203.0.113.0/24\"]", "@", http.StatusBadRequest},
		{"remoteIpBlocks, Unix socket", "remoteIpBlocks: [\"203.0.113.0/24\"]", "@", http.StatusBadRequest},
		{"remoteIpBlocks, empty", "remoteIpBlocks: [\"203.0.113.0/24\"]", "", http.StatusBadRequest},
		{"ipBlocks, denied", "ipBlocks: [\"203.0.113.0/24\"]", "203.0.113.7:4000", http.StatusForbidden},
		{"ipBlocks, other", "ipBlocks: [\"203.0.113.0/24\"]", "192.0.2.1:4000", http.StatusOK},
		{"no address read", "principals: [\"td/ns/x/sa/y\"]", "@", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: blocked, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source: {`+tc.source+`}
`)
			h := e.Handler(nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remoteAddr
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.code {
				t.Errorf("got %d, want %d", rec.Code, tc.code)
			}
		})
	}
}

// TestHandlerTokenFormBodyEveryMethod: FormValue reads a multipart body
// whatever the method (ParseMultipartForm does not look at it), and
// go-oauth2's BearerAuth takes the form's access_token unless the
// Authorization header starts "Bearer " exactly. Handler read form
// bodies for tokens of anonymous POST, PUT and PATCH requests only: a
// GET or DELETE with a multipart access_token, and a POST whose header
// token jwt verified as "bearer x" (any case, as RFC 9110 has it) with
// another token in its form, reached an application that acted on a
// token the policies never saw. A body behind ContentLength 0 (left by
// a middleware that replaced it) went unread too.
func TestHandlerTokenFormBodyEveryMethod(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-mallory, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source: {requestPrincipals: ["https://id.example.com/mallory"]}
`)
	// The application authenticates as go-oauth2's BearerAuth does.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.FormValue("access_token")
		if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
			tok = auth[len("Bearer "):]
		}
		_, _ = io.WriteString(w, "as:"+tok)
	})
	alice := func(_ *http.Request, q *authz.Request) {
		q.RequestPrincipal = "https://id.example.com/alice"
	}
	mp, mpType := multipartBody(t, "access_token", "mallory")
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, auth, ctype, body string
		verified                        bool
		contentLength0                  bool
		code                            int
		as                              string
	}{
		{"GET, multipart", "GET", "", mpType, mp, false, false, http.StatusBadRequest, ""},
		{"DELETE, multipart", "DELETE", "", mpType, mp, false, false, http.StatusBadRequest, ""},
		{"verified bearer, lower case", "POST", "bearer alice", form, "access_token=mallory", true, false, http.StatusBadRequest, ""},
		{"verified BEARER", "PUT", "BEARER alice", form, "access_token=mallory", true, false, http.StatusBadRequest, ""},
		{"ContentLength 0", "POST", "", form, "access_token=mallory", false, true, http.StatusBadRequest, ""},
		{"verified Bearer, read first", "POST", "Bearer alice", form, "access_token=mallory", true, false, http.StatusOK, "as:alice"},
		{"GET, multipart without token", "GET", "", mpType, strings.ReplaceAll(mp, "access_token", "name"), false, false, http.StatusOK, "as:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var enrich func(*http.Request, *authz.Request)
			if tc.verified {
				enrich = alice
			}
			r := httptest.NewRequest(tc.method, "/items", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.contentLength0 {
				r.ContentLength = 0
			}
			rec := httptest.NewRecorder()
			e.Handler(enrich, app).ServeHTTP(rec, r)
			if got := rec.Body.String(); rec.Code != tc.code || tc.as != "" && got != tc.as {
				t.Errorf("got %d %q, want %d %q", rec.Code, got, tc.code, tc.as)
			}
		})
	}
}

// TestHandlerMethodOverrideRawPath: chi routes on r.URL.RawPath, which
// Handler decides the request on too, but it decided the method an
// override names on EscapedPath only, and skipped the form body when
// the request was allowed as every method there: "POST
// /files/x%2By|" (EscapedPath "/files/x+y%7C") naming DELETE passed a
// DENY of DELETE on "/files/x%2By*" that the same request sent as
// DELETE met, and chi ran its DELETE handler.
func TestHandlerMethodOverrideRawPath(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: keep-plus-files, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"], paths: ["/files/x%2By*"]}
`)
	var log ranLog
	r := chi.NewRouter()
	r.Delete("/files/{key}", log.handler("delete"))
	r.Post("/files/{key}", log.handler("post"))
	srv := httptest.NewServer(e.Handler(nil, methodOverride(r)))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	const form = "Content-Type: application/x-www-form-urlencoded\r\n"
	for _, tc := range []struct {
		method, target, header, body string
		code                         int
		ran                          string
	}{
		{"DELETE", "/files/x%2By|", "", "", http.StatusForbidden, ""},
		{"POST", "/files/x%2By|", "X-HTTP-Method-Override: DELETE\r\n", "", http.StatusForbidden, ""},
		{"POST", "/files/x%2By|?_method=DELETE", "", "", http.StatusForbidden, ""},
		{"POST", "/files/x%2By|", form, "_method=DELETE", http.StatusForbidden, ""},
		{"POST", "/files/x%2By|", form, "name=x", http.StatusOK, "post"},
		{"POST", "/files/other|", form, "_method=DELETE", http.StatusOK, "delete"},
	} {
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n%s",
			tc.method, tc.target, tc.header, len(tc.body), tc.body)
		expectRan(t, addr, &log, raw, tc.code, tc.ran)
	}
}

// TestHandlerMethodOverrideReadings: Handler decided an override as its
// value trimmed and in upper case, but Echo's MethodOverride and
// Buffalo's set r.Method to the value as sent, so "_method=get" (or
// " PUT", or "PUT, GET") ran as a method that an ALLOW of GET, POST and
// PUT does not allow, after Handler allowed it as GET; and an override
// that compares with strings.EqualFold runs "LOCK" spelled with the
// Kelvin sign, which strings.ToUpper leaves, as LOCK past a DENY of
// LOCK. Handler now decides each reading: as sent, each list element
// trimmed, in upper case, and folded to ASCII.
func TestHandlerMethodOverrideReadings(t *testing.T) {
	allow := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: read-write, namespace: shop}
spec:
  rules:
  - to:
    - operation: {methods: ["GET", "POST", "PUT"]}
`)
	noLock := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-lock, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["LOCK"]}
`)
	// asSent is Echo's MethodOverride (MethodFromForm, then the header).
	asSent := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				m := r.FormValue("_method")
				if m == "" {
					m = r.Header.Get("X-HTTP-Method-Override")
				}
				if m != "" {
					r.Method = m
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	// folded runs the registered method the value names in any case.
	folded := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if v := r.FormValue("_method"); r.Method == http.MethodPost {
				for _, m := range []string{"LOCK", "UNLOCK", "PUT", "DELETE"} {
					if strings.EqualFold(v, m) {
						r.Method = m
					}
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	var ran string
	app := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ran = r.Method })
	for _, tc := range []struct {
		name    string
		h       http.Handler
		header  string
		body    string
		code    int
		wantRan string
	}{
		{"lower case", allow.Handler(nil, asSent(app)), "", "_method=get", http.StatusForbidden, ""},
		{"space", allow.Handler(nil, asSent(app)), "", "_method=+PUT", http.StatusForbidden, ""},
		{"list in header", allow.Handler(nil, asSent(app)), "PUT, GET", "", http.StatusForbidden, ""},
		{"upper case", allow.Handler(nil, asSent(app)), "", "_method=PUT", http.StatusOK, "PUT"},
		{"Kelvin sign", noLock.Handler(nil, folded(app)), "", "_method=LOC%E2%84%AA", http.StatusForbidden, ""},
		{"lower case, DENY", noLock.Handler(nil, folded(app)), "", "_method=lock", http.StatusForbidden, ""},
		{"other", noLock.Handler(nil, folded(app)), "", "_method=unlock", http.StatusOK, "UNLOCK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran = ""
			r := httptest.NewRequest(http.MethodPost, "/items/1", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.header != "" {
				r.Header.Set("X-HTTP-Method-Override", tc.header)
			}
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, r)
			if rec.Code != tc.code || ran != tc.wantRan {
				t.Errorf("got %d, ran %q; want %d, ran %q", rec.Code, ran, tc.code, tc.wantRan)
			}
		})
	}
}

// TestHandlerMethodOverrideMany: Handler decides a request as each
// method an override names, in each reading; a header or form body
// naming thousands of methods was decided thousands of times (tens of
// thousands of names took seconds of CPU). More than 32 distinct
// override methods get 400.
func TestHandlerMethodOverrideMany(t *testing.T) {
	e := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"]}
`)
	names := func(n int, sep string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%sm%d", sep, i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, header, body string
		code               int
	}{
		{"header list", strings.TrimPrefix(names(5000, ","), ","), "", http.StatusBadRequest},
		{"form fields", "", names(40, "&_method="), http.StatusBadRequest},
		{"query and header", "PUT, patch", "_method=put", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/items/1", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.header != "" {
				r.Header.Set("X-HTTP-Method-Override", tc.header)
			}
			rec := httptest.NewRecorder()
			e.Handler(nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, r)
			if rec.Code != tc.code {
				t.Errorf("got %d, want %d", rec.Code, tc.code)
			}
		})
	}
}

// TestHandlerFormParsedBefore: a middleware before Handler that reads a
// form field (gorilla/csrf's PostFormValue, nosurf's FormValue) parses
// the form and spends the body: Handler read an empty body, while the
// method override after it, and go-oauth2's BearerAuth, read "_method"
// and "access_token" from the parsed r.Form; and it refused (400) a
// multipart POST so parsed, whose spent body did not parse as multipart.
// Handler now reads a form already parsed too, and an empty body as no
// fields.
func TestHandlerFormParsedBefore(t *testing.T) {
	methods := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["DELETE"]}
`)
	tokens := engineFor(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-mallory, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source: {requestPrincipals: ["https://id.example.com/mallory"]}
`)
	// csrf reads its token from the form, as gorilla/csrf does.
	csrf := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.PostFormValue("gorilla.csrf.Token")
			h.ServeHTTP(w, r)
		})
	}
	var ran string
	sm := http.NewServeMux()
	sm.HandleFunc("DELETE /items/{id}", func(http.ResponseWriter, *http.Request) { ran = "delete" })
	sm.HandleFunc("POST /items/{id}", func(http.ResponseWriter, *http.Request) { ran = "post" })
	oauth := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ran = "as:" + r.FormValue("access_token") })
	mp, mpType := multipartBody(t, "gorilla.csrf.Token", "t", "_method", "DELETE")
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, ctype, body string
		h                 http.Handler
		code              int
		ran               string
	}{
		{"urlencoded _method", form, "gorilla.csrf.Token=t&_method=DELETE", csrf(methods.Handler(nil, methodOverride(sm))), http.StatusForbidden, ""},
		{"multipart _method", mpType, mp, csrf(methods.Handler(nil, methodOverride(sm))), http.StatusForbidden, ""},
		{"access_token", form, "gorilla.csrf.Token=t&access_token=mallory", csrf(tokens.Handler(nil, oauth)), http.StatusBadRequest, ""},
		{"no override", form, "gorilla.csrf.Token=t&name=x", csrf(methods.Handler(nil, methodOverride(sm))), http.StatusOK, "post"},
		{"multipart, no override", mpType, strings.Replace(mp, "DELETE", "POST", 1), csrf(methods.Handler(nil, methodOverride(sm))), http.StatusOK, "post"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran = ""
			r := httptest.NewRequest(http.MethodPost, "/items/1", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, r)
			if rec.Code != tc.code || ran != tc.ran {
				t.Errorf("got %d, ran %q; want %d, ran %q", rec.Code, ran, tc.code, tc.ran)
			}
		})
	}
}
