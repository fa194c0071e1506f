package proxy

// Attacks that once got through `ward proxy` (issue 11), each replayed
// against a real upstream on loopback that records the raw bytes it
// receives. Keep them: a regression is a bypass.

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardsec/ward/guard/tlsconf"
	"github.com/wardsec/ward/internal/testenv"
)

// get sends GET target as web through h with Connection: close and
// returns the response and the requests the upstream received for it.
func sendRaw(t *testing.T, h *harness, u *rawUpstream, who, method, target string, hdr ...string) (resp string, got []string) {
	t.Helper()
	before := len(u.requests())
	req := method + " " + target + " HTTP/1.1\r\nHost: api\r\nX-Client: " + fmt.Sprint(time.Now().UnixNano()) + "\r\n"
	for i := 0; i+1 < len(hdr); i += 2 {
		req += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	resp = h.raw(t, who, req+"Connection: close\r\n\r\n")
	return resp, u.requests()[before:]
}

// TestAttackPathForwardedAsChecked (issue 11 hole 1): the path that
// authorization and the WAF decide on is the path the upstream receives,
// byte for byte. "//api/admin" was checked as /api/admin and forwarded as
// //api/admin, which Node's URL parser reads as host "api", path "/admin".
func TestAttackPathForwardedAsChecked(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	noAuthz := startWith(t, setup{upstream: u.URL(), replace: []string{"authorization:\n  policies: [policies.yaml]\n", ""}})
	tests := []targetCase{
		{h, "//api/admin", 200, "GET /api/admin HTTP/1.1"},
		{h, "//api//items", 200, "GET /api/items HTTP/1.1"},
		{h, "/api///items?q=%2F//x", 200, "GET /api/items?q=%2F//x HTTP/1.1"},
		{h, "/api/%61dmin", 200, "GET /api/admin HTTP/1.1"},
		{h, "/api/caf%c3%a9", 200, "GET /api/caf%C3%A9 HTTP/1.1"},
		{h, "https://api//api/admin", 200, "GET /api/admin HTTP/1.1"}, // absolute form
		{h, "http://api/api/items", 200, "GET /api/items HTTP/1.1"},
		{h, "//admin", 403, ""},
		{h, "https://api//admin", 403, ""},
		{h, "/api/%2Fadmin", 400, ""},
		{h, "/api/%2fadmin", 400, ""},
		{h, "/api/%5Cadmin", 400, ""},
		{h, `/api/\admin`, 400, ""},
		{h, "/api/%2E%2E/admin", 400, ""},
		{h, "/api/%2e/items", 400, ""},
		{h, "/api/../admin", 400, ""},
		{h, "https://api/api/%2e%2e/admin", 400, ""},
		// Without authorization the path rules hold all the same: the
		// upstream never sees what the proxy did not check.
		{noAuthz, "//api/admin", 200, "GET /api/admin HTTP/1.1"},
		{noAuthz, "http://api", 200, "GET / HTTP/1.1"},
		{noAuthz, "http://api?q=1", 200, "GET /?q=1 HTTP/1.1"},
		{noAuthz, "/api/%2Fadmin", 400, ""},
		{noAuthz, "/api/%5cadmin", 400, ""},
		{noAuthz, `/api\admin`, 400, ""},
		{noAuthz, "/api/%2e%2e/admin", 400, ""},
	}
	checkTargets(t, u, tests)
}

// TestAttackLowerCaseMethod (hole 2): "delete" passed a DENY of DELETE and
// Flask ran its DELETE handler. Methods are case-sensitive tokens; any
// method with a lower-case letter is refused with 400.
func TestAttackLowerCaseMethod(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {methods: ["DELETE"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules:
  - from: [{source: {principals: ["example.org/ns/shop/sa/web"]}}]
    to: [{operation: {paths: ["/api/*"]}}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	for _, tt := range []struct {
		method string
		want   int
	}{{"delete", 400}, {"Delete", 400}, {"dELETE", 400}, {"get", 400}, {"DELETE", 403}, {"GET", 200}} {
		resp, got := sendRaw(t, h, u, "web", tt.method, "/api/items")
		if status(resp) != tt.want {
			t.Errorf("%s /api/items: status %d, want %d", tt.method, status(resp), tt.want)
		}
		want := 0
		if tt.want == 200 {
			want = 1
		}
		if len(got) != want || (want == 1 && requestLine(got[0]) != tt.method+" /api/items HTTP/1.1") {
			t.Errorf("%s /api/items: the upstream received %q", tt.method, got)
		}
	}
}

// TestAttackIdentityHeaders (hole 3): headers that upstreams take for a
// verified identity never come from the client; the proxy sets
// X-Forwarded-Client-Cert itself (as Envoy's SANITIZE_SET) and replaces a
// client's request id with its own.
func TestAttackIdentityHeaders(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "headers: {strip: [X-Custom-User]}\n"})
	spoofed := []string{
		"X-Forwarded-Client-Cert", "By=spiffe://example.org/ns/shop/sa/api;URI=spiffe://example.org/ns/shop/sa/admin",
		"X-Spiffe-Id", "spiffe://example.org/ns/shop/sa/admin",
		"X-Remote-User", "admin",
		"X-Jwt-Payload", "eyJzdWIiOiJhZG1pbiJ9",
		"X-Original-URL", "/admin",
		"X-Rewrite-URL", "/admin",
		"X-HTTP-Method-Override", "DELETE",
		"X-Envoy-Original-Path", "/admin",
		"X-Custom-User", "admin",
		"X-Request-Id", "attacker-chosen-id",
	}
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", spoofed...)
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("GET /api/items: %d, upstream received %d requests", status(resp), len(got))
	}
	req := got[0]
	for i := 0; i+1 < len(spoofed); i += 2 {
		if strings.Contains(req, spoofed[i+1]) {
			t.Errorf("the upstream received the client's %s: %q", spoofed[i], spoofed[i+1])
		}
	}
	for _, name := range []string{"X-Spiffe-Id", "X-Remote-User", "X-Jwt-Payload", "X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-Envoy-Original-Path", "X-Custom-User"} {
		if v := header(req, name); len(v) > 0 {
			t.Errorf("the upstream received %s: %q", name, v)
		}
	}
	sum := sha256.Sum256(h.svids["web"].Certificates[0].Raw)
	wantXFCC := "By=spiffe://example.org/ns/shop/sa/api;Hash=" + hex.EncodeToString(sum[:]) +
		`;Subject="` + h.svids["web"].Certificates[0].Subject.String() + `";URI=spiffe://example.org/ns/shop/sa/web`
	if v := header(req, "X-Forwarded-Client-Cert"); len(v) != 1 || v[0] != wantXFCC {
		t.Errorf("X-Forwarded-Client-Cert upstream: %q, want [%q]", v, wantXFCC)
	}
	ids := header(req, "X-Request-Id")
	if len(ids) != 1 || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(ids[0]) {
		t.Fatalf("X-Request-Id upstream: %q, want one id of the proxy's", ids)
	}
	if !strings.Contains(resp, "X-Request-Id: "+ids[0]+"\r\n") {
		t.Errorf("the response's X-Request-Id is not the upstream's %s:\n%s", ids[0], resp)
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if log := h.audit.String(); !strings.Contains(log, `"request_id":"`+ids[0]+`"`) || strings.Contains(log, "attacker-chosen-id") {
		t.Errorf("audit record's request id is not the proxy's %s:\n%s", ids[0], log)
	}
}

// TestAttackUpgradeTunnel (hole 4): an Upgrade the configuration does not
// allow (only websocket by default) never reaches the upstream, so no
// tunnel opens and a request written after it is checked as a request.
func TestAttackUpgradeTunnel(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	for _, up := range []string{"h2c", "foo/1", "WebSocket, h2c", "websocket/13, foo"} {
		conn := h.dial(t, "web")
		_, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: api\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: "+up+
			"\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nX-Client: up"+up+"\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, _ := conn.Read(buf)
		first := string(buf[:n])
		// What an attacker writes into the tunnel it hopes for.
		_, _ = io.WriteString(conn, "GET /admin HTTP/1.1\r\nHost: api\r\nX-Client: tunnel"+up+"\r\nConnection: close\r\n\r\n")
		rest, _ := io.ReadAll(conn)
		conn.Close()
		if status(first) == 101 {
			t.Errorf("Upgrade: %s: 101 from the proxy", up)
		}
		if strings.Contains(u.received(), "/admin") {
			t.Fatalf("Upgrade: %s: /admin reached the upstream:\n%s", up, u.received())
		}
		if !strings.Contains(string(rest), "403") && !strings.Contains(first, "403") {
			t.Errorf("Upgrade: %s: want /admin refused as a request, got %q then %q", up, first, rest)
		}
	}
	for _, r := range u.requests() {
		if v := header(r, "Upgrade"); len(v) > 0 {
			t.Errorf("the upstream received Upgrade: %q", v)
		}
	}
}

// TestAttackUpgradeHTTP10: an HTTP/1.0 request's Upgrade is not
// forwarded, whatever it offers (RFC 9110 7.8: a server ignores it). A
// websocket Upgrade on an HTTP/1.0 request reached the upstream, and one
// that honoured it answered 101 and opened a tunnel on a request sent as
// HTTP/1.0; the same request as HTTP/1.1 still carries it.
func TestAttackUpgradeHTTP10(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		before := len(u.requests())
		resp := h.raw(t, "web", "GET /api/items "+proto+"\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		got := u.requests()[before:]
		if len(got) != 1 {
			t.Fatalf("%s: the upstream received %d requests, want 1 (response %q)", proto, len(got), resp)
		}
		up := header(got[0], "Upgrade")
		switch {
		case proto == "HTTP/1.0" && len(up) != 0:
			t.Errorf("HTTP/1.0: the upstream received Upgrade: %q", up)
		case proto == "HTTP/1.1" && fmt.Sprint(up) != "[websocket]":
			t.Errorf("HTTP/1.1: the upstream received Upgrade: %q, want websocket", up)
		}
	}
}

// TestAttackUnparseableForwardedFor (hole 9): from a trusted proxy, an
// X-Forwarded-For that does not parse is refused with 400; it used to fall
// back to the trusted proxy's own address.
func TestAttackUnparseableForwardedFor(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "clientIP: {trustedProxies: [127.0.0.0/8]}\n"})
	for _, xff := range []string{"garbage", "unknown", "1.2.3.4:abc", "203.0.113.9, garbage", "203.0.113.9,unknown", "[2001:db8::1"} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Forwarded-For", xff)
		if status(resp) != 400 || len(got) != 0 {
			t.Errorf("X-Forwarded-For: %s: status %d, upstream received %q; want 400 and nothing", xff, status(resp), got)
		}
	}
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Forwarded-For", "203.0.113.9")
	if status(resp) != 200 || len(got) != 1 || fmt.Sprint(header(got[0], "X-Forwarded-For")) != "[203.0.113.9]" {
		t.Errorf("X-Forwarded-For: 203.0.113.9: %d %q", status(resp), got)
	}
}

