package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/net/http2"

	"github.com/wardsec/ward/guard/authz"
	"github.com/wardsec/ward/guard/spiffeauth"
)

// TestAttackUpstreamOverridesSecurityHeaders: an upstream's response
// fields of the names of the proxy's security headers were added after
// the proxy's own, and the client got both: Referrer-Policy: no-referrer
// then unsafe-url (browsers take the last valid token, so the
// upstream's won), two Strict-Transport-Security lines (a field with one
// value: a cache or load balancer in front folds them into
// "max-age=63072000, max-age=0", which browsers ignore whole, HSTS
// gone), X-Frame-Options DENY then ALLOWALL, and the audit record's
// X-Request-Id then one the upstream chose. The proxy's value is the
// only one now, over HTTP/1.1 and HTTP/2, also after a 103; a
// Content-Security-Policy from the upstream is kept beside the proxy's
// (browsers enforce each: it can only restrict more).
func TestAttackUpstreamOverridesSecurityHeaders(t *testing.T) {
	own := map[string]string{
		"Strict-Transport-Security": "max-age=63072000",
		"Referrer-Policy":           "no-referrer",
		"X-Frame-Options":           "DENY",
		"X-Content-Type-Options":    "nosniff",
	}
	for _, hint := range []bool{false, true} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hint {
				w.Header().Set("Link", "</app.js>; rel=preload; as=script")
				w.WriteHeader(http.StatusEarlyHints)
			}
			w.Header().Set("Strict-Transport-Security", "max-age=0")
			w.Header().Set("Referrer-Policy", "unsafe-url")
			w.Header().Set("X-Frame-Options", "ALLOWALL")
			w.Header().Set("X-Content-Type-Options", "sniff")
			w.Header().Set("X-Request-Id", "forged-request-id")
			w.Header().Set("Content-Security-Policy", "script-src 'self'")
			w.Header().Set("Set-Cookie", "s=1; Secure; HttpOnly")
			_, _ = w.Write([]byte("ok"))
		}))
		t.Cleanup(up.Close)
		h := startWith(t, setup{upstream: up.URL})
		check := func(proto string, resp *http.Response) {
			t.Helper()
			for name, want := range own {
				if got := resp.Header.Values(name); !slices.Equal(got, []string{want}) {
					t.Errorf("%s, 103 first %v: %s %q, want only the proxy's %q", proto, hint, name, got, want)
				}
			}
			if got := resp.Header.Values("Content-Security-Policy"); len(got) != 2 || got[1] != "script-src 'self'" {
				t.Errorf("%s, 103 first %v: Content-Security-Policy %q, want the proxy's and the upstream's", proto, hint, got)
			}
			if got := resp.Header.Values("Set-Cookie"); len(got) != 1 {
				t.Errorf("%s, 103 first %v: Set-Cookie %q, want the upstream's", proto, hint, got)
			}
			ids := resp.Header.Values("X-Request-Id")
			if len(ids) != 1 || ids[0] == "forged-request-id" {
				t.Errorf("%s, 103 first %v: X-Request-Id %q, want only the audit record's", proto, hint, ids)
				return
			}
			if err := h.srv.auditBuf.Flush(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(h.audit.String(), `"request_id":"`+ids[0]+`"`) {
				t.Errorf("%s: no audit record with the response's request id %s", proto, ids[0])
			}
		}

		raw := h.raw(t, "web", "GET /api/items HTTP/1.1\r\nHost: api\r\nX-Client: h1\r\nConnection: close\r\n\r\n")
		br := bufio.NewReader(strings.NewReader(raw))
		resp, err := http.ReadResponse(br, nil)
		if err == nil && resp.StatusCode == http.StatusEarlyHints {
			resp, err = http.ReadResponse(br, nil)
		}
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("HTTP/1.1: %v %v\n%s", resp, err, raw)
		}
		check("HTTP/1.1", resp)

		req, err := http.NewRequest("GET", h.url+"/api/items", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Client", "h2")
		resp, err = h.client("web").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("HTTP/2: %s %d", resp.Proto, resp.StatusCode)
		}
		check("HTTP/2", resp)
	}
}

