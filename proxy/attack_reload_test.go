package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openTunnel upgrades a connection of who to a WebSocket tunnel at path
// (with the header fields hdr, name and value pairs) and sends hello
// relayedAfter writes a marker into each tunnel, cut first, waits (up to
// 2 s) for kept's to reach u, and reports whether each reached it: the
// relay of a tunnel a check closed, and of one it kept.
func relayedAfter(u *rawUpstream, cut, kept net.Conn) (cutRelayed, keptRelayed bool) {
	_, _ = io.WriteString(cut, "after-cut")
	_, _ = io.WriteString(kept, "after-kept")
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(u.received(), "after-kept") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := u.received()
	return strings.Contains(got, "after-cut"), strings.Contains(got, "after-kept")
}

// into it, waiting until the upstream has it.
func openTunnel(t *testing.T, h *harness, u *rawUpstream, who, path, client, hello string, hdr ...string) net.Conn {
	t.Helper()
	conn := h.dial(t, who)
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
	cutRelayed, keptRelayed := relayedAfter(u, denied, kept)
	if cutRelayed {
		t.Error("bytes sent into the denied tunnel after the reload reached the upstream")
	}
	if !keptRelayed {
		t.Error("the tunnel of a request the new policies allow was closed by the reload")
	}
	// A new request to the denied path is refused, as the re-check was.
	resp, _ := sendRaw(t, h, u, "web", "GET", "/api/ws")
	if status(resp) != 403 {
		t.Errorf("GET /api/ws after the reload: %d, want 403", status(resp))
	}
}

// TestAttackReloadStricterPolicyStream: a response streamed on a route
// without a timeout (server-sent events) went on after a reload whose
// policies deny its request, for as long as the upstream kept writing; a
// request the upstream had not answered yet went on too. Long requests
// (no route timeout, or one over a minute) are checked again on a
// reload: the denied stream is cut off and recorded as "refused after
// reload", the unanswered request gets 403 (rule reload), and a stream
// still allowed goes on.
func TestAttackReloadStricterPolicyStream(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/hang" {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for {
			if _, err := io.WriteString(w, "data: tick\n\n"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(up.Close)
	h := startWith(t, setup{upstream: up.URL, replace: []string{"\nworkload:", "\n  timeout: 0s\nworkload:"}})
	stream := func(path string) (*bufio.Reader, net.Conn) {
		conn := h.dial(t, "web")
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: api\r\nX-Client: "+path+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		return bufio.NewReader(conn), conn
	}
	denied, _ := stream("/api/events")
	kept, _ := stream("/api/feed")
	hangs, _ := stream("/api/hang")
	for _, br := range []*bufio.Reader{denied, kept} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream: %v %v", resp, err)
		}
		if line, err := br.ReadString('\n'); err != nil {
			t.Fatalf("first event: %q %v", line, err)
		}
	}
	time.Sleep(100 * time.Millisecond) // /api/hang reaches the upstream

	stricter := policies + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-events, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/api/events", "/api/hang"]}}]}]
`
	if err := os.WriteFile(filepath.Join(h.dir, "policies.yaml"), []byte(stricter), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	// The denied stream ends: its reads run out within a few events.
	ended := false
	for i := 0; i < 200; i++ {
		if _, err := denied.ReadString('\n'); err != nil {
			ended = true
			break
		}
	}
	if !ended {
		t.Error("the stream of a request the new policies deny goes on after the reload")
	}
	if resp, err := http.ReadResponse(hangs, nil); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("the unanswered request of a denied path: %v %v, want 403", resp, err)
	}
	// The allowed one goes on.
	for i := 0; i < 10; i++ {
		if line, err := kept.ReadString('\n'); err != nil {
			t.Fatalf("the stream of an allowed request after the reload: %q %v", line, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.audit.String(), `"outcome":"refused after reload"`) && time.Now().Before(deadline) {
		_ = h.srv.auditBuf.Flush()
		time.Sleep(20 * time.Millisecond)
	}
	log := h.audit.String()
	if !strings.Contains(log, `"path":"/api/events","status":200`) || !strings.Contains(log, `"outcome":"refused after reload"`) {
		t.Errorf("audit: no record of the stream the reload ended:\n%s", log)
	}
	if !strings.Contains(log, `"rule":"reload"`) || !strings.Contains(log, `"path":"/api/hang","status":403`) {
		t.Errorf("audit: no record of the request the reload refused:\n%s", log)
	}
}

// TestAttackReloadSameSizeSameMtime: the file watch compared only the
// modification time and size of the files. A stricter policies file of
// the same size swapped in with the same modification time (`cp -p`,
// `tar -x`, `touch -r`, a rename of a prepared file) was never loaded:
// the proxy went on enforcing the weaker policy (fail open). The watch
// compares the files' device, inode and change time too now, and the
// stricter policy is enforced within a few polls.
func TestAttackReloadSameSizeSameMtime(t *testing.T) {
	stricter := strings.Replace(policies, `paths: ["/api/*", "/admin"]`, `paths: ["/xyz/*", "/admin"]`, 1)
	if len(stricter) != len(policies) || stricter == policies {
		t.Fatal("test setup: the stricter policies must differ and have the same size")
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name string
		put  func(t *testing.T, path string)
	}{
		{"renamed over", func(t *testing.T, path string) {
			writeFile(t, path+".new", []byte(stricter))
			if err := os.Chtimes(path+".new", t0, t0); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"rewritten in place", func(t *testing.T, path string) {
			writeFile(t, path, []byte(stricter))
			if err := os.Chtimes(path, t0, t0); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newRawUpstream(t)
			h := startWith(t, setup{upstream: u.URL()})
			polPath := filepath.Join(h.dir, "policies.yaml")
			if err := os.Chtimes(polPath, t0, t0); err != nil {
				t.Fatal(err)
			}
			if err := h.srv.Reload(); err != nil { // stamps the file with its mtime t0
				t.Fatal(err)
			}
			defer func(d time.Duration) { settleDelay = d }(settleDelay)
			settleDelay = 200 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			watching := make(chan struct{})
			go func() {
				defer close(watching)
				h.srv.Watch(ctx, 50*time.Millisecond)
			}()
			defer func() { cancel(); <-watching }()
			apiStatus := func() int {
				resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items")
				return status(resp)
			}
			if got := apiStatus(); got != 200 {
				t.Fatalf("GET /api/items under the first policies: %d", got)
			}
			time.Sleep(100 * time.Millisecond) // a poll or two see the file unchanged
			tc.put(t, polPath)
			if fi, err := os.Stat(polPath); err != nil || fi.Size() != int64(len(policies)) || !fi.ModTime().Equal(t0) {
				t.Fatalf("test setup: the new file's size and mtime must be the old ones: %v %v", fi, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for apiStatus() != 403 {
				if time.Now().After(deadline) {
					t.Fatal("5 s after a stricter policies file of the same size and mtime replaced the old one, its policy is not enforced")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