// TestAttackRateLimitIPv6 (hole 10): one host owns a /64; 40 addresses of
// it used to get 40 buckets. They share one (the prefix is configurable).
func TestAttackRateLimitIPv6(t *testing.T) {
	for _, tt := range []struct {
		prefix string
		want   int
	}{{"", 3}, {", ipv6Prefix: 48", 3}, {", ipv6Prefix: 128", 40}} {
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(), extra: "clientIP: {trustedProxies: [127.0.0.0/8]}\n",
			replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 0.01, burst: 3, key: ip" + tt.prefix + "}"}})
		for i := range 40 {
			sendRaw(t, h, u, "web", "GET", "/api/items", "X-Forwarded-For", fmt.Sprintf("2001:db8:1:2::%x", i+1))
		}
		if n := len(u.requests()); n != tt.want {
			t.Errorf("rateLimit%s: 40 addresses of one /64 at burst 3: the upstream received %d requests, want %d", tt.prefix, n, tt.want)
		}
		// Another network has its own bucket.
		if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Forwarded-For", "2001:db8:2::1"); status(resp) != 200 {
			t.Errorf("rateLimit%s: another network: %d, want 200", tt.prefix, status(resp))
		}
	}
}

// jwtIssuer is an ES256 key, its JWKS document and a token signer.
type jwtIssuer struct {
	key  *ecdsa.PrivateKey
	jwks []byte
}

func newJWTIssuer(t *testing.T) *jwtIssuer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return &jwtIssuer{key: k, jwks: b}
}

func (j *jwtIssuer) token(t *testing.T, sub string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: j.key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := josejwt.Signed(s).Claims(josejwt.Claims{Issuer: "https://id.test", Subject: sub, Audience: josejwt.Audience{"shop"},
		Expiry: josejwt.NewNumericDate(time.Now().Add(time.Hour)), IssuedAt: josejwt.NewNumericDate(time.Now())}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAttackRateLimitAnonymous (hole 10): with key: subject, clients
// without a token used to share one bucket; they fall back to the client
// address, so one anonymous client cannot starve the others (nor get a
// bucket per request).
func TestAttackRateLimitAnonymous(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(),
		extra:   "clientIP: {trustedProxies: [127.0.0.0/8]}\njwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}\n",
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 0.01, burst: 3, key: subject}"},
		files:   map[string][]byte{"jwks.json": iss.jwks}})
	count := func(xff string, n int, hdr ...string) int {
		ok := 0
		for range n {
			if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items", append([]string{"X-Forwarded-For", xff}, hdr...)...); status(resp) == 200 {
				ok++
			}
		}
		return ok
	}
	if n := count("192.0.2.1", 5); n != 3 {
		t.Errorf("anonymous 192.0.2.1: %d of 5 passed, want 3", n)
	}
	if n := count("192.0.2.2", 1); n != 1 {
		t.Errorf("anonymous 192.0.2.2 after another anonymous client used its burst: %d of 1 passed", n)
	}
	tok := iss.token(t, "alice")
	if n := count("192.0.2.1", 4, "Authorization", "Bearer "+tok); n != 3 {
		t.Errorf("alice: %d of 4 passed, want 3 (her own bucket)", n)
	}
}