// TestAttackWildcardAddressRoute: a route's match.host of "*." and an
// address ("*.10.0.0.1", "*.[::1]") loaded, yet no request can take it:
// the canonical Host refuses a name under an address ("1.10.0.0.1" ends
// in a number and is no IPv4 address), so its requests went to the next
// route, with that route's checks. It is refused at load, as other hosts
// no request can take are; the address itself, and "*.example.com",
// load.
func TestAttackWildcardAddressRoute(t *testing.T) {
	for host, ok := range map[string]bool{"*.10.0.0.1": false, "*.[::1]": false, "*.[fe80::1]": false, "10.0.0.1": true, "[::1]": true, "*.example.com": true, "*.a1.example": true} {
		path := filepath.Join(t.TempDir(), "p.yaml")
		writeFile(t, path, []byte("upstream: {url: 'http://a:1'}\nroutes:\n  - name: r\n    match: {host: \""+host+"\", prefix: /}\n"))
		_, err := LoadConfig(path)
		if ok != (err == nil) || !ok && !strings.Contains(err.Error(), "routes[0].match.host") {
			t.Errorf("match.host %s: %v, want loaded %v", host, err, ok)
		}
	}
	if _, ok := authz.CanonicalHost("1.10.0.0.1"); ok {
		t.Error("a name under an IPv4 address is a canonical Host: the route could match it")
	}
}

// TestAttackUpstreamOverridesSecurityHeadersUpgrade: the same on a 101,
// which ReverseProxy writes on the hijacked connection: the upstream's
// Referrer-Policy and X-Request-Id went out after the proxy's.
func TestAttackUpstreamOverridesSecurityHeadersUpgrade(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveConns(t, ln, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Request-Id: forged-request-id\r\nReferrer-Policy: unsafe-url\r\n"+
			"Strict-Transport-Security: max-age=0\r\nX-Frame-Options: ALLOWALL\r\n\r\n")
		_, _ = io.Copy(io.Discard, c)
	})
	h := startWith(t, setup{upstream: "http://" + ln.Addr().String()})
	conn := h.dial(t, "web")
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /api/ws HTTP/1.1\r\nHost: api\r\nX-Client: ws\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for name, want := range map[string]string{"Strict-Transport-Security": "max-age=63072000", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Values(name); !slices.Equal(got, []string{want}) {
			t.Errorf("101: %s %q, want only the proxy's %q", name, got, want)
		}
	}
	if ids := resp.Header.Values("X-Request-Id"); len(ids) != 1 || ids[0] == "forged-request-id" {
		t.Errorf("101: X-Request-Id %q, want only the audit record's", ids)
	}
}

