package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardsec/ward/guard/audit"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// sniPolicies let anyone in over the public name and only the admin
// workload (api) over the admin name: the policies of a gateway whose
// names are told apart by the TLS handshake's server name.
const sniPolicies = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-sni, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules:
  - when: [{key: connection.sni, values: ["public.example.com"]}]
  - from: [{source: {principals: ["example.org/ns/shop/sa/api"]}}]
    when: [{key: connection.sni, values: ["admin.example.com"]}]
`

// dialSNI opens a connection over mutual TLS as who, naming server sni in
// the handshake, with ALPN proto.
func (h *harness) dialSNI(t *testing.T, who, sni, proto string) *tls.Conn {
	t.Helper()
	cfg := h.client(who).Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{proto}
	cfg.ServerName = sni
	conn, err := tls.Dial("tcp", strings.TrimPrefix(h.url, "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	return conn
}

// TestAttackDomainFronting: policies that tell names apart by
// connection.sni judged the handshake's name, and the route, the hosts
// rules and the upstream the Host's: web, admitted over
// public.example.com, sent Host: admin.example.com on that connection
// (HTTP/1.1), or a stream with :authority admin.example.com on a
// coalesced HTTP/2 connection, and reached the admin host; or named no
// server at all. With a policy reading connection.sni, a Host other than
// the SNI, or a name without SNI, is refused with 421 Misdirected
// Request (a browser retries on a new connection).
func TestAttackDomainFronting(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: sniPolicies})
	tests := []struct {
		who, sni, host string
		want           int
	}{
		{"web", "public.example.com", "public.example.com", 200},
		{"web", "public.example.com", "public.example.com:8443", 200},
		{"web", "Public.Example.com", "public.example.com.", 200},
		{"web", "public.example.com", "admin.example.com", 421},
		{"web", "public.example.com", "admin.example.com:443", 421},
		{"web", "admin.example.com", "admin.example.com", 403},
		{"api", "admin.example.com", "admin.example.com", 200},
		{"api", "admin.example.com", "public.example.com", 421},
		// No SNI (a client dialling an address): a DENY of the admin
		// name would see none while the admin host is served.
		{"web", "", "admin.example.com", 421},
		{"web", "", "public.example.com", 421},
		{"web", "", "127.0.0.1:8443", 403},
		{"web", "", "[::1]:8443", 403},
		{"web", "public.example.com", "[::1]:8443", 421},
	}
	for i, tt := range tests {
		before := len(u.requests())
		conn := h.dialSNI(t, tt.who, tt.sni, "http/1.1")
		if _, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: "+tt.host+"\r\nX-Client: sni-"+strconv.Itoa(i)+"\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(conn)
		got := u.requests()[before:]
		if status(string(b)) != tt.want {
			t.Errorf("%s, SNI %s, Host %s: status %d, want %d", tt.who, tt.sni, tt.host, status(string(b)), tt.want)
		}
		if (tt.want == 200) != (len(got) == 1) {
			t.Errorf("%s, SNI %s, Host %s: the upstream received %q", tt.who, tt.sni, tt.host, got)
		}
	}

	// HTTP/2: one connection for public.example.com, a stream for each
	// name (as a browser coalesces the names of one certificate).
	before := len(u.requests())
	conn := h.dialSNI(t, "web", "public.example.com", "h2")
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	c := &h2Conn{c: conn, fr: http2.NewFramer(conn, conn)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for i, authority := range []string{"public.example.com", "admin.example.com"} {
		id := uint32(2*i + 1)
		block := hpackBlock(":method", "GET", ":scheme", "https", ":authority", authority, ":path", "/api/items", "x-client", "h2-"+authority)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"public.example.com": "200", "admin.example.com": "421"}[authority]
		if got := c.result(id); got != want {
			t.Errorf("HTTP/2 over SNI public.example.com, :authority %s: %s, want %s", authority, got, want)
		}
	}
	if got := u.requests()[before:]; len(got) != 1 || !strings.Contains(got[0], "Host: public.example.com\r\n") {
		t.Errorf("HTTP/2: the upstream received %q, want the public request only", got)
	}
	if err := h.srv.auditBuf.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.audit.String(), `"status":421`) {
		t.Errorf("no audit record of the 421: %s", h.audit.String())
	}
}

// TestSNIUnreadNotRefused: without a policy reading connection.sni, a
// Host other than the SNI is served (every check judges the Host), and
// so is a connection without SNI.
func TestSNIUnreadNotRefused(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	conn := h.dialSNI(t, "web", "public.example.com", "http/1.1")
	if _, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	if status(string(b)) != 200 {
		t.Errorf("SNI public.example.com, Host api, no policy on SNI: %.100q, want 200", b)
	}
}

// TestAttackSNICase: connection.sni was compared case-sensitively, as
// sent: a DENY of admin.example.com did not see a handshake for
// ADMIN.Example.com, which is the same DNS name (and the Host, compared
// in any case, then agreed with it).
func TestAttackSNICase(t *testing.T) {
	const pols = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin-sni, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{when: [{key: connection.sni, values: ["admin.example.com"]}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: any, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{}]
`
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), policies: pols})
	for i, sni := range []string{"admin.example.com", "ADMIN.Example.com", "Admin.example.com."} {
		before := len(u.requests())
		conn := h.dialSNI(t, "web", sni, "http/1.1")
		if _, err := io.WriteString(conn, "GET /api/items HTTP/1.1\r\nHost: admin.example.com\r\nX-Client: case-"+strconv.Itoa(i)+"\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(conn)
		if got := u.requests()[before:]; status(string(b)) != 403 || len(got) != 0 {
			t.Errorf("SNI %s: status %d, the upstream received %q; want 403 and nothing", sni, status(string(b)), got)
		}
	}
}

// TestSNIWithoutTLSWarned: without tls no request has a server name, so
// a DENY on connection.sni denies nothing: the configuration is warned
// about.
func TestSNIWithoutTLSWarned(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "policies.yaml"), []byte(sniPolicies))
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
	if !slices.ContainsFunc(p.Warnings(), func(w string) bool { return strings.Contains(w, "connection.sni") }) {
		t.Errorf("no warning about connection.sni without tls: %q", p.Warnings())
	}
}