// TestAttackJWKSDowngrade (hole 12): a JWKS URL over https that redirects
// to http is refused: keys fetched in clear text could be anyone's.
func TestAttackJWKSDowngrade(t *testing.T) {
	iss := newJWTIssuer(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(iss.jwks) }))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/direct" {
			_, _ = w.Write(iss.jwks)
			return
		}
		http.Redirect(w, r, plain.URL+"/jwks", http.StatusFound)
	}))
	defer secure.Close()
	for _, tt := range []struct {
		path string
		want int
	}{{"/direct", 200}, {"/redirect", 401}} {
		u := newRawUpstream(t)
		h := startWith(t, setup{upstream: u.URL(),
			extra: "jwt: {required: true, issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksURL: '" + secure.URL + tt.path + "', jwksCA: jwks-ca.pem}]}\n",
			files: map[string][]byte{"jwks-ca.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw})}})
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+iss.token(t, "alice"))
		if status(resp) != tt.want || (tt.want != 200) != (len(got) == 0) {
			t.Errorf("JWKS at %s: status %d, upstream received %d requests; want %d", tt.path, status(resp), len(got), tt.want)
		}
	}
}

// TestAttackClientHangUp (hole 13): a client that hangs up is logged as
// 499 "client closed", not as a 502 upstream error.
func TestAttackClientHangUp(t *testing.T) {
	u := newRawUpstream(t)
	u.setDelay(3 * time.Second)
	h := startWith(t, setup{upstream: u.URL()})
	conn := h.dial(t, "web")
	if _, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: api\r\nX-Client: hangup\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(u.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	conn.Close()
	for {
		if err := h.srv.auditBuf.Flush(); err != nil {
			t.Fatal(err)
		}
		log := h.audit.String()
		if strings.Contains(log, `"status":499`) {
			if !strings.Contains(log, "client closed") {
				t.Errorf("499 record without the reason:\n%s", log)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 499 record for a client that hung up (the upstream got %d requests):\n%s", len(u.requests()), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttackWAFKeepsAuthzRule (hole 13): a WAF match below the blocking
// threshold is recorded beside the authorization rule that allowed the
// request, not instead of it.
func TestAttackWAFKeepsAuthzRule(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "waf: {mode: block, anomalyThreshold: 1000}\n"})
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/items?q=%3Cscript%3Ealert(1)%3C/script%3E")
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("below the threshold: %d, upstream received %d", status(resp), len(got))
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	log := h.audit.String()
	if !strings.Contains(log, `"rule":"authz/shop/allow-web"`) || !regexp.MustCompile(`"waf":"[^"]*941100`).MatchString(log) {
		t.Errorf("audit record lacks the authorization rule or the WAF match:\n%s", log)
	}
}

// TestAttackReloadFailsOpen (hole 5): a reload that would turn
// authorization off by accident is refused and the running configuration
// stays: an empty policies file, a configuration that lost its
// authorization section (a half-written file), unless it says
// "authorization: none". --check (NewServer) refuses an empty policies
// file too.
func TestAttackReloadFailsOpen(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	cfgPath, polPath := filepath.Join(h.dir, "proxy.yaml"), filepath.Join(h.dir, "policies.yaml")
	good, _ := os.ReadFile(cfgPath)
	admin := func(step string, want int) {
		t.Helper()
		resp, got := sendRaw(t, h, u, "web", "GET", "/admin")
		if status(resp) != want || (want == 403) != (len(got) == 0) {
			t.Errorf("%s: GET /admin: %d, upstream received %d requests; want %d", step, status(resp), len(got), want)
		}
	}
	for name, data := range map[string]string{"empty": "", "comments only": "# nothing yet\n", "no document": "---\n---\n"} {
		writeFile(t, polPath, []byte(data))
		if err := h.srv.Reload(); err == nil {
			t.Errorf("policies file %s: reload accepted", name)
		}
		admin("policies file "+name, 403)
		if s, err := NewServer(cfgPath, slog.New(slog.DiscardHandler), io.Discard); err == nil {
			_ = s.Close()
			t.Errorf("policies file %s: --check accepts it", name)
		}
	}
	writeFile(t, polPath, []byte(policies))
	half, _, _ := strings.Cut(string(good), "authorization:")
	writeFile(t, cfgPath, []byte(half))
	if err := h.srv.Reload(); err == nil {
		t.Errorf("configuration without its authorization section: reload accepted")
	}
	admin("configuration without authorization", 403)
	// Said explicitly, it applies.
	writeFile(t, cfgPath, []byte(strings.Replace(string(good), "authorization:\n  policies: [policies.yaml]\n", "authorization: none\n", 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatalf("authorization: none: %v", err)
	}
	admin("authorization: none", 200)
	if got := testutilCounter(t, h, "ward_proxy_reload_failures_total"); got != 4 {
		t.Errorf("ward_proxy_reload_failures_total = %v, want 4", got)
	}
}

// TestAttackReloadWatch (hole 5): every file the configuration names is
// watched (an edited policies file applies without SIGHUP), and a file
// written in two steps is not loaded half-written.
func TestAttackReloadWatch(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	defer func(d time.Duration) { settleDelay = d }(settleDelay)
	settleDelay = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		h.srv.Watch(ctx, 50*time.Millisecond)
	}()
	// The watcher reads settleDelay: it must be gone before the deferred
	// restore above writes it.
	defer func() { cancel(); <-watching }()
	cfgPath, polPath := filepath.Join(h.dir, "proxy.yaml"), filepath.Join(h.dir, "policies.yaml")
	good, _ := os.ReadFile(cfgPath)
	batch := func() int {
		resp, _ := sendRaw(t, h, u, "batch", "GET", "/api/items")
		return status(resp)
	}
	if got := batch(); got != 403 {
		t.Fatalf("batch before the edit: %d", got)
	}
	writeFile(t, polPath, []byte(strings.Replace(policies, `["example.org/ns/shop/sa/web"]`, `["example.org/ns/shop/sa/web", "example.org/ns/shop/sa/batch"]`, 1)))
	deadline := time.Now().Add(5 * time.Second)
	for batch() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("an edited policies file was not applied within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A configuration written in two steps: the first half is never live.
	half, _, _ := strings.Cut(string(good), "authorization:")
	writeFile(t, cfgPath, []byte(half))
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		resp, got := sendRaw(t, h, u, "web", "GET", "/admin")
		if status(resp) != 403 || len(got) != 0 {
			t.Fatalf("half-written configuration: GET /admin %d, upstream received %d", status(resp), len(got))
		}
	}
	writeFile(t, cfgPath, []byte(strings.Replace(string(good), "burst: 2", "burst: 3", 1)))
}

func testutilCounter(t *testing.T, h *harness, name string) float64 {
	t.Helper()
	mfs, err := h.srv.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// keepAliveClient is an HTTP/1.1 client over mutual TLS as who that keeps
// its connections.
func (h *harness) keepAliveClient(who string) *http.Client {
	cfg := h.client(who).Transport.(*http.Transport).TLSClientConfig.Clone()
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4}, Timeout: 2 * time.Second}
}

func adminStatus(t *testing.T, h *harness, path string) int {
	t.Helper()
	resp, err := http.Get(h.adminURL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stalledPipe returns the write end of a pipe nobody reads: writes block
// once its kernel buffer is full, as standard output on an unread pipe.
func stalledPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(); _ = w.Close() })
	return w
}

// fullPipe is a stalledPipe already full: the first write to it blocks
// (an output that stalled before the proxy started; an empty pipe would
// take its first 64 KiB).
func fullPipe(t *testing.T) *os.File {
	t.Helper()
	w := stalledPipe(t)
	rc, err := w.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		for {
			if _, werr = syscall.Write(int(fd), chunk); werr != nil { // #nosec G115 -- a file descriptor
				return true
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(werr, syscall.EAGAIN) {
		t.Fatalf("filling the pipe: %v, want EAGAIN (a non-blocking pipe)", werr)
	}
	return w
}

// TestAttackStalledAuditSink (hole 6): with the audit output on an unread
// pipe, requests used to hang after a few hundred, readiness stayed green
// and SIGTERM did not exit. Now every request passes (records are dropped
// and counted), /readyz reports it, and shutdown ends within the drain
// timeout.
func TestAttackStalledAuditSink(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), auditOut: stalledPipe(t), grace: time.Second,
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 10000, burst: 10000}"},
		extra:   "audit: {bufferBytes: 65536}\n"})
	c := h.keepAliveClient("web")
	const n = 1500
	for i := range n {
		resp, err := c.Get(h.url + "/api/items")
		if err != nil {
			t.Fatalf("request %d with the audit output stalled: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if got := len(u.requests()); got != n {
		t.Errorf("the upstream received %d requests, want %d", got, n)
	}
	if d := testutilCounter(t, h, "ward_audit_dropped_total"); d == 0 {
		t.Error("ward_audit_dropped_total = 0 with the output stalled")
	}
	if code := adminStatus(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the audit output stalled: %d, want 503", code)
	}
	if code := adminStatus(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d (the process is alive)", code)
	}
	c.CloseIdleConnections()
	start := time.Now()
	h.cancel()
	select {
	case <-h.done:
		h.done <- nil // for the cleanup
	case <-time.After(3 * time.Second):
		t.Fatal("shutdown with the audit output stalled took over 3 s (drain timeout 1 s)")
	}
	t.Logf("shutdown took %v", time.Since(start))
}

// TestAttackStalledAuditSinkRefuse (hole 6): with audit.whenFull: refuse,
// requests that cannot be recorded get 503 and never reach the upstream.
func TestAttackStalledAuditSinkRefuse(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), auditOut: fullPipe(t), grace: time.Second,
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 10000, burst: 10000}"},
		extra:   "audit: {bufferBytes: 65536, whenFull: refuse}\n"})
	c := h.keepAliveClient("web")
	var header http.Header
	get := func() int {
		resp, err := c.Get(h.url + "/api/items")
		if err != nil {
			t.Fatalf("with the audit output stalled: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		header = resp.Header
		return resp.StatusCode
	}
	refusedAt := -1
	for i := range 3000 {
		if get() == http.StatusServiceUnavailable {
			refusedAt = i
			break
		}
	}
	if refusedAt < 0 {
		t.Fatal("3000 requests with the audit output stalled and none refused")
	}
	// The refusal carries the security headers every response does (it
	// went out with Go's nosniff alone).
	for _, k := range []string{"Strict-Transport-Security", "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"} {
		if header.Get(k) == "" {
			t.Errorf("the 503 refusal has no %s: %v", k, header)
		}
	}
	before := len(u.requests())
	for range 20 {
		if code := get(); code != http.StatusServiceUnavailable {
			t.Errorf("after the buffer filled: %d, want 503", code)
		}
	}
	if got := len(u.requests()); got != before {
		t.Errorf("refused requests reached the upstream: %d more", got-before)
	}
	if r := testutilCounter(t, h, "ward_audit_refused_total"); r < 21 {
		t.Errorf("ward_audit_refused_total = %v, want at least 21", r)
	}
}

// TestAttackAuditDevFull (hole 6): records lost to a failing output (a
// full disk) are counted and logged, not silently dropped.
func TestAttackAuditDevFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	u := newRawUpstream(t)
	var logBuf testenv.SyncBuffer
	h := startWith(t, setup{upstream: u.URL(), auditOut: full, log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if code, _ := h.get(t, "web", "/api/items", "X-Client", "full"); code != 200 {
		t.Fatalf("request: %d", code)
	}
	if err := h.srv.auditBuf.Flush(); err == nil {
		t.Fatal("flush to /dev/full succeeded")
	}
	if e := testutilCounter(t, h, "ward_audit_write_errors_total"); e == 0 {
		t.Error("ward_audit_write_errors_total = 0")
	}
	if d := testutilCounter(t, h, "ward_audit_dropped_total"); d == 0 {
		t.Error("ward_audit_dropped_total = 0")
	}
	if !strings.Contains(logBuf.String(), "audit output failed") {
		t.Errorf("no log line for the failing output:\n%s", logBuf.String())
	}
	if code := adminStatus(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the audit output failing: %d, want 503", code)
	}
}

// TestAttackUpstreamNeverAnswers (hole 8): an upstream that never
// answers used to hold the request until the client gave up; the route
// timeout and the response-header timeout answer 504.
func TestAttackUpstreamNeverAnswers(t *testing.T) {
	for _, tt := range []string{"timeout: 500ms", "timeout: 0s\n  responseHeaderTimeout: 500ms"} {
		u := newRawUpstream(t)
		u.setDelay(30 * time.Second)
		h := startWith(t, setup{upstream: u.URL(), replace: []string{"upstream:\n  url: ", "upstream:\n  " + tt + "\n  url: "}})
		start := time.Now()
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items")
		if status(resp) != http.StatusGatewayTimeout || len(got) != 1 {
			t.Errorf("%s: status %d after %v, upstream received %d; want 504", tt, status(resp), time.Since(start), len(got))
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: answered after %v", tt, d)
		}
		if err := h.srv.auditBuf.Flush(); err != nil {
			t.Fatal(err)
		}
		if log := h.audit.String(); !strings.Contains(log, `"status":504`) || !strings.Contains(log, `"outcome":"upstream timeout"`) {
			t.Errorf("%s: audit record:\n%s", tt, log)
		}
	}
}

// TestAttackSlowBody (hole 8): clients sending a body slower than the
// minimum rate used to pin an upstream connection each; they get 408 and
// their upstream exchange is cut off.
func TestAttackSlowBody(t *testing.T) {
	// Restored after the server's own cleanup (cleanups run last first):
	// its handlers read it until it is shut down.
	t.Cleanup(func(d time.Duration) func() { return func() { bodyRateGrace = d } }(bodyRateGrace))
	bodyRateGrace = 500 * time.Millisecond
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: strings.Replace(policies, `methods: ["GET"], `, "", 1), replace: []string{"upstream:\n  url: ", "upstream:\n  minBodyRate: 1000\n  url: ",
		"limits: {maxBodyBytes: 1024}", "limits: {maxBodyBytes: 1048576}", `rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 1000, burst: 1000}"}})
	const n = 20
	results := make(chan string, n)
	for range n {
		go func() {
			conn := h.dial(t, "web")
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(conn, "POST /api/upload HTTP/1.1\r\nHost: api\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 100))
			b, _ := io.ReadAll(conn)
			results <- string(b)
		}()
	}
	deadline := time.After(5 * time.Second)
	for i := range n {
		select {
		case r := <-results:
			if status(r) != http.StatusRequestTimeout {
				t.Errorf("slow body: %q, want 408", r)
			}
		case <-deadline:
			t.Fatalf("%d of %d slow-body clients still held after 5 s (the upstream cut off %d bodies)", n-i, n, u.abortedBodies())
		}
	}
	deadlineUp := time.Now().Add(2 * time.Second)
	for u.abortedBodies() < n && time.Now().Before(deadlineUp) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := u.abortedBodies(); got != n {
		t.Errorf("the upstream saw %d of %d slow bodies cut off", got, n)
	}
	// A body at a normal pace passes.
	conn := h.dial(t, "web")
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /api/upload HTTP/1.1\r\nHost: api\r\nContent-Length: 3000\r\nConnection: close\r\n\r\n")
	for range 3 {
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(conn, strings.Repeat("y", 1000))
	}
	if b, _ := io.ReadAll(conn); status(string(b)) != 200 {
		t.Errorf("a body at 5,000 bytes/s: %q", b)
	}
}

// TestAttackWebSocketTimeouts (hole 8): an upgraded connection is exempt
// from the route timeout while it carries traffic, and closes once idle.
func TestAttackWebSocketTimeouts(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), replace: []string{"upstream:\n  url: ", "upstream:\n  timeout: 300ms\n  idleTimeout: 1s\n  url: "}})
	conn := h.dial(t, "web")
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /api/ws HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if status(string(buf[:n])) != 101 {
		t.Fatalf("upgrade: %q", buf[:n])
	}
	for i := range 6 { // 1.2 s of traffic, four times the route timeout
		time.Sleep(200 * time.Millisecond)
		if _, err := fmt.Fprint(conn, i); err != nil {
			t.Fatalf("write %d into the tunnel: %v", i, err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.HasSuffix(u.received(), "012345") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasSuffix(u.received(), "012345") {
		t.Fatalf("the tunnel was cut before the idle timeout: the upstream got %q", u.received())
	}
	// Idle: closed within the idle timeout (1 s) and a margin.
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(4 * time.Second))
	_, err := conn.Read(buf)
	if isTimeout(err) {
		t.Fatal("an idle upgraded connection still open after 4 s (idle timeout 1 s)")
	}
	t.Logf("idle tunnel closed after %v", time.Since(start))
}

// TestAttackRevokedIdentity (hole 11): after a reload that no longer
// admits a SPIFFE ID, its open keep-alive connection used to keep getting
// 200. The reload closes it; a request on it never reaches the upstream.
func TestAttackRevokedIdentity(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	conn := h.dial(t, "web")
	defer conn.Close()
	req := "GET /api/items HTTP/1.1\r\nHost: api\r\nX-Client: revoked\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("before the reload: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// web is no longer admitted.
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), `allow: ["spiffe://example.org/ns/shop/**"]`, `allow: ["spiffe://example.org/ns/shop/sa/batch"]`, 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	before := len(u.requests())
	// The reload closed the connection.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.Peek(1); isTimeout(err) {
		t.Error("the revoked peer's connection is still open after the reload")
	}
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(conn, req)
	if resp, err := http.ReadResponse(br, nil); err == nil && resp.StatusCode == 200 {
		t.Errorf("the revoked peer's connection still got %s", resp.Status)
	}
	if got := len(u.requests()); got != before {
		t.Errorf("a request of the revoked peer reached the upstream")
	}
	// A new connection is refused by the handshake.
	if code, _ := h.get(t, "web", "/api/items", "X-Client", "revoked2"); code != 0 {
		t.Errorf("new connection of the revoked peer: %d", code)
	}
}

// TestMaxConnectionAge (hole 11): with timeouts.maxConnectionAge,
// connections are closed once that old, idle or busy.
func TestMaxConnectionAge(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "timeouts: {maxConnectionAge: 500ms}\n",
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 1000, burst: 1000}"}})
	for _, busy := range []bool{false, true} {
		conn := h.dial(t, "web")
		br := bufio.NewReader(conn)
		start := time.Now()
		closed := false
		for time.Since(start) < 3*time.Second && !closed {
			if _, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: api\r\n\r\n"); err != nil {
				closed = true
				break
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				closed = true
				break
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				_, err := br.ReadByte()
				closed = err != nil
				break
			}
			if !busy {
				_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
				_, err := br.ReadByte() // idle: wait for the close
				closed = err != nil && !isTimeout(err)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		conn.Close()
		if d := time.Since(start); !closed || d > 2*time.Second {
			t.Errorf("busy=%v: connection closed %v after %v, want closed after about 500ms", busy, closed, d)
		}
	}
}

// offer sends GET /api/items at rate per second for d, open loop, and
// returns the status and latency of each.
func offer(c *http.Client, url string, rate float64, d time.Duration) (codes []int, lat []time.Duration) {
	type result struct {
		code int
		lat  time.Duration
	}
	n := int(rate * d.Seconds())
	results := make(chan result, n)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for range n {
		<-tick.C
		go func() {
			start := time.Now()
			resp, err := c.Get(url)
			if err != nil {
				results <- result{0, time.Since(start)}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, time.Since(start)}
		}()
	}
	for range n {
		r := <-results
		codes = append(codes, r.code)
		if r.code == 200 {
			lat = append(lat, r.lat)
		}
	}
	return codes, lat
}

// TestAttackConcurrencyCollapse (hole 7): the adaptive concurrency limit
// used to halve whenever latency passed twice the best ever seen, shedding
// most requests at any load. Against an upstream of capacity C and
// service time S: at 0.5C nothing is shed; at 2C served requests keep a
// p99 under 4S, the excess is shed with 503, and every shed is recorded
// as one.
func TestAttackConcurrencyCollapse(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 40 s of load")
	}
	// A long service time keeps the proxy's own CPU time (TLS, -race) small
	// beside it on a shared machine.
	const capacity, service = 8, 200 * time.Millisecond
	u := newRawUpstream(t)
	u.setCapacity(capacity, service)
	h := startWith(t, setup{upstream: u.URL(), extra: "maxConcurrency: 200\n",
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 100000, burst: 100000}"}})
	c := h.keepAliveClient("web")
	c.Timeout = 10 * time.Second
	perSecond := float64(capacity) / service.Seconds() // C, in requests per second
	codes, low := offer(c, h.url+"/api/items", perSecond/2, 30*time.Second)
	count := func(codes []int, want int) int {
		n := 0
		for _, c := range codes {
			if c == want {
				n++
			}
		}
		return n
	}
	if ok := count(codes, 200); ok != len(codes) {
		t.Errorf("at 0.5C: %d of %d requests served, want all (%d shed)", ok, len(codes), count(codes, 503))
	}
	// S as a client sees it through the proxy: the median at 0.5C, where
	// nothing queues (the service time plus the proxy's own cost here).
	slices.Sort(low)
	s := service
	if len(low) > 0 {
		s = max(s, low[len(low)/2])
	}
	codes, lat := offer(c, h.url+"/api/items", 2*perSecond, 10*time.Second)
	slices.Sort(lat)
	shed := count(codes, 503)
	if len(lat) == 0 {
		t.Fatal("at 2C: nothing served")
	}
	p99 := lat[len(lat)*99/100]
	t.Logf("S %v; at 2C: %d served (p50 %v, p99 %v), %d shed, %d other", s, len(lat), lat[len(lat)/2], p99, shed, len(codes)-len(lat)-shed)
	if p99 > 4*s {
		t.Errorf("at 2C: p99 %v, want under 4S = %v", p99, 4*s)
	}
	if shed == 0 || len(lat)+shed != len(codes) {
		t.Errorf("at 2C: %d served, %d shed of %d, want the excess shed with 503 and nothing else", len(lat), shed, len(codes))
	}
	if served := float64(len(lat)) / 10; served < 0.7*perSecond {
		t.Errorf("at 2C: %.0f requests/s served, want near the capacity %.0f", served, perSecond)
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h.audit.String(), `"decision":"deny","reason":"shed: adaptive concurrency limit`); n != shed {
		t.Errorf("%d shed requests, %d audit records of a shed", shed, n)
	}
}

// TestAttackJWTClaimHeaders (hole 3): a header the proxy fills from a
// verified token's claims (jwt.outputClaimToHeaders) never comes from the
// client: removed from an anonymous request, replaced in a verified one.
func TestAttackJWTClaimHeaders(t *testing.T) {
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}], outputClaimToHeaders: [{header: X-Jwt-Sub, claim: sub}, {header: X-Jwt-Iss, claim: iss}]}\n"})
	_, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Jwt-Sub", "admin", "X_Jwt_Iss", "https://evil.test")
	if len(got) != 1 || len(header(got[0], "X-Jwt-Sub")) != 0 || len(header(got[0], "X_Jwt_Iss")) != 0 || len(header(got[0], "X-Jwt-Iss")) != 0 {
		t.Errorf("anonymous request: the upstream received %q", got)
	}
	_, got = sendRaw(t, h, u, "web", "GET", "/api/items", "X-Jwt-Sub", "admin", "Authorization", "Bearer "+iss.token(t, "alice"))
	if len(got) != 1 || fmt.Sprint(header(got[0], "X-Jwt-Sub")) != "[alice]" || fmt.Sprint(header(got[0], "X-Jwt-Iss")) != "[https://id.test]" {
		t.Errorf("verified request: the upstream received %q", got)
	}
	if len(got) == 1 && len(header(got[0], "Authorization")) != 0 {
		t.Error("the upstream received the token")
	}
}

