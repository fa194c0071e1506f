package proxy

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
  issuers: [{issuer: "https://id", algorithms: [ES256], jwksFile: jwks.json}]
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
