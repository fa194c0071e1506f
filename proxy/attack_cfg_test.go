package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardsec/ward/guard/spiffeauth"
)

// TestAttackAbortedResponseUnrecorded: a response cut off after its
// headers (the upstream stalls its body past the route timeout, or the
// client hangs up mid-body) made net/http's ReverseProxy panic with
// http.ErrAbortHandler, which unwound past the audit handler: no record
// at all, so a client could read most of an allowed download, reset the
// connection and leave no trace. Every such request is recorded, with
// the status sent and an outcome saying it was cut off.
func TestAttackAbortedResponseUnrecorded(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		switch r.URL.Path {
		case "/api/stall":
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/api/big":
			chunk := strings.Repeat("x", 64<<10)
			for range 1 << 10 { // 64 MiB: more than any socket buffers hold
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(upstream.Close)
	h := startWith(t, setup{upstream: upstream.URL, replace: []string{"upstream:\n  url: ", "upstream:\n  timeout: 500ms\n  url: "}})
	for _, tt := range []struct {
		path    string
		hangUp  bool
		outcome string
	}{
		{"/api/stall", false, "upstream timeout"},
		{"/api/big", true, "response aborted"},
	} {
		conn := h.dial(t, "web")
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET "+tt.path+" HTTP/1.1\r\nHost: api\r\nX-Client: "+tt.path+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, err := io.ReadAtLeast(conn, buf, 12)
		if status(string(buf[:n])) != 200 {
			t.Fatalf("%s: response %q (%v)", tt.path, buf[:n], err)
		}
		if tt.hangUp {
			conn.Close()
		} else {
			_, _ = io.Copy(io.Discard, conn) // until the proxy cuts it
			conn.Close()
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if err := h.srv.auditBuf.Flush(); err != nil {
				t.Fatal(err)
			}
			var rec string
			for _, l := range strings.Split(h.audit.String(), "\n") {
				if strings.Contains(l, `"path":"`+tt.path+`"`) {
					rec = l
				}
			}
			if rec != "" {
				if !strings.Contains(rec, `"status":200`) || !strings.Contains(rec, `"outcome":"`+tt.outcome+`"`) {
					t.Errorf("%s: record %s; want status 200, outcome %q", tt.path, rec, tt.outcome)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: no audit record for a response cut off:\n%s", tt.path, h.audit.String())
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestAttackReloadNoApplicablePolicy: a policies file swapped for one
// whose policies all select another namespace or workload compiled to no
// policy at all, and so allowed every request, as the empty file did
// (hole 5). It is refused on reload and at start (--check).
func TestAttackReloadNoApplicablePolicy(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	cfgPath, polPath := filepath.Join(h.dir, "proxy.yaml"), filepath.Join(h.dir, "policies.yaml")
	for name, data := range map[string]string{
		"another namespace": strings.ReplaceAll(policies, "namespace: shop", "namespace: billing"),
		"another workload":  strings.ReplaceAll(policies, "app: api", "app: billing"),
	} {
		writeFile(t, polPath, []byte(data))
		if err := h.srv.Reload(); err == nil {
			t.Errorf("%s: reload accepted", name)
		}
		resp, got := sendRaw(t, h, u, "web", "GET", "/admin")
		if status(resp) != 403 || len(got) != 0 {
			t.Errorf("%s: GET /admin %d, upstream received %d; want 403", name, status(resp), len(got))
		}
		if s, err := NewServer(cfgPath, slog.New(slog.DiscardHandler), io.Discard); err == nil {
			_ = s.Close()
			t.Errorf("%s: --check accepts it", name)
		}
	}
}

// TestAttackReloadDropsIdentityCheck: a reload may not turn a check off
// by leaving its section out (hole 5); these went through: mutual TLS
// with SPIFFE replaced by a plain certificate (any client then connects,
// and DENY policies on principals no longer match anyone), and a route
// losing its own `jwt: {required: true}` (its requests then need no
// token).
func TestAttackReloadDropsIdentityCheck(t *testing.T) {
	const routed = `upstream: {url: "http://127.0.0.1:8080"}
jwt:
  required: false
  issuers: [{issuer: "https://id", anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]
routes:
  - name: admin
    match: {prefix: /admin}
    jwt: {required: true}
  - name: rest
    match: {prefix: /}
`
	const mtls = `tls:
  spiffe: {svid: s.pem, key: k.pem, bundle: b.pem, allow: ["spiffe://example.org/**"]}
upstream: {url: "http://127.0.0.1:8080"}
`
	for _, tt := range []struct {
		name, old, cur string
		refused        bool
	}{
		{"mTLS to plain TLS", mtls, "tls: {cert: c.pem, key: k.pem}\nupstream: {url: \"http://127.0.0.1:8080\"}\n", true},
		{"mTLS kept", mtls, strings.Replace(mtls, "example.org/**", "example.org/ns/**", 1), false},
		{"route loses jwt", routed, strings.Replace(routed, "    jwt: {required: true}\n", "", 1), true},
		{"route jwt off on purpose", routed, strings.Replace(routed, "required: true", "required: false", 1), false},
	} {
		old, err := ParseConfig("proxy.yaml", []byte(tt.old))
		if err != nil {
			t.Fatal(err)
		}
		cur, err := ParseConfig("proxy.yaml", []byte(tt.cur))
		if err != nil {
			t.Fatal(err)
		}
		if err := dropsSection(old, cur); (err != nil) != tt.refused {
			t.Errorf("%s: dropsSection = %v, want refused %v", tt.name, err, tt.refused)
		}
	}
}

// TestAttackUpgradeHeaderEscapesTimeout: the route timeout exempted any
// request carrying an Upgrade header, though only a 101 answer makes a
// tunnel: "Upgrade: websocket" on a request the upstream answers as a
// plain HTTP exchange (with or without "Connection: Upgrade") ran with
// no route timeout, holding an upstream connection up to the idle
// timeout. The route timeout holds until the upstream switches
// protocols; a real WebSocket (TestAttackWebSocketTimeouts) is exempt.
func TestAttackUpgradeHeaderEscapesTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/headers" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		select { // the answer (or the rest of it) never comes
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(upstream.Close)
	h := startWith(t, setup{upstream: upstream.URL, replace: []string{"upstream:\n  url: ", "upstream:\n  timeout: 500ms\n  url: "}})
	for _, tt := range []struct{ path, hdr string }{
		{"/api/never", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"},
		{"/api/never", "Upgrade: websocket\r\n"},
		{"/api/headers", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"},
	} {
		conn := h.dial(t, "web")
		start := time.Now()
		_ = conn.SetDeadline(start.Add(4 * time.Second))
		if _, err := io.WriteString(conn, "GET "+tt.path+" HTTP/1.1\r\nHost: api\r\nX-Client: "+tt.hdr[:9]+tt.path+"\r\n"+tt.hdr+"\r\n"); err != nil {
			t.Fatal(err)
		}
		// Until the proxy has answered in full, or cut the answer off.
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		code := 0
		if err == nil {
			code = resp.StatusCode
			_, err = io.Copy(io.Discard, resp.Body)
		}
		conn.Close()
		if d := time.Since(start); d > 2*time.Second || code == http.StatusSwitchingProtocols {
			t.Errorf("%s with %q: status %d, still open after %v (%v); the route timeout is 500ms", tt.path, tt.hdr, code, d, err)
		}
	}
}

// TestAttackExpiredSVIDKeepsConnection: SPIFFE revokes a workload by not
// renewing its short-lived SVID, but a connection kept alive (or a
// WebSocket tunnel) went on being served after the SVID had expired,
// for as long as the client kept it busy. A request on it is refused
// and the connection closed; a tunnel is closed.
func TestAttackExpiredSVIDKeepsConnection(t *testing.T) {
	t.Cleanup(func() { peerClockAhead.Store(0) })
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	send, tunnel := keptAliveAndTunnel(t, h)
	before := len(u.requests())
	peerClockAhead.Store(int64(2 * time.Hour)) // the SVIDs live 1 h
	if got := send(); got != 403 {
		t.Errorf("after the SVID expired: %d, want 403", got)
	}
	if got := len(u.requests()); got != before {
		t.Errorf("a request of an expired peer reached the upstream")
	}
	_ = tunnel.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := tunnel.Read(make([]byte, 1)); isTimeout(err) {
		t.Error("the tunnel of an expired peer is still open after 3 s")
	}
}

// TestAttackReloadResetsRateLimit: every reload (any watched file that
// changes: a policies or JWKS file) built new rate limiters, handing
// every client a fresh burst. Counts carry over a reload that leaves the
// rateLimit settings as they were, at the top level and in routes.
func TestAttackReloadResetsRateLimit(t *testing.T) {
	for _, tt := range []struct{ name, extra, from, to string }{
		{"top level", "", `rate: 1, burst: 2, key: "header:X-Client"`, `rate: 0.001, burst: 2, key: "header:X-Tenant"`},
		{"route", "routes:\n  - name: api\n    match: {prefix: /api/}\n    rateLimit: {rate: 0.001, burst: 2, key: \"header:X-Tenant\"}\n", "", ""},
	} {
		u := newRawUpstream(t)
		su := setup{upstream: u.URL(), extra: tt.extra}
		if tt.from != "" {
			su.replace = []string{tt.from, tt.to}
		}
		h := startWith(t, su)
		get := func() int {
			resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Tenant", "one")
			return status(resp)
		}
		for i := range 2 {
			if got := get(); got != 200 {
				t.Fatalf("%s: request %d: %d", tt.name, i, got)
			}
		}
		if got := get(); got != 429 {
			t.Fatalf("%s: over the burst: %d", tt.name, got)
		}
		cfgPath := filepath.Join(h.dir, "proxy.yaml")
		data, _ := os.ReadFile(cfgPath)
		writeFile(t, cfgPath, []byte(strings.Replace(string(data), "maxBodyBytes: 1024", "maxBodyBytes: 2048", 1)))
		if err := h.srv.Reload(); err != nil {
			t.Fatal(err)
		}
		if got := get(); got != 429 {
			t.Errorf("%s: after a reload that kept the rate limit: %d, want 429", tt.name, got)
		}
	}
}

// TestAttackLimitsRecordedAndDefaulted: the size limits refused requests
// (413, 414) under an audit record saying "allow", "no rule applied"; a
// chunked body over the limit was recorded as an upstream error; and the
// documented defaults (10 MiB bodies, 8 KiB URLs; "0: the default") were
// never applied: without `limits` any size went through.
func TestAttackLimitsRecordedAndDefaulted(t *testing.T) {
	anyMethod := strings.Replace(policies, `methods: ["GET"], `, "", 1)
	for _, tt := range []struct {
		name, limits, req string
		want              int
	}{
		{"declared body", "limits: {maxBodyBytes: 1024}", "POST /api/up HTTP/1.1\r\nHost: api\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n", 413},
		{"default body", "", "POST /api/up HTTP/1.1\r\nHost: api\r\nContent-Length: 20000000\r\nConnection: close\r\n\r\n", 413},
		{"default URL", "", "GET /api/" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n", 414},
		{"chunked body", "limits: {maxBodyBytes: 1024}", "POST /api/up HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n800\r\n" + strings.Repeat("x", 2048) + "\r\n0\r\n\r\n", 413},
	} {
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, replace: []string{"limits: {maxBodyBytes: 1024}", tt.limits}})
		resp := h.raw(t, "web", tt.req)
		if got := status(resp); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
		if err := h.srv.auditBuf.Flush(); err != nil {
			t.Fatal(err)
		}
		if log := h.audit.String(); !strings.Contains(log, `"decision":"deny"`) || !strings.Contains(log, `"rule":"limits"`) || strings.Contains(log, "upstream error") {
			t.Errorf("%s: audit record:\n%.400s", tt.name, log)
		}
	}
}

// TestAttackRemovedCAKeepsConnection: a trust bundle rotated to drop a
// CA (a compromised one, say) stopped new handshakes with its SVIDs,
// but connections already open, and their WebSocket tunnels, went on
// being served. A request on such a connection is refused and the
// connection closed; a tunnel is closed.
func TestAttackRemovedCAKeepsConnection(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	send, tunnel := keptAliveAndTunnel(t, h)
	ca, err := spiffeauth.NewDevCA(spiffeid.RequireTrustDomainFromString("example.org"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ca.Bundle().Marshal()
	writeFile(t, filepath.Join(h.dir, "bundle.pem"), b) // the old CA is gone
	deadline := time.Now().Add(5 * time.Second)
	got := 200
	for got == 200 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // the bundle file is polled every second
		got = send()
	}
	if got != 403 {
		t.Errorf("after the CA was removed from the bundle: %d, want 403", got)
	}
	_ = tunnel.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := tunnel.Read(make([]byte, 1)); isTimeout(err) {
		t.Error("the tunnel of a peer whose CA was removed is still open after 3 s")
	}
}

// TestAttackClaimHeaderOverwrites: jwt.outputClaimToHeaders accepted any
// header name, so a token claim (which some identity providers let users
// edit) could replace X-Forwarded-For, X-Forwarded-Client-Cert or
// X-Request-Id, which the proxy sets for the upstream. Such names are a
// configuration error.
func TestAttackClaimHeaderOverwrites(t *testing.T) {
	const doc = "upstream: {url: 'http://a:1'}\njwt:\n  issuers: [{issuer: https://id, anyAudience: true, algorithms: [ES256], jwksFile: j.json}]\n  outputClaimToHeaders: [{header: %s, claim: name}]\n"
	for _, h := range []string{"X-Forwarded-For", "x-forwarded-client-cert", "X_Request_Id", "Transfer-Encoding"} {
		if _, err := ParseConfig("p.yaml", []byte(fmt.Sprintf(doc, h))); err == nil || !strings.Contains(err.Error(), "p.yaml:4") {
			t.Errorf("%s: %v, want an error at line 4", h, err)
		}
	}
	if _, err := ParseConfig("p.yaml", []byte(fmt.Sprintf(doc, "X-Jwt-Name"))); err != nil {
		t.Errorf("X-Jwt-Name: %v", err)
	}
}

// TestAttackRoutesMultiplyRateLimit: a top-level rate limit that routes
// inherit was counted per route, so a client spreading its requests over
// the routes got the rate once per route. Routes inheriting it share one
// set of counts; a route with a rate limit of its own keeps its own.
func TestAttackRoutesMultiplyRateLimit(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(),
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, `rateLimit: {rate: 0.001, burst: 2, key: "header:X-Tenant"}`},
		extra: `routes:
  - name: items
    match: {prefix: /api/items}
  - name: orders
    match: {prefix: /api/orders}
  - name: own
    match: {prefix: /api/own}
    rateLimit: {rate: 0.001, burst: 1, key: "header:X-Tenant"}
`})
	get := func(path string) int {
		resp, _ := sendRaw(t, h, u, "web", "GET", path, "X-Tenant", "t1")
		return status(resp)
	}
	var codes []int
	for _, p := range []string{"/api/items", "/api/orders", "/api/items", "/api/orders", "/api/own", "/api/own"} {
		codes = append(codes, get(p))
	}
	if got, want := fmt.Sprint(codes), "[200 200 429 429 200 429]"; got != want {
		t.Errorf("statuses %s, want %s (burst 2 shared by the routes inheriting the limit; 1 for the route with its own)", got, want)
	}
	// A reload that keeps the settings keeps the shared counts: neither
	// route gets a fresh burst.
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), "maxBodyBytes: 1024", "maxBodyBytes: 2048", 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/items", "/api/orders", "/api/own"} {
		if got := get(p); got != 429 {
			t.Errorf("after a reload keeping the limits, %s: %d, want 429", p, got)
		}
	}
}

// TestAttackTokenForOtherService: an issuer without audiences accepted a
// token minted for another service of the same issuer (Istio's default).
// Audiences are now required (anyAudience: true says Istio's behaviour
// explicitly), and a token for another audience gets 401.
func TestAttackTokenForOtherService(t *testing.T) {
	iss := newJWTIssuer(t) // its tokens are for audience "shop"
	for _, tt := range []struct {
		issuer string
		want   int
	}{
		{"audiences: [orders]", 401},
		{"audiences: [shop]", 200},
		{"audiences: [orders, shop]", 200},
		{"anyAudience: true", 200},
	} {
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
			extra: "jwt: {required: true, issuers: [{issuer: https://id.test, " + tt.issuer + ", algorithms: [ES256], jwksFile: jwks.json}]}\n"})
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+iss.token(t, "alice"))
		if code := status(resp); code != tt.want {
			t.Errorf("%s, a token for shop: %d, want %d", tt.issuer, code, tt.want)
		}
		if tt.want != 200 && len(got) != 0 {
			t.Errorf("%s: a refused token reached the upstream", tt.issuer)
		}
	}
	// Without either, the configuration does not load.
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	writeFile(t, path, []byte("upstream: {url: 'http://a:1'}\njwt:\n  issuers: [{issuer: https://id.test, algorithms: [ES256], jwksFile: j.json}]\n"))
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "audiences is required") {
		t.Errorf("an issuer without audiences: %v, want an error", err)
	}
}