// TestAttackRefusedReloadKeepsRequestIDRule (hole 3 with hole 5): a
// refused reload that would trust the client's network must not start
// keeping client-chosen request ids.
func TestAttackRefusedReloadKeepsRequestIDRule(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	good, _ := os.ReadFile(cfgPath)
	half, _, _ := strings.Cut(string(good), "authorization:")
	writeFile(t, cfgPath, []byte(half+"clientIP: {trustedProxies: [127.0.0.0/8]}\n"))
	if err := h.srv.Reload(); err == nil {
		t.Fatal("a reload without authorization was accepted")
	}
	_, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Request-Id", "client-chosen")
	if len(got) != 1 || fmt.Sprint(header(got[0], "X-Request-Id")) == "[client-chosen]" {
		t.Errorf("after a refused reload, the upstream received %q", got)
	}
}

// TestAttackRevokedIdentityTunnel (hole 11): a WebSocket tunnel of a peer
// a reload no longer admits is closed too; bytes sent into it afterwards
// never reach the upstream.
func TestAttackRevokedIdentityTunnel(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	conn := h.dial(t, "web")
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /api/ws HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if status(string(buf[:n])) != 101 {
		t.Fatalf("upgrade: %q", buf[:n])
	}
	_, _ = io.WriteString(conn, "before")
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), `allow: ["spiffe://example.org/ns/shop/**"]`, `allow: ["spiffe://example.org/ns/shop/sa/batch"]`, 1)))
	deadline := time.Now().Add(2 * time.Second)
	for !strings.HasSuffix(u.received(), "before") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Read(buf); isTimeout(err) {
		t.Error("the revoked peer's tunnel is still open after the reload")
	}
	_, _ = io.WriteString(conn, "after")
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(u.received(), "after") {
		t.Error("bytes sent into the revoked peer's tunnel reached the upstream")
	}
}