// TestTLSLayerHeld (held, and pinned): a TLS session resumed after a
// reload that no longer admits its peer is refused at the handshake
// (TLS 1.2 and 1.3: Go runs VerifyConnection on resumptions, and the
// session tickets outlive reloads); an HTTP/2 preface on a connection
// that negotiated http/1.1 (h2c prior knowledge over TLS) gets 400, an
// ALPN offering h2c only is refused, and HTTP/1.1 spoken on an h2
// connection ends it; nothing of these reaches the upstream.
func TestTLSLayerHeld(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	addr := strings.TrimPrefix(h.url, "https://")
	get := func(cfg *tls.Config, client string) (string, bool, error) {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return "", false, err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /api/items HTTP/1.1\r\nHost: api\r\nX-Client: "+client+"\r\nConnection: close\r\n\r\n"); err != nil {
			return "", false, err
		}
		b, err := io.ReadAll(c)
		return string(b), c.ConnectionState().DidResume, err
	}
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	bundlePath := filepath.Join(h.dir, "bundle.pem")
	other, err := spiffeauth.NewDevCA(spiffeid.RequireTrustDomainFromString("example.org"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherBundle, err := other.Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		name := tls.VersionName(v)
		cfg := h.client("web").Transport.(*http.Transport).TLSClientConfig.Clone()
		cfg.NextProtos, cfg.MaxVersion = []string{"http/1.1"}, v
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i := range 2 {
			resp, resumed, err := get(cfg, name+"-"+strconv.Itoa(i))
			if err != nil || status(resp) != 200 || resumed != (i == 1) {
				t.Fatalf("%s, connection %d: %v, resumed %v, %.40q; want 200, resumed the second time", name, i, err, resumed, resp)
			}
		}
		for _, change := range []struct{ what, file, data string }{
			{"revoking web", cfgPath, strings.Replace(string(orig), `allow: ["spiffe://example.org/ns/shop/**"]`, `allow: ["spiffe://example.org/ns/shop/sa/api"]`, 1)},
			{"removing the CA", bundlePath, string(otherBundle)},
		} {
			before := len(u.requests())
			saved, err := os.ReadFile(change.file)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, change.file, []byte(change.data))
			if err := h.srv.Reload(); err != nil {
				t.Fatal(err)
			}
			if resp, _, err := get(cfg, name+"-"+change.what); err == nil && resp != "" || len(u.requests()) != before {
				t.Errorf("%s, resumed after the reload %s: %.60q, the upstream received %d requests; want the handshake refused", name, change.what, resp, len(u.requests())-before)
			}
			writeFile(t, change.file, saved)
			if err := h.srv.Reload(); err != nil {
				t.Fatal(err)
			}
		}
	}

	before := len(u.requests())
	conn := h.dialSNI(t, "web", "api", "http/1.1")
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(conn); status(string(b)) != 400 {
		t.Errorf("HTTP/2 preface over http/1.1: %.60q, want 400", b)
	}
	conn = h.dialSNI(t, "web", "api", "h2")
	if _, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: api\r\nX-Client: h1-on-h2\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(conn)
	cfg := h.client("web").Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"h2c"}
	if c, err := tls.Dial("tcp", addr, cfg); err == nil {
		_ = c.Close()
		t.Error("ALPN h2c only: handshake done, want it refused")
	}
	plain := startWith(t, setup{upstream: u.URL(), policies: anyRequest,
		replace: []string{"tls:\n  profile: intermediate\n  spiffe:\n    svid: api.pem\n    key: api-key.pem\n    bundle: bundle.pem\n    allow: [\"spiffe://example.org/ns/shop/**\"]\n", ""}})
	pc, err := net.Dial("tcp", strings.TrimPrefix(plain.url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_ = pc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(pc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(pc); status(string(b)) != 400 {
		t.Errorf("HTTP/2 preface on the plain HTTP listener: %.60q, want 400", b)
	}
	if got := u.requests()[before:]; len(got) != 0 {
		t.Errorf("the upstream received %q", got)
	}
}

// TestAttackUpstreamOwnHeadersInHintsAndTrailers: the upstream's fields of
// the proxy's own names (ownResponseHeaders) still went out where
// keepOwn does not look. On an informational response, ReverseProxy adds
// the 1xx's fields to the proxy's: the first 103 carried Referrer-Policy
// no-referrer then unsafe-url (Chromium applies a 103's Referrer-Policy
// to the preloads it starts) and two X-Request-Id; a second 103, after
// ReverseProxy cleared the map, carried the upstream's alone. In
// trailers, the upstream's X-Request-Id and Strict-Transport-Security
// followed the body, the audit record's id beside another. A 1xx now
// carries the proxy's values of those names, and trailers of those names
// are not forwarded.
func TestAttackUpstreamOwnHeadersInHintsAndTrailers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 2 {
			w.Header().Set("Link", "</app.js>; rel=preload; as=script")
			w.Header().Set("Referrer-Policy", "unsafe-url")
			w.Header().Set("X-Request-Id", "forged-request-id")
			w.WriteHeader(http.StatusEarlyHints)
		}
		w.Header().Del("Referrer-Policy")
		w.Header().Del("X-Request-Id")
		if r.URL.Path == "/api/undeclared" {
			// Trailers the header section did not announce (a body
			// past net/http's buffer, so that the response is chunked).
			_, _ = w.Write(bytes.Repeat([]byte("ok"), 32<<10))
			for k, v := range map[string]string{"X-Request-Id": "forged-request-id", "Strict-Transport-Security": "max-age=0",
				"Referrer-Policy": "unsafe-url", "X-Checksum": "abc"} {
				w.Header().Set(http.TrailerPrefix+k, v)
			}
			return
		}
		w.Header().Set("Trailer", "X-Request-Id, Strict-Transport-Security, X-Checksum")
		_, _ = w.Write([]byte("ok"))
		w.Header().Set("X-Request-Id", "forged-request-id")
		w.Header().Set("Strict-Transport-Security", "max-age=0")
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"Referrer-Policy", "unsafe-url")
	}))
	t.Cleanup(up.Close)
	h := startWith(t, setup{upstream: up.URL})
	for _, path := range []string{"/api/items", "/api/undeclared"} {
		hints := trailerHintsExchange(t, h, path)
		if hints != 2 {
			t.Errorf("%s: %d 103 responses, want 2", path, hints)
		}
	}
	// HTTP/2: the same writer.
	var hints2 [][2][]string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
		hints2 = append(hints2, [2][]string{hdr.Values("Referrer-Policy"), hdr.Values("X-Request-Id")})
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", h.url+"/api/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Client", "h2")
	resp, err := h.client("web").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.ProtoMajor != 2 || len(hints2) != 2 {
		t.Fatalf("HTTP/2: %s, %d 103 responses", resp.Proto, len(hints2))
	}
	for i, hh := range hints2 {
		if !slices.Equal(hh[0], []string{"no-referrer"}) || len(hh[1]) != 1 || hh[1][0] == "forged-request-id" {
			t.Errorf("HTTP/2 103 #%d: Referrer-Policy %q, X-Request-Id %q, want only the proxy's", i+1, hh[0], hh[1])
		}
	}
	for _, name := range []string{"X-Request-Id", "Strict-Transport-Security", "Referrer-Policy"} {
		if got := resp.Trailer.Values(name); len(got) != 0 {
			t.Errorf("HTTP/2: trailer %s: %q, want none", name, got)
		}
	}
}

