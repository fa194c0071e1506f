package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/guard/tlsconf"
	"github.com/wardsec/ward/internal/testenv"
	"github.com/wardsec/ward/internal/tlsscan"
)

const policies = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules:
  - from: [{source: {principals: ["example.org/ns/shop/sa/web"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/api/*", "/admin"]}}]
`

const configTmpl = `listen: "127.0.0.1:0"
tls:
  profile: intermediate
  spiffe:
    svid: api.pem
    key: api-key.pem
    bundle: bundle.pem
    allow: ["spiffe://example.org/ns/shop/**"]
upstream:
  url: %s
workload: {namespace: shop, labels: {app: api}}
authorization:
  policies: [policies.yaml]
rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}
limits: {maxBodyBytes: 1024}
admin: "127.0.0.1:0"
`

type harness struct {
	dir      string
	url      string
	bundle   *spiffeauth.DevCA
	svids    map[string]*x509svid.SVID
	audit    *testenv.SyncBuffer
	srv      *Server
	cancel   context.CancelFunc
	done     chan error
	adminURL string
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T) *harness {
	t.Helper()
	return startWith(t, setup{})
}

// setup varies the harness: another upstream, other policies, more
// configuration.
type setup struct {
	upstream string            // URL; "" for a JSON echo upstream
	policies string            // "" for the policies constant
	extra    string            // appended to the configuration
	replace  []string          // pairs of old and new text in the configuration
	files    map[string][]byte // more files in the configuration's directory
	auditOut io.Writer         // nil: the harness's buffer
	log      *slog.Logger      // nil: discarded
	grace    time.Duration     // of Serve; 5 s when 0
}

func startWith(t *testing.T, su setup) *harness {
	t.Helper()
	if su.upstream == "" {
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{
				"path": r.URL.Path, "xff": r.Header.Get("X-Forwarded-For"), "proto": r.Header.Get("X-Forwarded-Proto"),
			})
		}))
		t.Cleanup(upstream.Close)
		su.upstream = upstream.URL
	}
	if su.policies == "" {
		su.policies = policies
	}
	h := &harness{dir: t.TempDir(), svids: map[string]*x509svid.SVID{}, audit: &testenv.SyncBuffer{}}
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca, err := spiffeauth.NewDevCA(td, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h.bundle = ca
	for name, path := range map[string]string{"api": "/ns/shop/sa/api", "web": "/ns/shop/sa/web", "batch": "/ns/shop/sa/batch", "other": "/ns/other/sa/web", "db": "/ns/data/sa/db"} {
		s, err := ca.Issue(spiffeid.RequireFromPath(td, path), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		h.svids[name] = s
	}
	c, k, _ := h.svids["api"].Marshal()
	b, _ := ca.Bundle().Marshal()
	writeFile(t, filepath.Join(h.dir, "api.pem"), c)
	writeFile(t, filepath.Join(h.dir, "api-key.pem"), k)
	writeFile(t, filepath.Join(h.dir, "bundle.pem"), b)
	writeFile(t, filepath.Join(h.dir, "policies.yaml"), []byte(su.policies))
	for name, data := range su.files {
		writeFile(t, filepath.Join(h.dir, name), data)
	}
	cfg := fmt.Sprintf(configTmpl, su.upstream) + su.extra
	for i := 0; i+1 < len(su.replace); i += 2 {
		if !strings.Contains(cfg, su.replace[i]) {
			t.Fatalf("configuration lacks %q", su.replace[i])
		}
		cfg = strings.Replace(cfg, su.replace[i], su.replace[i+1], 1)
	}
	writeFile(t, filepath.Join(h.dir, "proxy.yaml"), []byte(cfg))

	var auditOut io.Writer = h.audit
	if su.auditOut != nil {
		auditOut = su.auditOut
	}
	if su.log == nil {
		su.log = slog.New(slog.DiscardHandler)
	}
	if su.grace == 0 {
		su.grace = 5 * time.Second
	}
	h.srv, err = NewServer(filepath.Join(h.dir, "proxy.yaml"), su.log, auditOut)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.url = "https://" + ln.Addr().String()
	h.adminURL = "http://" + adminLn.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.srv.Serve(ctx, ln, adminLn, su.grace) }()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	return h
}

// client returns an HTTP client presenting the SVID of name; its
// connections are not kept.
func (h *harness) client(name string) *http.Client {
	cfg := spiffeauth.ClientConfig(tlsconf.Intermediate, h.svids[name], h.bundle.Bundle(),
		spiffeauth.AllowPatterns(spiffeauth.MustParsePattern("spiffe://example.org/ns/shop/sa/api")))
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, DisableKeepAlives: true}, Timeout: 5 * time.Second}
}

func (h *harness) get(t *testing.T, who, path string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", h.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client(who).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxy(t *testing.T) {
	h := start(t)
	code, body := h.get(t, "web", "/api/items", "X-Client", "a", "X-Forwarded-For", "203.0.113.9")
	if code != 200 || !strings.Contains(body, `"path":"/api/items"`) || !strings.Contains(body, `"xff":"127.0.0.1"`) || !strings.Contains(body, `"proto":"https"`) {
		t.Errorf("web GET /api/items: %d %s (a spoofed X-Forwarded-For from an untrusted peer must be replaced)", code, body)
	}
	tests := []struct {
		who, path string
		want      int
		body      string
	}{
		{"batch", "/api/items", 403, "RBAC: access denied"}, // TLS ok, no ALLOW policy matches
		{"web", "/admin", 403, "RBAC: access denied"},       // DENY wins over ALLOW
		{"web", "//admin", 403, "RBAC: access denied"},      // slashes merged before matching
		{"web", "/api/../admin", 400, "bad request"},        // dot segments rejected
		{"web", "/admin%2Fx", 400, "bad request"},           // encoded slash rejected
		{"other", "/api/items", 0, ""},                      // not admitted by mutual TLS: no response at all
	}
	for _, tt := range tests {
		code, body := h.get(t, tt.who, tt.path, "X-Client", tt.who+tt.path)
		if code != tt.want || !strings.Contains(strings.ToLower(body), strings.ToLower(tt.body)) {
			t.Errorf("%s GET %s: %d %q, want %d %q", tt.who, tt.path, code, body, tt.want, tt.body)
		}
	}
	// Rate limit: burst 2 per X-Client.
	var codes []int
	for range 3 {
		c, _ := h.get(t, "web", "/api/x", "X-Client", "burst")
		codes = append(codes, c)
	}
	if fmt.Sprint(codes) != "[200 200 429]" {
		t.Errorf("rate limit: %v, want [200 200 429]", codes)
	}
	// One audit record per request, with the decision and its reason.
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	log := h.audit.String()
	// 9: the client refused by mutual TLS never makes a request.
	if n := strings.Count(log, `"msg":"decision"`); n != 9 {
		t.Errorf("%d audit records, want 9:\n%s", n, log)
	}
	for _, want := range []string{`"decision":"deny","reason":"DENY shop/deny-admin rule 0`, `"path":"/admin%2Fx"`, `"rule":"ratelimit"`, `"principal":"spiffe://example.org/ns/shop/sa/web"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	// Admin endpoints.
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "ward_guard_decisions_total"} {
		resp, err := http.Get(h.adminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("admin %s: %d %.200s", path, resp.StatusCode, b)
		}
	}
}

func TestProxyReload(t *testing.T) {
	h := start(t)
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	good, _ := os.ReadFile(cfgPath)
	// A broken configuration is refused with its line; the old one serves.
	writeFile(t, cfgPath, bytes.Replace(good, []byte("rateLimit: {rate: 1,"), []byte("rateLimit: {rate: -1,"), 1))
	err := h.srv.Reload()
	if err == nil || !strings.Contains(err.Error(), "proxy.yaml:") {
		t.Errorf("broken reload: %v, want a file:line error", err)
	}
	if code, _ := h.get(t, "web", "/api/items", "X-Client", "r1"); code != 200 {
		t.Errorf("after a refused reload: %d", code)
	}
	// A malformed policy is refused too.
	writeFile(t, filepath.Join(h.dir, "policies.yaml"), []byte(policies+"---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bad, namespace: shop}\nspec: {action: CUSTOM}\n"))
	writeFile(t, cfgPath, good)
	if err := h.srv.Reload(); err == nil || !strings.Contains(err.Error(), "policies.yaml:") {
		t.Errorf("malformed policy reload: %v, want policies.yaml:line", err)
	}
	// A good change applies without a restart: batch is now allowed.
	writeFile(t, filepath.Join(h.dir, "policies.yaml"), []byte(strings.Replace(policies, `["example.org/ns/shop/sa/web"]`, `["example.org/ns/shop/sa/web", "example.org/ns/shop/sa/batch"]`, 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, body := h.get(t, "batch", "/api/items", "X-Client", "r2"); code != 200 {
		t.Errorf("batch after the reload: %d %s", code, body)
	}
}

// TestProxyShutdown: after a graceful shutdown no goroutine of the proxy
// remains.
func TestProxyShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		h := start(t)
		if code, _ := h.get(t, "web", "/api/items", "X-Client", "s"); code != 200 {
			t.Fatalf("request: %d", code)
		}
		h.cancel()
		if err := <-h.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		h.done <- nil // for the cleanup
	}()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+2 { // the test's own httptest upstream cleanup runs later
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after shutdown, %d before:\n%s", n, before, buf)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serveDir runs the proxy configured by dir/proxy.yaml until the test
// ends and returns its address.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	srv, err := NewServer(filepath.Join(dir, "proxy.yaml"), slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil, time.Second) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// TestProxyTLSScan scans a running proxy with sslscan: the listener offers
// only what the intermediate profile allows. (The profiles' own scan test,
// with its negative control, is in guard/tlsconf.)
func TestProxyTLSScan(t *testing.T) {
	testenv.RequireCommand(t, "sslscan")
	dir := t.TempDir()
	_, certPEM, keyPEM, err := tlsconf.NewSelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "tls.crt"), certPEM)
	writeFile(t, filepath.Join(dir, "tls.key"), keyPEM)
	writeFile(t, filepath.Join(dir, "proxy.yaml"), []byte("tls: {cert: tls.crt, key: tls.key}\nupstream: {url: 'http://127.0.0.1:1'}\nadmin: 'off'\n"))
	addr := serveDir(t, dir)
	r, err := tlsscan.Scan(addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Problems(false) {
		t.Error(p)
	}
}

// TestSlowClients: 1,000 clients that send half a request and stall cost
// the proxy little memory and are cut off by the header timeout.
func TestSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 sockets")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "proxy.yaml"), []byte("upstream: {url: 'http://127.0.0.1:1'}\ntimeouts: {readHeader: 1s}\nadmin: 'off'\n"))
	addr := serveDir(t, dir)
	inUse := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	before := inUse()
	const n = 1000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte("GET /api HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // the server has read what there is
	grew := inUse() - min(before, inUse())
	t.Logf("1,000 stalled clients: heap and stacks grew by %d KiB", grew>>10)
	if grew > 200<<20 {
		t.Errorf("memory grew by %d MiB for 1,000 stalled clients, want under 200", grew>>20)
	}
	// The header timeout (1 s) closes them all.
	deadline := time.Now().Add(5 * time.Second)
	for i, c := range conns {
		_ = c.SetReadDeadline(deadline)
		buf := make([]byte, 512)
		for {
			_, err := c.Read(buf)
			if err == nil {
				continue // a 408 or 400 response before the close
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection %d still open after the header timeout", i)
			}
			break
		}
	}
}

// TestProxyWebSocket: an upgrade passes through every check and the audit
// wrapper, and bytes flow both ways.
func TestProxyWebSocket(t *testing.T) {
	h := start(t)
	// Point the proxy at an upstream that speaks a raw upgraded protocol.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(brw, buf); err == nil {
			_, _ = conn.Write(buf)
		}
	}))
	defer up.Close()
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), "url: http://", "url: "+up.URL+" #", 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	cfg := h.client("web").Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(h.url, "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /api/ws HTTP/1.1\r\nHost: api\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Client: ws\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	if _, err := io.WriteString(conn, "ping"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo through the upgraded connection: %q, %v", buf, err)
	}
}

// TestProxyUpstreamMTLS: the proxy reaches an https upstream with its own
// SVID and accepts only the upstream ID the configuration names.
func TestProxyUpstreamMTLS(t *testing.T) {
	h := start(t)
	upstream := func(svid *x509svid.SVID) string {
		srv := httptest.NewUnstartedServer(spiffeauth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := spiffeauth.FromContext(r.Context())
			fmt.Fprint(w, id)
		})))
		cfg := spiffeauth.ServerConfig(tlsconf.Intermediate, svid, h.bundle.Bundle(),
			spiffeauth.AllowPatterns(spiffeauth.MustParsePattern("spiffe://example.org/ns/shop/sa/api")))
		srv.Listener = tls.NewListener(srv.Listener, cfg)
		srv.Start()
		t.Cleanup(srv.Close)
		return "https://" + srv.Listener.Addr().String()
	}
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	base, _ := os.ReadFile(cfgPath)
	use := func(url string) error {
		cfg := strings.Replace(string(base), "upstream:\n  url: ", "upstream:\n  spiffe: {svid: api.pem, key: api-key.pem, bundle: bundle.pem, allow: [\"spiffe://example.org/ns/data/sa/db\"]}\n  url: "+url+" #", 1)
		writeFile(t, cfgPath, []byte(cfg))
		return h.srv.Reload()
	}
	if err := use(upstream(h.svids["db"])); err != nil {
		t.Fatal(err)
	}
	if code, body := h.get(t, "web", "/api/items", "X-Client", "m1"); code != 200 || body != "spiffe://example.org/ns/shop/sa/api" {
		t.Errorf("through mutual TLS: %d %q, want 200 and the proxy's own ID", code, body)
	}
	// An upstream presenting another ID is refused: 502.
	if err := use(upstream(h.svids["batch"])); err != nil {
		t.Fatal(err)
	}
	if code, _ := h.get(t, "web", "/api/items", "X-Client", "m2"); code != http.StatusBadGateway {
		t.Errorf("upstream with an unexpected ID: %d, want 502", code)
	}
}

// TestProxyCurl: curl, an independent client, gets through with the web
// SVID and is refused at /admin.
func TestProxyCurl(t *testing.T) {
	testenv.RequireCommand(t, "curl")
	h := start(t)
	c, k, err := h.svids["web"].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(h.dir, "web.pem"), filepath.Join(h.dir, "web-key.pem")
	writeFile(t, cert, c)
	writeFile(t, key, k)
	curl := func(path string) string {
		// -k: a SPIFFE certificate names an identity, not a host; the
		// proxy verifies curl's SVID against the bundle.
		out, err := exec.Command("curl", "-sk", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", // #nosec G204 -- fixed program, the test's own files
			"--cert", cert, "--key", key, "-H", "X-Client: curl"+path, h.url+path).Output()
		if err != nil {
			t.Fatalf("curl %s: %v", path, err)
		}
		return string(out)
	}
	for path, want := range map[string]string{"/api/items": "200 2", "/admin": "403 2", "/api/../admin": "400 2"} {
		if got := curl(path); got != want {
			t.Errorf("curl %s: %q, want %q (status, HTTP version)", path, got, want)
		}
	}
}

// TestProxyUpstreamHTTPS: an https upstream verified against the CA file
// the configuration names; another CA is refused (502).
func TestProxyUpstreamHTTPS(t *testing.T) {
	h := start(t)
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "over https") }))
	defer up.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw})
	writeFile(t, filepath.Join(h.dir, "upstream-ca.pem"), caPEM)
	_, otherPEM, _, err := tlsconf.NewSelfSigned("other")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.dir, "other-ca.pem"), otherPEM)
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	base, _ := os.ReadFile(cfgPath)
	use := func(ca string) {
		t.Helper()
		cfg := strings.Replace(string(base), "upstream:\n  url: ", "upstream:\n  ca: "+ca+"\n  url: "+up.URL+" #", 1)
		writeFile(t, cfgPath, []byte(cfg))
		if err := h.srv.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	use("upstream-ca.pem")
	if code, body := h.get(t, "web", "/api/items", "X-Client", "h1"); code != 200 || body != "over https" {
		t.Errorf("https upstream: %d %q", code, body)
	}
	use("other-ca.pem")
	if code, _ := h.get(t, "web", "/api/items", "X-Client", "h2"); code != http.StatusBadGateway {
		t.Errorf("https upstream with the wrong CA: %d, want 502", code)
	}
}

// TestProxyWAF: the OWASP Core Rule Set refuses an XSS payload in block
// mode, with the rule in the audit record, and only reports it in detect
// mode; a benign request passes.
func TestProxyWAF(t *testing.T) {
	h := start(t)
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	base, _ := os.ReadFile(cfgPath)
	for _, mode := range []string{"block", "detect"} {
		writeFile(t, cfgPath, append(append([]byte(nil), base...), []byte("waf: {mode: "+mode+"}\n")...))
		if err := h.srv.Reload(); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"block": 403, "detect": 200}[mode]
		if code, _ := h.get(t, "web", "/api/items?q=%3Cscript%3Ealert(1)%3C/script%3E", "X-Client", "waf-"+mode); code != want {
			t.Errorf("%s: XSS payload got %d, want %d", mode, code, want)
		}
		if code, _ := h.get(t, "web", "/api/items?page=2&sort=name", "X-Client", "waf-ok-"+mode); code != 200 {
			t.Errorf("%s: benign request got %d", mode, code)
		}
	}
	// Per route: only /api/v2/ is inspected, the path normalized first.
	writeFile(t, cfgPath, append(append([]byte(nil), base...), []byte("waf: {paths: [/api/v2/]}\n")...))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/api/v1/x?q=%3Cscript%3Ealert(1)%3C/script%3E": 200, "/api/v2/x?q=%3Cscript%3Ealert(1)%3C/script%3E": 403, "/api//v2/x?q=%3Cscript%3Ealert(1)%3C/script%3E": 403} {
		if code, _ := h.get(t, "web", path, "X-Client", "route"+path); code != want {
			t.Errorf("waf on /api/v2/ only: %s got %d, want %d", path, code, want)
		}
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	log := h.audit.String()
	// Detections are recorded beside the rule that decided (issue 11).
	for _, want := range []string{`"rule":"waf","principal"`, `"rule":"authz/shop/allow-web"`, `"waf":"detected (anomaly score`, "941100"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}