// TestAuditFileRotation (hole 6): audit.output as a file is appended to,
// follows a rename by logrotate within about a second, and is reopened
// on SIGHUP (Reload).
func TestAuditFileRotation(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "audit: {output: audit.log}\n"})
	path := filepath.Join(h.dir, "audit.log")
	records := func(p string) int {
		b, _ := os.ReadFile(p)
		return strings.Count(string(b), `"msg":"decision"`)
	}
	get := func() {
		if resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items"); status(resp) != 200 {
			t.Fatalf("request: %d", status(resp))
		}
		if err := h.srv.auditBuf.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	get()
	if n := records(path); n != 1 {
		t.Fatalf("%d records in the audit file, want 1", n)
	}
	// logrotate renames the file away; records follow the path again.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for records(path) == 0 && time.Now().Before(deadline) {
		get()
		time.Sleep(200 * time.Millisecond)
	}
	if records(path) == 0 {
		t.Fatal("records still go to the rotated file after 5 s")
	}
	// SIGHUP: reopened at once.
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	get()
	if n := records(path); n != 1 {
		t.Errorf("after a reload, %d records in the new file, want 1", n)
	}
}

// TestAttackUpstreamConnectStalls (hole 8): an upstream that accepts the
// connection and never completes the TLS handshake is given up after
// upstream.connectTimeout: 504.
func TestAttackUpstreamConnectStalls(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }() // reads the ClientHello, never answers
		}
	}()
	_, caPEM, _, err := tlsconf.NewSelfSigned("upstream")
	if err != nil {
		t.Fatal(err)
	}
	h := startWith(t, setup{upstream: "https://" + ln.Addr().String(), files: map[string][]byte{"upstream-ca.pem": caPEM},
		replace: []string{"upstream:\n  url: ", "upstream:\n  ca: upstream-ca.pem\n  connectTimeout: 300ms\n  url: "}})
	start := time.Now()
	resp := h.raw(t, "web", "GET /api/items HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
	if status(resp) != http.StatusGatewayTimeout || time.Since(start) > 2*time.Second {
		t.Errorf("stalled TLS handshake upstream: %d after %v, want 504 within 2 s", status(resp), time.Since(start))
	}
}

