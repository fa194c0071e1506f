package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardsec/ward/guard/spiffeauth"
)

// countedConn counts the bytes read from the socket under a client's TLS.
type countedConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// openCountedTunnel is openTunnel on a connection whose socket reads are
// counted: it returns the client's connection and the counter.
func openCountedTunnel(t *testing.T, h *harness, u *rawUpstream, who, path, client, hello string, hdr ...string) (*tls.Conn, *countedConn) {
	t.Helper()
	raw, err := net.Dial("tcp", strings.TrimPrefix(h.url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	cc := &countedConn{Conn: raw}
	cfg := h.client(who).Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn := tls.Client(cc, cfg)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fields := ""
	for i := 0; i+1 < len(hdr); i += 2 {
		fields += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Client: "+client+"\r\n"+fields+"\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, _ := conn.Read(buf); status(string(buf[:n])) != 101 {
		t.Fatalf("upgrade %s: %q", path, buf[:n])
	}
	_, _ = io.WriteString(conn, hello)
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(u.received(), hello) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(u.received(), hello) {
		t.Fatalf("%s: the upstream did not get %q through the tunnel", path, hello)
	}
	return conn, cc
}

// TestAttackTunnelCutSocketFirst: a reload that refuses a tunnel's
// request closed its socket first, so that once the decision to cut was
// taken nothing more moved on the connection; but the tunnels cut for
// their age (maxConnectionAge), their bearer token's expiry, their
// peer's certificate no longer verifying (a CA removed from the
// listener's bundle file) or their peer no longer admitted by a reload
// closed the TLS layer first: a close_notify went out, written with a
// 5 s deadline while the relay still read the client's bytes (and sent
// them on to the upstream), and by a reaper that cut the other tunnels
// only after it. Every cut now closes the socket first: the client gets
// not one more byte (TLS record) after the cut, and what it sends then
// never reaches the upstream.
func TestAttackTunnelCutSocketFirst(t *testing.T) {
	t.Cleanup(func() { tokenClockAhead.Store(0) })
	iss := newJWTIssuer(t)
	for _, tc := range []struct {
		name  string
		extra string
		hdr   []string
		cut   func(t *testing.T, h *harness)
	}{
		{"maxConnectionAge", "timeouts: {maxConnectionAge: 500ms}\n", nil, func(*testing.T, *harness) {}},
		{"token expired", "jwt: {issuers: [{issuer: https://id.test, audiences: [shop], algorithms: [ES256], jwksFile: jwks.json}]}\n",
			[]string{"Authorization", "Bearer " + iss.token(t, "alice")}, func(*testing.T, *harness) { tokenClockAhead.Store(int64(2 * time.Hour)) }},
		{"peer not admitted after reload", "", nil, func(t *testing.T, h *harness) {
			cfgPath := filepath.Join(h.dir, "proxy.yaml")
			data, _ := os.ReadFile(cfgPath)
			writeFile(t, cfgPath, []byte(strings.Replace(string(data), `allow: ["spiffe://example.org/ns/shop/**"]`, `allow: ["spiffe://example.org/ns/shop/sa/batch"]`, 1)))
			if err := h.srv.Reload(); err != nil {
				t.Fatal(err)
			}
		}},
		{"peer's CA removed from the bundle file", "", nil, func(t *testing.T, h *harness) {
			other, err := spiffeauth.NewDevCA(spiffeid.RequireTrustDomainFromString("example.org"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := other.Bundle().Marshal()
			time.Sleep(1100 * time.Millisecond) // the file source looks at its files at most every second
			writeFile(t, filepath.Join(h.dir, "bundle.pem"), b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { tokenClockAhead.Store(0) })
			u := newRawUpstream(t)
			h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks}, extra: tc.extra})
			conn, cc := openCountedTunnel(t, h, u, "web", "/api/ws", "ws", "hello", tc.hdr...)
			before := cc.n.Load()
			tc.cut(t, h)
			if !closedWithin(conn, 3*time.Second) {
				t.Fatal("the tunnel is still open")
			}
			if after := cc.n.Load(); after != before {
				t.Errorf("the client got %d bytes after the cut (the TLS layer closed before the socket)", after-before)
			}
			_, _ = io.WriteString(conn, "after-cut")
			time.Sleep(100 * time.Millisecond)
			if strings.Contains(u.received(), "after-cut") {
				t.Error("bytes sent after the cut reached the upstream")
			}
		})
	}
}