func trailerHintsExchange(t *testing.T, h *harness, path string) (hints int) {
	t.Helper()
	raw := h.raw(t, "web", "GET "+path+" HTTP/1.1\r\nHost: api\r\nX-Client: h1\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(strings.NewReader(raw))
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		if resp.StatusCode == http.StatusEarlyHints {
			hints++
			if got := resp.Header.Values("Referrer-Policy"); !slices.Equal(got, []string{"no-referrer"}) {
				t.Errorf("103 #%d: Referrer-Policy %q, want only the proxy's", hints, got)
			}
			if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] == "forged-request-id" {
				t.Errorf("103 #%d: X-Request-Id %q, want only the audit record's", hints, got)
			}
			if got := resp.Header.Get("Link"); got == "" {
				t.Errorf("103 #%d: no Link (else this test proves nothing)", hints)
			}
			continue
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d\n%s", resp.StatusCode, raw)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); !slices.Equal(got, []string{"max-age=63072000"}) {
			t.Errorf("Strict-Transport-Security %q, want the proxy's in the header section", got)
		}
		if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] == "forged-request-id" {
			t.Errorf("X-Request-Id %q, want the audit record's in the header section", got)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"X-Request-Id", "Strict-Transport-Security", "Referrer-Policy"} {
			if got := resp.Trailer.Values(name); len(got) != 0 {
				t.Errorf("%s: trailer %s: %q, want none", path, name, got)
			}
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
			t.Errorf("%s: trailer X-Checksum %q, want the upstream's (else this test proves nothing)", path, got)
		}
		return hints
	}
}