// denyAdminOnly denies /admin and below and allows everything else: a
// request that reaches the upstream's /admin got around the policy.
const denyAdminOnly = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
`

// TestAttackAmbiguousPath: paths that the policy matched as one resource
// and an upstream resolves to another are refused with 400 and never
// forwarded. "/admin;x" passed a DENY of /admin and Tomcat, Jetty and
// Spring strip ";x" before routing; "/api/..;/admin" passed an ALLOW of
// /api/* and climbs to /admin there. Encoded control characters, double
// encoding and overlong UTF-8 get the same treatment; ordinary escapes,
// valid or Latin-1 non-ASCII and a lone "%25" still pass.
func TestAttackAmbiguousPath(t *testing.T) {
	u := newRawUpstream(t)
	denyOnly := startWith(t, setup{upstream: u.URL(), policies: denyAdminOnly})
	h := startWith(t, setup{upstream: u.URL()}) // ALLOW GET /api/*, DENY /admin
	noAuthz := startWith(t, setup{upstream: u.URL(), replace: []string{"authorization:\n  policies: [policies.yaml]\n", ""}})
	tests := []targetCase{
		{denyOnly, "/admin;x", 400, ""},
		{denyOnly, "/admin;", 400, ""},
		{denyOnly, "/admin;jsessionid=1/users", 400, ""},
		{denyOnly, "/admin%3Bx", 400, ""},
		{denyOnly, "/admin%3bx", 400, ""},
		{h, "/api/..;/admin", 400, ""},
		{h, "/api/.;/items", 400, ""},
		{h, "/api/..;x=1/admin", 400, ""},
		{h, "https://api/api/..;/admin", 400, ""},
		{denyOnly, "/admin%00", 400, ""},
		{denyOnly, "/admin%00.png", 400, ""},
		{denyOnly, "/x%0d%0aX-Injected:%201", 400, ""},
		{denyOnly, "/x%7F", 400, ""},
		{denyOnly, "/%2561dmin", 400, ""},
		{h, "/api/%252e%252e/admin", 400, ""},
		{h, "/api/%252F..%252Fadmin", 400, ""},
		{h, "/api/%C0%AE%C0%AE/admin", 400, ""},
		{h, "/api/%c0%af../admin", 400, ""},
		{h, "/api/%E0%80%AF", 400, ""},
		{h, "/api/%F0%80%80%AF", 400, ""},
		// Without authorization the path rules hold all the same.
		{noAuthz, "/api/..;/admin", 400, ""},
		{noAuthz, "/admin%00", 400, ""},
		// What stays allowed.
		{h, "/api/caf%C3%A9", 200, "GET /api/caf%C3%A9 HTTP/1.1"},
		{h, "/api/%E0%A4%B9", 200, "GET /api/%E0%A4%B9 HTTP/1.1"}, // U+0939, E0 then A4: not overlong
		{h, "/api/%F0%9F%98%80", 200, "GET /api/%F0%9F%98%80 HTTP/1.1"},
		{h, "/api/%E9t%E9", 200, "GET /api/%E9t%E9 HTTP/1.1"}, // Latin-1
		{h, "/api/100%25", 200, "GET /api/100%25 HTTP/1.1"},
		{h, "/api/100%25off", 200, "GET /api/100%25off HTTP/1.1"},
		{h, "/api/a%20b", 200, "GET /api/a%20b HTTP/1.1"},
		{h, "/api/items?a=%00&b=%25", 200, "GET /api/items?a=%00&b=%25 HTTP/1.1"}, // the query is forwarded as sent
		{denyOnly, "/administrator", 200, "GET /administrator HTTP/1.1"},
	}
	checkTargets(t, u, tests)
}

// TestAttackClientCertHeaders (hole 3): headers that carry a client
// certificate a TLS-terminating proxy verified never come from the
// client: RFC 9440's Client-Cert and Client-Cert-Chain (section 4: the
// proxy must remove them) and Tomcat SSLValve's ssl_client_cert, in any
// spelling. An upstream reading them took the client's word for its
// certificate.
func TestAttackClientCertHeaders(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	const forged = ":MIIBforgedcertificate:"
	for _, name := range []string{"Client-Cert", "client-cert-chain", "Client_Cert", "SSL_CLIENT_CERT", "Ssl-Client-Cert"} {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", name, forged)
		if status(resp) != 200 || len(got) != 1 {
			t.Fatalf("%s: status %d, upstream received %d requests", name, status(resp), len(got))
		}
		if strings.Contains(got[0], forged) {
			t.Errorf("the upstream received the client's %s:\n%s", name, got[0])
		}
	}
}

// TestAttackUnderscoreHeaders: a header name with '_' is removed before
// any check. "X_Debug" passed a DENY on request.headers[x-debug], and Rack
// (Puma), older Gunicorn and PHP's FastCGI hand it to the application as
// the HTTP_X_DEBUG that X-Debug becomes.
func TestAttackUnderscoreHeaders(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-debug, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{when: [{key: "request.headers[x-debug]", values: ["*"]}]}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	tests := []struct {
		name string
		want int
	}{
		{"X-Debug", 403},
		{"X_Debug", 200},
		{"x_DEBUG", 200},
		{"X-Debug_", 200},
		{"X_Other", 200},
	}
	for _, tt := range tests {
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", tt.name, "1")
		if status(resp) != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, status(resp), tt.want)
		}
		for _, g := range got {
			head, _, _ := strings.Cut(g, "\r\n\r\n")
			for _, line := range strings.Split(head, "\r\n")[1:] {
				if name, _, _ := strings.Cut(line, ":"); strings.Contains(name, "_") {
					t.Errorf("%s: the upstream received header %q", tt.name, line)
				}
			}
		}
	}
	// Other headers pass as sent.
	if _, got := sendRaw(t, h, u, "web", "GET", "/api/items", "X-Other", "v"); len(got) != 1 || !slices.Equal(header(got[0], "X-Other"), []string{"v"}) {
		t.Errorf("X-Other: the upstream received %q", got)
	}
}

// TestAttackNoHost: a request without a host (HTTP/1.0 without Host) is
// refused. It was checked with an empty host (no hosts rule, no host
// route applies) and forwarded with the upstream URL's own host, which
// picks the upstream's default virtual host.
func TestAttackNoHost(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	tests := []struct {
		req  string
		want int
		host string // Host the upstream receives; "" for no request
	}{
		{"GET /api/items HTTP/1.0\r\nX-Client: a\r\n\r\n", 400, ""},
		{"GET /api/items HTTP/1.0\r\nX-Client: b\r\nHost: api\r\n\r\n", 200, "api"},
		{"GET http://api/api/items HTTP/1.0\r\nX-Client: c\r\n\r\n", 200, "api"},
	}
	for _, tt := range tests {
		before := len(u.requests())
		resp := h.raw(t, "web", tt.req)
		got := u.requests()[before:]
		line, _, _ := strings.Cut(tt.req, "\r\n")
		if code := statusAny(resp); code != tt.want {
			t.Errorf("%s: status %d, want %d", line, code, tt.want)
		}
		switch {
		case tt.host == "" && len(got) > 0:
			t.Errorf("%s: the upstream received %q", line, got)
		case tt.host != "" && (len(got) != 1 || !slices.Equal(header(got[0], "Host"), []string{tt.host})):
			t.Errorf("%s: the upstream received %q, want Host %s", line, got, tt.host)
		}
	}
}

// statusAny returns the status code of a raw HTTP/1.x response.
func statusAny(resp string) int {
	var minor, code int
	_, _ = fmt.Sscanf(resp, "HTTP/1.%d %d", &minor, &code)
	return code
}

// TestAttackHostAmbiguous: a Host that is not host[:port] is refused.
// "admin.example.com:80:80" passed a DENY of hosts admin.example.com (and
// would take a route's catch-all) while nginx reads the host up to the
// first colon and serves admin.example.com; "admin.example.com.." is
// refused by nginx and Apache but passed the DENY here. An IPv6 address
// with a zone, "[fe80::1%25eth0]", passed a DENY of hosts [fe80::1], and
// Go's transport forwarded it as Host [fe80::1].
func TestAttackHostAmbiguous(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin-host, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {hosts: ["admin.example.com", "[fe80::1]"]}}]}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	tests := []struct {
		host string
		want int
		fwd  string // the Host forwarded, when not host
	}{
		{"admin.example.com", 403, ""},
		{"ADMIN.Example.com.", 403, ""},
		{"admin.example.com:8443", 403, ""},
		{"admin.example.com:", 403, ""},
		{"admin.example.com:80:80", 400, ""},
		{"admin.example.com:80x", 400, ""},
		{"admin.example.com..", 400, ""},
		{".admin.example.com", 400, ""},
		{"admin..example.com", 400, ""},
		{"admin.example.com:80@other", 400, ""},
		{"admin.example.com,other", 400, ""},
		{"[::1]:8443:1", 400, ""},
		{"[::1", 400, ""},
		{"[fe80::1]", 403, ""},
		{"[FE80::1]:443", 403, ""},
		// A zone: Go's transport forwarded the Host as [fe80::1].
		{"[fe80::1%25eth0]", 400, ""},
		{"[fe80::1%eth0]:80", 400, ""},
		{"api", 200, ""},
		{"api.example.com:8443", 200, ""},
		{"api.example.com.", 200, "api.example.com"},
		{"10.0.0.1:80", 200, ""},
		{"[::1]:8443", 200, ""},
		{"[::1]", 200, ""},
		{"my_service:8080", 200, ""},
	}
	for _, tt := range tests {
		before := len(u.requests())
		resp := h.raw(t, "web", "GET /api/items HTTP/1.1\r\nHost: "+tt.host+"\r\nX-Client: "+tt.host+"\r\nConnection: close\r\n\r\n")
		got := u.requests()[before:]
		if status(resp) != tt.want {
			t.Errorf("Host %s: status %d, want %d", tt.host, status(resp), tt.want)
		}
		switch {
		case tt.want != 200 && len(got) > 0:
			t.Errorf("Host %s: the upstream received %q", tt.host, got)
		case tt.want == 200 && (len(got) != 1 || !slices.Equal(header(got[0], "Host"), []string{cmp.Or(tt.fwd, tt.host)})):
			t.Errorf("Host %s: the upstream received %q", tt.host, got)
		}
	}
}

// TestAttackHostCaseForwarded: hosts rules fold case and ignore a trailing
// dot, as Istio documents, but the Host was forwarded as sent, and an
// upstream whose router compares host names exactly (http.ServeMux's
// "public.example.com/" patterns, gorilla/mux's Host) served
// "PUBLIC.example.com" from its host-less routes: the internal application
// that the ALLOW of the public host was meant to keep out. The Host is
// now forwarded as the rule compared it.
func TestAttackHostCaseForwarded(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: public-host-only, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {hosts: ["public.example.com"]}}]}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	for _, tt := range []struct{ host, fwd string }{
		{"public.example.com", "public.example.com"},
		{"PUBLIC.example.com", "public.example.com"},
		{"public.example.com.", "public.example.com"},
		{"Public.Example.COM.:8443", "public.example.com:8443"},
	} {
		before := len(u.requests())
		resp := h.raw(t, "web", "GET /api/items HTTP/1.1\r\nHost: "+tt.host+"\r\nX-Client: case-"+tt.host+"\r\nConnection: close\r\n\r\n")
		got := u.requests()[before:]
		if status(resp) != 200 || len(got) != 1 || !slices.Equal(header(got[0], "Host"), []string{tt.fwd}) {
			t.Errorf("Host %s: status %d, the upstream received %q; want Host %s", tt.host, status(resp), got, tt.fwd)
		}
	}
}

// denyDelete is a policy that denies DELETE to the api workload: the
// method overrides' target.
const denyDelete = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {methods: ["DELETE"]}}]}]
`