// keptAliveAndTunnel opens through h, as web, a kept-alive connection
// (send makes a GET on it and returns the status, 0 once the connection
// is broken) and a WebSocket tunnel, and checks that both are served.
func keptAliveAndTunnel(t *testing.T, h *harness) (send func() int, tunnel net.Conn) {
	t.Helper()
	conn := h.dial(t, "web")
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	send = func() int {
		if _, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: api\r\nX-Client: "+fmt.Sprint(time.Now().UnixNano())+"\r\n\r\n"); err != nil {
			return 0
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send(); got != 200 {
		t.Fatalf("a request before: %d", got)
	}
	tunnel = h.dial(t, "web")
	t.Cleanup(func() { tunnel.Close() })
	if _, err := io.WriteString(tunnel, "GET /api/ws HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Client: ws-"+fmt.Sprint(time.Now().UnixNano())+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, _ := tunnel.Read(buf); status(string(buf[:n])) != 101 {
		t.Fatalf("upgrade: %q", buf[:n])
	}
	return send, tunnel
}

// TestAttackTunnelsHoldConcurrencySlots: with maxConcurrency, a request
// held its slot under the adaptive limit until its handler returned, and
// the limit starts at 20 and grows only as requests complete: 20
// WebSocket tunnels, which a client keeps open at no cost, or 20 streams
// of server-sent events had every other request shed with 503, whatever
// maxConcurrency. A request now gives its slot back with its response's
// headers (a 101 for a tunnel).
func TestAttackTunnelsHoldConcurrencySlots(t *testing.T) {
	const rl = `rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "maxConcurrency: 1000\n", replace: []string{rl, "rateLimit: {rate: 100000, burst: 100000}"}})
	for i := range 25 {
		openTunnel(t, h, u, "web", "/api/ws", "t", fmt.Sprintf("hello%d", i))
	}
	if resp, got := sendRaw(t, h, u, "web", "GET", "/api/items"); status(resp) != 200 || len(got) != 1 {
		t.Errorf("beside 25 tunnels: status %d, the upstream received %d requests; want 200 and 1", status(resp), len(got))
	}

	release := make(chan struct{})
	defer close(release) // before the cleanups: the streams end first
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: hello\n\n")
			w.(http.Flusher).Flush()
			<-release
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(upstream.Close)
	h2 := startWith(t, setup{upstream: upstream.URL, extra: "maxConcurrency: 1000\n", replace: []string{rl, "rateLimit: {rate: 100000, burst: 100000}"}})
	for range 25 {
		conn := h2.dial(t, "web")
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "GET /api/events HTTP/1.1\r\nHost: api\r\n\r\n")
		br := bufio.NewReader(conn)
		if line, _ := br.ReadString('\n'); !strings.Contains(line, " 200 ") {
			t.Fatalf("event stream: %q", line)
		}
	}
	if code, body := h2.get(t, "web", "/api/items"); code != 200 {
		t.Errorf("beside 25 event streams: %d %q, want 200", code, body)
	}
}

// TestAttackPolicyMetadataTypo: a policies file holding the policies of
// several namespaces (a mesh's, exported), one of which, written for
// namespace public, allows everyone; its namespace key misspelt
// (`namepsace: public`). Metadata fields other than name, namespace,
// labels and annotations were ignored, the policy took the workload's
// namespace, and allowed every client here. An unknown metadata field
// is now an error naming its line (as kubectl's strict validation),
// at start and on reload, and the running policies stay.
func TestAttackPolicyMetadataTypo(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	cfgPath, polPath := filepath.Join(h.dir, "proxy.yaml"), filepath.Join(h.dir, "policies.yaml")
	batch := func(step string) {
		t.Helper()
		resp, got := sendRaw(t, h, u, "batch", "GET", "/api/items")
		if status(resp) != 403 || len(got) != 0 {
			t.Errorf("%s: batch GET /api/items %d, upstream received %d; want 403", step, status(resp), len(got))
		}
	}
	batch("before")
	// Kubernetes' own metadata, as `kubectl get -o yaml` writes it, loads.
	exported := policies + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-all
  namespace: public
  uid: 4b0c8a4e-0000-4000-8000-000000000000
  resourceVersion: "12345"
  generation: 1
  creationTimestamp: "2026-01-01T00:00:00Z"
  managedFields: []
spec:
  rules: [{}]
`
	writeFile(t, polPath, []byte(exported))
	if err := h.srv.Reload(); err != nil {
		t.Fatalf("exported policies: %v", err)
	}
	batch("exported policies")
	typo := strings.Replace(exported, "  namespace: public\n", "  namepsace: public\n", 1)
	writeFile(t, polPath, []byte(typo))
	line := strings.Count(typo[:strings.Index(typo, "namepsace")], "\n") + 1
	err := h.srv.Reload()
	if want := fmt.Sprintf("policies.yaml:%d:", line); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "namepsace") {
		t.Errorf("namespace misspelt: reload: %v, want an error at %s", err, want)
	}
	batch("namespace misspelt")
	if s, err := NewServer(cfgPath, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		_ = s.Close()
		t.Error("namespace misspelt: --check accepts it")
	}
}

// TestAttackPolicyGroupCase: a DENY policy whose apiVersion spells the
// group in another case ("Security.istio.io/v1") was read as another
// product's AuthorizationPolicy (Linkerd's are policy.linkerd.io) and
// dropped without a word, so the path it denied was served; Kubernetes
// refuses such a group (groups are lower case). It is now an error
// naming its line, at start and on reload, and the running policies stay.
func TestAttackPolicyGroupCase(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	cfgPath, polPath := filepath.Join(h.dir, "proxy.yaml"), filepath.Join(h.dir, "policies.yaml")
	items := func(step string, want int) {
		t.Helper()
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items")
		if status(resp) != want || (want == 403) != (len(got) == 0) {
			t.Errorf("%s: web GET /api/items %d, upstream received %d; want %d", step, status(resp), len(got), want)
		}
	}
	items("before", 200)
	deny := `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-items, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/api/items"]}}]}]
`
	writeFile(t, polPath, []byte(policies+deny))
	if err := h.srv.Reload(); err != nil {
		t.Fatalf("deny-items: %v", err)
	}
	items("deny-items", 403)
	writeFile(t, polPath, []byte(policies))
	if err := h.srv.Reload(); err != nil {
		t.Fatalf("without deny-items: %v", err)
	}
	items("without deny-items", 200)
	upper := policies + strings.Replace(deny, "security.istio.io/v1", "Security.istio.io/v1", 1)
	writeFile(t, polPath, []byte(upper))
	line := strings.Count(upper[:strings.Index(upper, "Security.istio.io")], "\n") + 1
	err := h.srv.Reload()
	if want := fmt.Sprintf("policies.yaml:%d:", line); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("group in upper case: reload: %v, want an error at %s", err, want)
	}
	if s, err := NewServer(cfgPath, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		_ = s.Close()
		t.Error("group in upper case: --check accepts it")
	}
}
