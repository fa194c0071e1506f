package proxy

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openTunnel upgrades a connection of who to a WebSocket tunnel at path
// and sends hello into it, waiting until the upstream has it.
func openTunnel(t *testing.T, h *harness, u *rawUpstream, who, path, client, hello string) net.Conn {
	t.Helper()
	conn := h.dial(t, who)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Client: "+client+"\r\n\r\n"); err != nil {
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
	return conn
}

// TestAttackReloadStricterPolicyTunnel: a reload whose policies deny a
// request left the tunnel that request opened (a WebSocket) relaying for
// as long as the client kept it busy: the request was "in flight", and
// finished on the configuration it started with, forever. A reload now
// checks the requests of open tunnels again and closes those the new
// configuration refuses (as Envoy drains connections of a listener whose
// RBAC filter changed); others stay open, and the re-check is not
// counted by the rate limit (the harness's burst is 2: both tunnels used
// it up).
func TestAttackReloadStricterPolicyTunnel(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	denied := openTunnel(t, h, u, "web", "/api/ws", "ws", "hello-denied")
	kept := openTunnel(t, h, u, "web", "/api/chat", "ws", "hello-kept")

	stricter := policies + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-ws, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/api/ws"]}}]}]
`
	if err := os.WriteFile(filepath.Join(h.dir, "policies.yaml"), []byte(stricter), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = denied.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := denied.Read(buf); isTimeout(err) {
		t.Error("the tunnel of a request the new policies deny is still open after the reload")
	}
	_, _ = io.WriteString(denied, "after-denied")
	_, _ = io.WriteString(kept, "after-kept")
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(u.received(), "after-kept") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := u.received()
	if strings.Contains(got, "after-denied") {
		t.Error("bytes sent into the denied tunnel after the reload reached the upstream")
	}
	if !strings.Contains(got, "after-kept") {
		t.Error("the tunnel of a request the new policies allow was closed by the reload")
	}
	// A new request to the denied path is refused, as the re-check was.
	resp, _ := sendRaw(t, h, u, "web", "GET", "/api/ws")
	if status(resp) != 403 {
		t.Errorf("GET /api/ws after the reload: %d, want 403", status(resp))
	}
}