// TestAttackMethodOverrideQuery: "POST /api/items?_method=DELETE" passed
// a DENY of DELETE, and Laravel (Symfony) runs its DELETE handler for it,
// as for the X-HTTP-Method-Override header the proxy strips. A query
// naming the parameter, under any spelling PHP reads as "_method", is
// refused; other parameters are forwarded as sent.
func TestAttackMethodOverrideQuery(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: denyDelete})
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"_method=DELETE", 400},
		{"a=1&_method=DELETE", 400},
		{"_METHOD=delete", 400},
		{"%5Fmethod=DELETE", 400},
		{"%5fmethod=DELETE", 400},
		{"%20_method=DELETE", 400},
		{"+_method=DELETE", 400},
		{".method=DELETE", 400},
		{"[method=DELETE", 400},
		{"_method", 400},
		{"%zz=1&_method=DELETE", 400},
		{"method=DELETE", 200},
		{"x_method=DELETE", 200},
		{"_methods=DELETE", 200},
		{"page=2&sort=_method", 200},
	} {
		resp, got := sendRaw(t, h, u, "web", "POST", "/api/items?"+tt.query, "Content-Length", "0")
		if code := status(resp); code != tt.want {
			t.Errorf("POST /api/items?%s: %d, want %d", tt.query, code, tt.want)
		}
		if tt.want != 200 && len(got) != 0 {
			t.Errorf("POST /api/items?%s reached the upstream: %q", tt.query, got)
		}
		if tt.want == 200 && (len(got) != 1 || !strings.HasPrefix(got[0], "POST /api/items?"+tt.query+" HTTP/1.1")) {
			t.Errorf("POST /api/items?%s: the upstream got %q, want the query as sent", tt.query, got)
		}
	}
}

// TestAttackMethodOverrideBody: "POST /posts/1" with the form field
// _method=DELETE passed a DENY of DELETE, and Rails (Rack::MethodOverride,
// on by default), Laravel and Symfony run their DELETE action for it;
// Laravel also for {"_method": "DELETE"} in a JSON body. The proxy reads
// form and JSON bodies as it forwards them and cuts the request off at
// such a field, before its value leaves: the upstream never gets a whole
// request carrying it, and the client gets 400. Other bodies reach the
// upstream byte for byte.
func TestAttackMethodOverrideBody(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: denyDelete, replace: []string{"limits: {maxBodyBytes: 1024}", "limits: {maxBodyBytes: 1048576}"}})
	mp := func(name string) string {
		return "--B0\r\nContent-Disposition: form-data; name=\"authenticity_token\"\r\n\r\nabc\r\n" +
			"--B0\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\nDELETE\r\n--B0--\r\n"
	}
	form, multi := "application/x-www-form-urlencoded", "multipart/form-data; boundary=B0"
	pad := "pad=" + strings.Repeat("p", 64<<10)
	padPart := "--B0\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n" + strings.Repeat("p", 64<<10) + "\r\n"
	for _, tt := range []struct {
		name, ctype, body string
		chunked           bool
		split             int // write the body in two parts, the second after a pause, cut here
		want              int
	}{
		{"form", form, "authenticity_token=abc&_method=delete", false, 0, 400},
		{"form escaped", form, "authenticity_token=abc&%5Fmethod=delete", false, 0, 400},
		{"form php name", form, ".method=DELETE", false, 0, 400},
		{"form no content type", "", "_method=delete", false, 0, 400},
		{"form charset", "Application/x-www-form-urlencoded; charset=UTF-8", "_method=delete", false, 0, 400},
		{"form chunked", form, "a=1&_method=delete", true, 0, 400},
		// The first part is over the transport's write buffer, so that
		// it reaches the upstream before the rest is sent.
		{"form split in the name", form, pad + "&_met" + "hod=delete", false, len(pad + "&_met"), 400},
		{"multipart", multi, mp("_method"), false, 0, 400},
		{"multipart rfc 2231", multi, strings.Replace(mp("x"), `name="x"`, `name*=UTF-8''%5Fmethod`, 1), false, 0, 400},
		{"multipart chunked", multi, mp("_method"), true, 0, 400},
		{"multipart split in the header", multi, padPart + mp("_method"), false, len(padPart+mp("_method")) - 20, 400},
		{"multipart no boundary", "multipart/form-data", mp("_method"), false, 0, 400},
		// Rack finds no boundary in "boundary =B0" and parses the body
		// as urlencoded; PHP ends the media type at a space.
		{"multipart boundary rack cannot read", "multipart/form-data; boundary =B0", "_method=delete", false, 0, 400},
		{"multipart boundary php reads apart", "multipart/form-data; xboundary=B1; boundary=B0", strings.ReplaceAll(mp("_method"), "B0", "B1"), false, 0, 400},
		{"form php type", "application/x-www-form-urlencoded x", "_method=delete", false, 0, 400},
		// Rack trims the tab off the media type and reads a form; PHP
		// does not, and the scanner, which followed PHP, let it pass.
		{"form rack tab", "application/x-www-form-urlencoded\t; charset=UTF-8", "_method=delete", false, 0, 400},
		{"multipart rack tab", "multipart/form-data\t; boundary=B0", mp("_method"), false, 0, 400},
		{"form rack tab comma", "application/x-www-form-urlencoded\t,text/plain", "_method=delete", false, 0, 400},
		{"text tab", "text/plain\t; charset=UTF-8", "_method=delete", false, 0, 200},
		// Tomcat decodes a form in the charset its type names, and
		// Spring's HiddenHttpMethodFilter reads _method from it.
		{"form utf-16", "application/x-www-form-urlencoded; charset=UTF-16BE", utf16be("_method") + "=" + utf16be("DELETE"), false, 0, 400},
		{"form ebcdic", "application/x-www-form-urlencoded; charset=\"IBM037\"", "\x6d\x94\x85\xa3\x88\x96\x84=\xc4\xc5\xd3\xc5\xe3\xc5", false, 0, 400},
		{"multipart utf-32", "multipart/form-data; boundary=B0; charset=utf-32", mp("x"), false, 0, 400},
		{"form latin-1", "application/x-www-form-urlencoded; charset=ISO-8859-1", "a=%E9", false, 0, 200},
		{"form windows-1252", "application/x-www-form-urlencoded;charset=windows-1252", "a=b", false, 0, 200},
		{"form rack 2 brackets", form, "[_method]=delete", false, 0, 400},
		{"multipart rack 2 indented delimiter", multi, "  " + strings.TrimPrefix(mp("_method"), "--B0\r\nContent-Disposition: form-data; name=\"authenticity_token\"\r\n\r\nabc\r\n"), false, 0, 400},
		{"multipart rack content-id", multi, strings.Replace(mp("x"), `Content-Disposition: form-data; name="x"`, "Content-ID: _method", 1), false, 0, 400},
		{"multipart php single quotes", multi, strings.Replace(mp("x"), `name="x"`, `name='_method'`, 1), false, 0, 400},
		{"form legit", form, "payment_method=card&sort=_method&q=a%26_method%3DDELETE", false, 0, 200},
		{"multipart legit", multi, mp("payment_method"), false, 0, 200},
		{"json", "application/json", `{"title":"x","_method":"DELETE"}`, false, 0, 400},
		{"json escaped", "application/vnd.api+json", `{"\u005fmethod":"DELETE"}`, false, 0, 400},
		{"json legit", "application/json", `{"payment_method":"card","note":"_method"}`, false, 0, 200},
		// A decompressing server or middleware would read what the
		// scanner cannot: {"_method":"DELETE"}, gzipped.
		{"json gzipped", "application/json\r\nContent-Encoding: gzip", gzipped(`{"_method":"DELETE"}`), false, 0, 400},
		{"text", "text/plain", `_method=DELETE`, false, 0, 200}, // no framework reads a form from it
	} {
		t.Run(tt.name, func(t *testing.T) {
			postBody(t, h, u, rawPost{path: "/posts/1", client: tt.name, ctype: tt.ctype, body: tt.body, chunked: tt.chunked, split: tt.split}, tt.want)
		})
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if log := h.audit.String(); !strings.Contains(log, `"reason":"method override field (_method) in form body"`) || !strings.Contains(log, `"reason":"ambiguous Content-Type: multipart without a readable boundary"`) || strings.Contains(log, "upstream error") {
		t.Errorf("audit records:\n%s", log)
	}
}

// TestAttackRequestTrailers: request trailers arrive after every check
// has run, so headers the proxy strips or sets (XFCC, method overrides,
// Authorization) or that a policy matches must not reach the upstream as
// trailer fields, which some servers merge into the header section.
// Without a WAF they never did (ReverseProxy's outbound request carries a
// copy of the trailer map made before the body is read); with one, the
// WAF read the body to its end before that copy was made, and every
// declared trailer field was forwarded: a forged XFCC of another
// workload, a method override, a bearer token and a tenant header that
// the DENY below never saw. No trailer field is forwarded now.
func TestAttackRequestTrailers(t *testing.T) {
	u := newRawUpstream(t)
	anyMethod := strings.Replace(policies, `methods: ["GET"], `, "", 1) + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-tenant, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules:
  - when:
    - key: request.headers[X-Tenant]
      values: ["other"]
`
	forged := http.Header{"X-Forwarded-Client-Cert": {"By=x;URI=spiffe://example.org/ns/shop/sa/admin"},
		"X-Http-Method-Override": {"DELETE"}, "Authorization": {"Bearer forged"}, "X-Tenant": {"other"}}
	// overHTTP1 sends the trailers as chunked HTTP/1.1 does, overHTTP2 in
	// a HEADERS frame after the DATA.
	overHTTP1 := func(h *harness) int {
		req := "POST /api/x HTTP/1.1\r\nHost: api\r\nX-Client: trailers\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
			"Transfer-Encoding: chunked\r\nTrailer: X-Forwarded-Client-Cert, X-Http-Method-Override, Authorization, X-Tenant\r\nConnection: close\r\n\r\n" +
			"3\r\na=b\r\n0\r\n"
		for k, v := range forged {
			req += k + ": " + v[0] + "\r\n"
		}
		return status(h.raw(t, "web", req+"\r\n"))
	}
	overHTTP2 := func(h *harness) int {
		pr, pw := io.Pipe()
		req, err := http.NewRequest("POST", h.url+"/api/x", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// Go's HTTP/2 server refuses the stream for an Authorization
		// trailer (httpguts.ValidTrailerHeader); HTTP/1.1 takes it.
		fields := forged.Clone()
		delete(fields, "Authorization")
		req.Trailer = http.Header{}
		for k := range fields {
			req.Trailer[k] = nil
		}
		go func() {
			_, _ = io.WriteString(pw, "a=b")
			for k, v := range fields {
				req.Trailer[k] = v
			}
			_ = pw.Close()
		}()
		resp, err := h.client("web").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("the client spoke %s, want HTTP/2", resp.Proto)
		}
		return resp.StatusCode
	}
	for _, extra := range []string{"", "waf: {mode: block}\n", "waf: {mode: detect}\n"} {
		h := startWith(t, setup{upstream: u.URL(), policies: anyMethod, extra: extra})
		for name, send := range map[string]func(*harness) int{"HTTP/1.1": overHTTP1, "HTTP/2": overHTTP2} {
			before := len(u.requests())
			if code := send(h); code != 200 {
				t.Fatalf("%s, %q: status %d", name, extra, code)
			}
			got := u.requests()[before:]
			if len(got) != 1 {
				t.Fatalf("%s, %q: the upstream got %d requests: %q", name, extra, len(got), got)
			}
			if !strings.HasSuffix(got[0], "\r\n0\r\n\r\n") || strings.Contains(got[0], "sa/admin") || strings.Contains(got[0], "forged") ||
				strings.Contains(got[0], "DELETE") || strings.Contains(got[0], "other") || len(header(got[0], "Trailer")) != 0 {
				t.Errorf("%s, %q: trailer fields reached the upstream: %q", name, extra, got[0])
			}
		}
	}
}

// TestAttackOriginalRequestHeaders: headers that describe the original
// request's client, host or scheme to an upstream (X-Original-Host,
// X-Host, X-Url-Scheme, Front-End-Https, any X-Forwarded-* beyond the
// listed ones) reached it from an untrusted client, which could make an
// application see another host or https where the proxy saw neither;
// so did Client-IP, X-Forwarded and Forwarded-For, which common PHP
// code, Rails and django-ipware read as the client's address.
func TestAttackOriginalRequestHeaders(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	spoofed := []string{"X-Original-Host", "admin.internal", "X-Host", "admin.internal", "X-Url-Scheme", "https",
		"Front-End-Https", "on", "X-Original-Proto", "https", "X-Forwarded-Path", "/admin", "X-Forwarded-Anything", "x",
		"X-Real-IP", "10.9.9.9", "Forwarded", "for=10.9.9.9;host=admin.internal",
		"Client-IP", "10.9.9.9", "X-Forwarded", "for=10.9.9.9", "Forwarded-For", "10.9.9.9", "Client_IP", "10.9.9.9"}
	resp, got := sendRaw(t, h, u, "web", "GET", "/api/x", append(spoofed, "X-Kept", "yes")...)
	if status(resp) != 200 || len(got) != 1 {
		t.Fatalf("status %d, upstream got %d requests", status(resp), len(got))
	}
	for i := 0; i < len(spoofed); i += 2 {
		if v := header(got[0], spoofed[i]); len(v) != 0 {
			t.Errorf("%s reached the upstream: %q", spoofed[i], v)
		}
	}
	if v := header(got[0], "X-Kept"); len(v) != 1 {
		t.Errorf("X-Kept: %q, want it forwarded (else this test proves nothing)", v)
	}
}

// utf16be returns the ASCII string s in UTF-16BE.
func utf16be(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(0)
		b.WriteByte(s[i])
	}
	return b.String()
}

// gzipped returns s compressed with gzip.
func gzipped(s string) string {
	var b strings.Builder
	z := gzip.NewWriter(&b)
	_, _ = z.Write([]byte(s))
	_ = z.Close()
	return b.String()
}

// targetCase is a GET of target through h, the status it gets, and the
// request line the upstream receives ("" for none).
type targetCase struct {
	h      *harness
	target string
	want   int
	line   string
}

// checkTargets sends each case's GET and checks its status and what the
// upstream u received.
func checkTargets(t *testing.T, u *rawUpstream, tests []targetCase) {
	t.Helper()
	for _, tt := range tests {
		resp, got := sendRaw(t, tt.h, u, "web", "GET", tt.target)
		if status(resp) != tt.want {
			t.Errorf("GET %s: status %d, want %d", tt.target, status(resp), tt.want)
		}
		switch {
		case tt.line == "" && len(got) > 0:
			t.Errorf("GET %s: the upstream received %q, want nothing", tt.target, got)
		case tt.line != "" && (len(got) != 1 || requestLine(got[0]) != tt.line):
			var lines []string
			for _, g := range got {
				lines = append(lines, requestLine(g))
			}
			t.Errorf("GET %s: the upstream received %q, want %q", tt.target, lines, tt.line)
		}
	}
}

// rawPost is a POST with a body, sent raw to the proxy: with a length or
// chunked, in one write or in two (the second after a pause, the body cut
// at split).
type rawPost struct {
	path, client, ctype, body string
	chunked                   bool
	split                     int
}

// postBody sends p to h as client web and checks the status, want, and
// what the upstream u received: with 200, exactly one request, carrying
// the body unchanged; otherwise no whole request (and, for a split body,
// that its first part reached the upstream and was cut off there, or the
// case tests nothing). It returns the response.
func postBody(t *testing.T, h *harness, u *rawUpstream, p rawPost, want int) string {
	t.Helper()
	before, abortedBefore := len(u.requests()), u.abortedBodies()
	head := "POST " + p.path + " HTTP/1.1\r\nHost: api\r\nConnection: close\r\nX-Client: " + p.client + "\r\n"
	if p.ctype != "" {
		head += "Content-Type: " + p.ctype + "\r\n"
	}
	body := p.body
	if p.chunked {
		head += "Transfer-Encoding: chunked\r\n"
		body = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	conn := h.dial(t, "web")
	defer conn.Close()
	first, second := head+"\r\n"+body, ""
	if p.split > 0 {
		first, second = head+"\r\n"+body[:p.split], body[p.split:]
	}
	if _, err := io.WriteString(conn, first); err != nil {
		t.Fatal(err)
	}
	if second != "" {
		time.Sleep(200 * time.Millisecond) // the first part is forwarded meanwhile
		if _, err := io.WriteString(conn, second); err != nil {
			raw, _ := io.ReadAll(conn)
			t.Fatalf("%v; %q; upstream %q", err, raw, u.requests()[before:])
		}
	}
	raw, _ := io.ReadAll(conn)
	resp := string(raw)
	if got := status(resp); got != want {
		t.Fatalf("status %d, want %d: %.200q", got, want, resp)
	}
	got := u.requests()[before:]
	if want != 200 {
		if len(got) != 0 {
			t.Errorf("the upstream got a whole request: %q", got)
		}
		if p.split > 0 {
			// The upstream notices the cut-off body on its own time.
			for deadline := time.Now().Add(5 * time.Second); u.abortedBodies() == abortedBefore && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if u.abortedBodies() == abortedBefore {
				t.Errorf("the upstream got no part of the body: the split case tests nothing")
			}
		}
		return resp
	}
	if len(got) != 1 {
		t.Fatalf("the upstream got %d requests, want 1", len(got))
	}
	if _, b, _ := strings.Cut(got[0], "\r\n\r\n"); b != body {
		t.Errorf("the upstream got the body %.100q, want %.100q", b, body)
	}
	return resp
}
