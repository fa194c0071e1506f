package proxy

// Attacks on the proxy's life cycle (reloads, key fetches, the audit
// output), each replayed against a real upstream on loopback.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/guard/tlsconf"
	"github.com/wardsec/ward/internal/regfile"
	"github.com/wardsec/ward/internal/testenv"
)

// TestAttackReloadTunnelJWKSDown: a reload made while an issuer's JWKS
// could not be fetched checked no open tunnel again ("the new
// configuration cannot decide yet"), and a tunnel the new policies deny
// (one without a token: no key was needed to decide it) relayed for as
// long as its client liked; an identity provider's outage, or a client
// able to cause one, kept every revoked tunnel open. Tunnels are now all
// checked again: those without a token are decided, and only one whose
// token cannot be verified for want of keys is left open (and logged).
func TestAttackReloadTunnelJWKSDown(t *testing.T) {
	iss := newJWTIssuer(t)
	var down atomic.Bool
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(iss.jwks)
	}))
	t.Cleanup(idp.Close)
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(),
		extra: "jwt: {issuers: [{issuer: https://id.test, audiences: [shop], algorithms: [ES256], jwksURL: '" + idp.URL + "/jwks'}]}\n"})
	anon := openTunnel(t, h, u, "web", "/api/ws", "anon", "hello-anon")
	withToken := openTunnel(t, h, u, "web", "/api/ws", "token", "hello-token", "Authorization", "Bearer "+iss.token(t, "alice"))

	down.Store(true)
	stricter := policies + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-ws, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/api/ws"]}}]}]
`
	writeFile(t, filepath.Join(h.dir, "policies.yaml"), []byte(stricter))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(anon, 2*time.Second) {
		t.Error("the tunnel without a token that the new policies deny is still open after a reload made while the JWKS was down")
	}
	// The one whose token cannot be verified now is left as it was.
	cutRelayed, keptRelayed := relayedAfter(u, anon, withToken)
	if cutRelayed {
		t.Error("bytes sent into the denied tunnel after the reload reached the upstream")
	}
	if !keptRelayed {
		t.Error("the tunnel whose token could not be checked for want of keys was closed")
	}
}

// TestAttackAuditFIFONoReader: an audit.output that is a FIFO no process
// reads (its log shipper not started yet, or gone) made `ward proxy`, and
// `ward proxy --check`, hang at start in open(2), without a word. It is
// now an error naming the file.
func TestAttackAuditFIFONoReader(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "audit.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()}) // a directory with a valid configuration
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	cfg, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, append(cfg, "audit: {output: "+fifo+"}\n"...))
	type result struct {
		srv *Server
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := NewServer(cfgPath, slog.New(slog.DiscardHandler), io.Discard)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err == nil {
			_ = r.srv.Close()
			t.Fatal("NewServer accepted an audit FIFO without a reader")
		}
		if !strings.Contains(r.err.Error(), fifo) || !strings.Contains(r.err.Error(), "reader") {
			t.Errorf("error %q does not name the FIFO and its missing reader", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Error("NewServer (and --check) hang on an audit FIFO without a reader")
		r, err := os.Open(fifo) // let the open go on
		if err == nil {
			defer r.Close()
		}
		if res := <-done; res.err == nil {
			_ = res.srv.Close()
		}
	}
}

// TestAttackAuditFIFOStalledShutdown: with audit.output a FIFO whose
// reader stopped reading, the flushing goroutine's write waits; shutdown
// abandons it after the drain timeout, as documented, but then closed the
// audit file under the lock that write held, and waited for ever: the
// process never exited on SIGTERM. Shutdown now ends within the drain
// timeout.
func TestAttackAuditFIFOStalledShutdown(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "audit.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	// A small pipe fills with a few records.
	if _, err := unix.FcntlInt(reader.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), grace: time.Second, extra: "audit: {output: " + fifo + "}\n"})
	// Records until the flushing goroutine waits on the full pipe:
	// records stay pending past a few flush intervals (100 ms).
	stuck := func() bool {
		for range 5 {
			if h.srv.auditBuf.Pending() == 0 {
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
		return true
	}
	for i := 0; ; i++ {
		if i == 500 {
			t.Fatal("the audit FIFO did not fill")
		}
		sendRaw(t, h, u, "web", "GET", "/api/items")
		if h.srv.auditBuf.Pending() > 0 && stuck() {
			break
		}
	}
	h.cancel()
	select {
	case <-h.done:
		h.done <- nil // for the harness's cleanup
	case <-time.After(15 * time.Second):
		t.Error("shutdown does not end with the audit FIFO stalled (drain timeout 1 s)")
		go func() { _, _ = io.Copy(io.Discard, reader) }()
		<-h.done
		h.done <- nil
	}
}

// k8sVolume lays files out in dir as the kubelet's atomic writer does for
// a ConfigMap or Secret volume: each file a symlink through ..data to a
// timestamped directory, an update a new directory and an atomic rename
// of ..data to it.
type k8sVolume struct {
	t   *testing.T
	dir string
	n   int
}

func (v *k8sVolume) update(files map[string][]byte) {
	t := v.t
	t.Helper()
	v.n++
	ts := fmt.Sprintf("..2026_12_07_11_00_%02d.%d", v.n, v.n)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		writeFile(t, filepath.Join(v.dir, ts, name), data)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(v.dir, name)
		if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAttackReloadConfigSwappedWhileRead: a reload stamped the
// configuration file after reading it, and its policies before. A
// ConfigMap update landing in between (both files swapped at once by the
// kubelet) had its policies applied but not the configuration: the
// stamps matched the new files, so no later poll saw a change, and a
// SPIFFE ID the new configuration no longer allows (tls.spiffe.allow)
// kept being admitted. Every file is now stamped before it is read, and
// the watcher loads the new configuration.
func TestAttackReloadConfigSwappedWhileRead(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	cfg, _ := os.ReadFile(cfgPath)
	vol := &k8sVolume{t: t, dir: h.dir}
	for _, name := range []string{"proxy.yaml", "policies.yaml"} {
		if err := os.Remove(filepath.Join(h.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	vol.update(map[string][]byte{"proxy.yaml": cfg, "policies.yaml": []byte(policies)})
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	allowed := func() bool {
		req, _ := http.NewRequest("GET", h.url+"/api/items", nil)
		req.Header.Set("X-Client", fmt.Sprint(time.Now().UnixNano())) // the harness's rate limit key
		resp, err := h.client("web").Do(req)
		if err != nil {
			return false // the handshake refused the peer
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !allowed() {
		t.Fatal("web refused before the update")
	}
	revoked := strings.Replace(string(cfg), `allow: ["spiffe://example.org/ns/shop/**"]`, `allow: ["spiffe://example.org/ns/shop/sa/batch"]`, 1)
	if revoked == string(cfg) {
		t.Fatal("configuration lacks the allow list")
	}
	// The update lands while a reload reads the configuration.
	defer func(f func(string) (*Config, error)) { loadConfig = f }(loadConfig)
	loadConfig = func(path string) (*Config, error) {
		c, err := LoadConfig(path)
		vol.update(map[string][]byte{"proxy.yaml": []byte(revoked), "policies.yaml": []byte(policies + "---\n# updated\n")})
		return c, err
	}
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	loadConfig = LoadConfig

	defer func(d time.Duration) { settleDelay = d }(settleDelay)
	settleDelay = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		h.srv.Watch(ctx, 50*time.Millisecond)
	}()
	defer func() { cancel(); <-watching }()
	deadline := time.Now().Add(5 * time.Second)
	for allowed() {
		if time.Now().After(deadline) {
			t.Fatal("5 s after the update, the SPIFFE ID its configuration no longer allows is still admitted")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAttackTunnelOutlivesMaxConnectionAge: timeouts.maxConnectionAge
// closed idle connections and busy ones after their response, but a
// WebSocket tunnel (its response was the 101) never: a client kept its
// connection, and the handshake that admitted it, for as long as it
// liked past the bound. A tunnel is now closed once its connection is
// that old.
func TestAttackTunnelOutlivesMaxConnectionAge(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), extra: "timeouts: {maxConnectionAge: 500ms}\n"})
	conn := openTunnel(t, h, u, "web", "/api/ws", "ws", "hello")
	start := time.Now()
	closed := false
	for i := 0; time.Since(start) < 5*time.Second; i++ {
		if _, err := fmt.Fprintf(conn, "ping-%d;", i); err != nil {
			closed = true
			break
		}
		if closedWithin(conn, 100*time.Millisecond) {
			closed = true
			break
		}
	}
	if !closed {
		t.Errorf("a busy WebSocket tunnel is still open %v after it opened, with maxConnectionAge 500ms", time.Since(start).Round(time.Second))
	}
}

// TestAttackReloadResetsForgedTokenGate: with a limit keyed by subject,
// the requests whose token the JWT check refuses are charged to their
// client address (TestAttackForgedTokenFlood). A reload kept the limit's
// own counts (TestAttackReloadResetsRateLimit) but built that gate anew:
// every reload (any watched file that changed) gave a client flooding
// forged tokens a fresh burst of signature verifications. The gate's
// counts now carry over a reload that keeps the limit's settings.
func TestAttackReloadResetsForgedTokenGate(t *testing.T) {
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := newRawUpstream(t)
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra:   "clientIP: {trustedProxies: [127.0.0.0/8]}\njwt: {issuers: [{issuer: https://id.test, anyAudience: true, algorithms: [ES256], jwksFile: jwks.json}]}\n",
		replace: []string{`rateLimit: {rate: 1, burst: 2, key: "header:X-Client"}`, "rateLimit: {rate: 0.01, burst: 3, key: subject}"}})
	now := time.Now().Unix()
	forged := func(i int) int {
		tok := signRaw(t, forger, "k1", map[string]any{"iss": "https://id.test", "sub": "alice", "exp": now + 3600, "jti": fmt.Sprint(i)}, nil)
		resp, got := sendRaw(t, h, u, "web", "GET", "/api/items", "Authorization", "Bearer "+tok, "X-Forwarded-For", "192.0.2.7")
		if len(got) != 0 {
			t.Fatalf("forged token %d reached the upstream", i)
		}
		return status(resp)
	}
	for i := range 4 {
		if got, want := forged(i), []int{401, 401, 401, 429}[i]; got != want {
			t.Fatalf("forged token %d: %d, want %d", i, got, want)
		}
	}
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), "maxBodyBytes: 1024", "maxBodyBytes: 2048", 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 7; i++ {
		if got := forged(i); got != 429 {
			t.Errorf("forged token %d, after a reload that kept the rate limit: %d, want 429", i, got)
		}
	}
}

// TestAttackRotationUnloadableSilent: the listener's SVID, key and trust
// bundle are re-read when their files change; a rotation whose files do
// not load keeps the previous ones, so that a half-written file never
// takes the listener down. But nothing said so: a bundle rotated to
// remove a compromised CA, written wrong, left that CA trusted with
// /readyz answering 200 and no log line. /readyz now fails (503, with an
// ERROR line naming the cause) while the files on disk do not load, and
// recovers when they do.
func TestAttackRotationUnloadableSilent(t *testing.T) {
	u := newRawUpstream(t)
	var logBuf testenv.SyncBuffer
	h := startWith(t, setup{upstream: u.URL(), log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if code := adminStatus(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before the rotation: %d", code)
	}
	bundlePath := filepath.Join(h.dir, "bundle.pem")
	good, _ := os.ReadFile(bundlePath)
	writeFile(t, bundlePath, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"))
	ready := func(want int) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if adminStatus(t, h, "/readyz") == want {
				return true
			}
		}
		return false
	}
	if !ready(http.StatusServiceUnavailable) {
		t.Error("/readyz answers 200 while the trust bundle file does not load (the previous bundle is in use)")
	}
	if !strings.Contains(logBuf.String(), "not ready") || !strings.Contains(logBuf.String(), "spiffeauth") {
		t.Errorf("no log line naming the cause:\n%s", logBuf.String())
	}
	writeFile(t, bundlePath, append(good, '\n'))
	if !ready(http.StatusOK) {
		t.Error("/readyz does not recover once the bundle file loads again")
	}

	// The upstream's own SVID files (upstream.spiffe), read by a route's
	// checks, were not looked at either.
	for _, f := range []string{"api.pem", "api-key.pem", "bundle.pem"} {
		b, _ := os.ReadFile(filepath.Join(h.dir, f))
		writeFile(t, filepath.Join(h.dir, "up-"+f), b)
	}
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	cfg, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(cfg), "upstream:\n  url: ",
		"upstream:\n  spiffe: {svid: up-api.pem, key: up-api-key.pem, bundle: up-bundle.pem, allow: [\"spiffe://example.org/ns/data/sa/db\"]}\n  url: https://127.0.0.1:1 #", 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if !ready(http.StatusOK) {
		t.Fatal("/readyz with upstream.spiffe files that load")
	}
	writeFile(t, filepath.Join(h.dir, "up-bundle.pem"), []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"))
	if !ready(http.StatusServiceUnavailable) {
		t.Error("/readyz answers 200 while upstream.spiffe's bundle file does not load")
	}
}

// TestAttackTunnelOutlivesToken: a WebSocket tunnel opened with a bearer
// token was checked once, at the upgrade, and relayed for as long as its
// client kept it busy, long after the token had expired (only a reload
// checked it again): a token meant to last minutes bought a connection
// for good. A tunnel is now closed once its token has expired (with the
// JWT check's clock skew), as one whose peer's SVID expired is; one
// opened without a token is not affected.
func TestAttackTunnelOutlivesToken(t *testing.T) {
	t.Cleanup(func() { tokenClockAhead.Store(0) })
	iss := newJWTIssuer(t)
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL(), files: map[string][]byte{"jwks.json": iss.jwks},
		extra: "jwt: {issuers: [{issuer: https://id.test, audiences: [shop], algorithms: [ES256], jwksFile: jwks.json}]}\n"})
	withToken := openTunnel(t, h, u, "web", "/api/ws", "token", "hello-token", "Authorization", "Bearer "+iss.token(t, "alice")) // expires in 1 h
	anon := openTunnel(t, h, u, "web", "/api/ws", "anon", "hello-anon")
	tokenClockAhead.Store(int64(2 * time.Hour))
	if !closedWithin(withToken, 3*time.Second) {
		t.Error("the tunnel of an expired bearer token is still open")
	}
	// The close_notify that ends the client's reads goes out just before
	// the socket closes: bytes sent in between could still be read.
	time.Sleep(100 * time.Millisecond)
	if cutRelayed, keptRelayed := relayedAfter(u, withToken, anon); cutRelayed || !keptRelayed {
		t.Errorf("after the token expired: the token's tunnel relayed %v, the anonymous one %v; want false, true", cutRelayed, keptRelayed)
	}
}

// closedWithin reports whether the proxy closes conn within d: reads
// until an error other than the deadline, discarding what comes.
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			return !isTimeout(err)
		}
	}
}

// TestAttackReloadMovesUpstream: a reload that sends a route's requests
// to another upstream (the old one decommissioned, or no longer trusted:
// another URL or CA) re-checked open tunnels against the new policies
// only, and a tunnel the policies still allowed went on relaying to the
// old upstream for as long as its client liked. A tunnel is now closed
// when the reloaded configuration would forward its request elsewhere.
func TestAttackReloadMovesUpstream(t *testing.T) {
	oldUp, newUp := newRawUpstream(t), newRawUpstream(t)
	h := startWith(t, setup{upstream: oldUp.URL()})
	conn := openTunnel(t, h, oldUp, "web", "/api/ws", "ws", "hello")
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), oldUp.URL(), newUp.URL(), 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(conn, 2*time.Second) {
		t.Error("a tunnel to the upstream the reloaded configuration no longer forwards to is still open")
	}
	_, _ = io.WriteString(conn, "after-reload")
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(oldUp.received(), "after-reload") {
		t.Error("bytes sent into the tunnel after the reload reached the old upstream")
	}
	// New requests go to the new upstream.
	if resp, got := sendRaw(t, h, newUp, "web", "GET", "/api/items"); status(resp) != 200 || len(got) != 1 {
		t.Errorf("after the reload: %d, the new upstream received %d", status(resp), len(got))
	}
}

// TestAttackReloadSpecialFiles: a file the configuration names replaced
// by a named pipe, a symbolic link to /dev/zero or a huge file (a
// mistaken mount, a ConfigMap key pointed at the wrong thing). The
// reload read it with os.ReadFile: a named pipe blocked it forever,
// under the lock every later reload waits for, and the watcher with it,
// so that no change applied again, a stricter policy written a moment
// later included; /dev/zero and a huge file were read until memory ran
// out. Each is now refused at once, naming the file, and the running
// configuration stays; the next good file applies.
func TestAttackReloadSpecialFiles(t *testing.T) {
	u := newRawUpstream(t)
	h := startWith(t, setup{upstream: u.URL()})
	defer func(d time.Duration) { settleDelay = d }(settleDelay)
	settleDelay = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		h.srv.Watch(ctx, 50*time.Millisecond)
	}()
	cfgPath, polPath := filepath.Join(h.dir, "proxy.yaml"), filepath.Join(h.dir, "policies.yaml")
	fifo := filepath.Join(h.dir, "fifo")
	unblock := testenv.FIFO(t, fifo)
	defer func() {
		// Unblock what still waits to open the pipe (the old code),
		// then stop the watcher.
		unblock()
		cancel()
		<-watching
	}()
	// swap puts a file in path's place by a rename, as a ConfigMap
	// update does.
	swap := func(path string, create func(tmp string) error) {
		t.Helper()
		tmp := path + ".new"
		if err := create(tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	reload := func(what string, want error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- h.srv.Reload() }()
		select {
		case err := <-done:
			if !errors.Is(err, want) || !strings.Contains(err.Error(), h.dir) {
				t.Errorf("%s: reload: %v, want an error naming the file, matching %v", what, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: reload still blocked after 5 s", what)
		}
	}
	apiStatus := func() int {
		resp, _ := sendRaw(t, h, u, "web", "GET", "/api/items")
		return status(resp)
	}
	if got := apiStatus(); got != 200 {
		t.Fatalf("GET /api/items before: %d", got)
	}

	swap(polPath, func(tmp string) error { return os.Link(fifo, tmp) })
	reload("policies file a named pipe", regfile.ErrNotRegular)
	time.Sleep(300 * time.Millisecond) // the watcher has seen the pipe
	stricter := strings.Replace(policies, `paths: ["/api/*", "/admin"]`, `paths: ["/admin"]`, 1)
	swap(polPath, func(tmp string) error { return os.WriteFile(tmp, []byte(stricter), 0o600) })
	deadline := time.Now().Add(5 * time.Second)
	for apiStatus() != 403 {
		if time.Now().After(deadline) {
			t.Fatal("a stricter policies file written after a named pipe was not applied within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	swap(polPath, func(tmp string) error {
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(regfile.MaxSize + 1) // sparse: costs no disk
	})
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	reload("policies file of 16 MiB and a byte", regfile.ErrTooLarge)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > regfile.MaxSize/2 {
		t.Errorf("refusing a huge policies file allocated %d bytes", grew)
	}
	swap(polPath, func(tmp string) error { return os.Symlink("/dev/zero", tmp) })
	reload("policies file a link to /dev/zero", regfile.ErrNotRegular)
	good, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	swap(cfgPath, func(tmp string) error { return os.Symlink("/dev/zero", tmp) })
	reload("configuration a link to /dev/zero", regfile.ErrNotRegular)
	if got := apiStatus(); got != 403 {
		t.Errorf("GET /api/items after the refused reloads: %d, want 403 (the stricter policy stays)", got)
	}
	swap(cfgPath, func(tmp string) error { return os.WriteFile(tmp, good, 0o600) })
	swap(polPath, func(tmp string) error { return os.WriteFile(tmp, []byte(policies), 0o600) })
	if err := h.srv.Reload(); err != nil {
		t.Errorf("good files again: %v", err)
	}
}

// testCA is a CA for an https upstream on loopback.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// newTLSRawUpstream is a rawUpstream serving TLS on 127.0.0.1 with a
// certificate ca issued; it returns it and its https URL.
func newTLSRawUpstream(t *testing.T, ca testCA) (*rawUpstream, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "upstream"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	u := &rawUpstream{ln: tln, answered: make(chan struct{}, 1000)}
	serveConns(t, tln, u.serve)
	return u, "https://" + ln.Addr().String()
}

// TestAttackReloadUpstreamCA: a reload that changed upstream.ca's
// content closed the upstream's WebSocket tunnels even when CAs were
// only added: a trust bundle rotation adding the next CA ahead of time
// closed every tunnel (and taught operators to avoid rotations). A
// tunnel is now kept when the new CA set holds every CA of the old one;
// it is closed when a CA it could have been verified with is removed or
// replaced, as when the upstream moves (TestAttackReloadMovesUpstream).
func TestAttackReloadUpstreamCA(t *testing.T) {
	ca1, ca2 := newTestCA(t, "ca-1"), newTestCA(t, "ca-2")
	both := append(append([]byte{}, ca1.pem...), ca2.pem...)
	for _, tc := range []struct {
		name          string
		before, after []byte
		kept          bool
	}{
		{"CA added", ca1.pem, both, true},
		{"CA added, order changed", ca1.pem, append(append([]byte{}, ca2.pem...), ca1.pem...), true},
		{"same CA rewritten", ca1.pem, ca1.pem, true},
		{"CA removed", both, ca1.pem, false},
		{"CA replaced", ca1.pem, ca2.pem, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, url := newTLSRawUpstream(t, ca1)
			h := startWith(t, setup{upstream: url, files: map[string][]byte{"up-ca.pem": tc.before},
				replace: []string{"upstream:\n  url: ", "upstream:\n  ca: up-ca.pem\n  url: "}})
			conn := openTunnel(t, h, u, "web", "/api/ws", "ws", "hello")
			writeFile(t, filepath.Join(h.dir, "up-ca.pem"), tc.after)
			if err := h.srv.Reload(); err != nil {
				t.Fatal(err)
			}
			tunnelAfterTrustChange(t, conn, u.received, tc.kept, 2*time.Second)
		})
	}
}

// TestAttackReloadSPIFFEUpstreamBundle: the subset rule of
// TestAttackReloadUpstreamCA, for an upstream verified with SPIFFE
// (upstream.spiffe). Its trust bundle was not looked at: a rotation
// removing a compromised CA from the bundle file, which the file source
// reloads by itself, or a reload, left the WebSocket tunnels to the
// upstream verified by that CA running. A tunnel is now closed when a
// CA of the bundle it was opened with is removed or replaced, within
// seconds of the file changing or at the reload; one only added keeps
// it. The upstream is a real TLS server on loopback presenting an SVID,
// the proxy presenting its own.
func TestAttackReloadSPIFFEUpstreamBundle(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca2, err := spiffeauth.NewDevCA(td, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"file", "reload"} {
		for _, tc := range []struct {
			name          string
			before, after string // "1": the harness's CA, which issued the upstream's SVID; "2": another
			kept          bool
		}{
			{"CA added", "1", "12", true},
			{"same CA rewritten", "1", "1", true},
			{"other CA removed", "12", "1", false},
			{"verifying CA removed", "12", "2", false},
			{"CA replaced", "1", "2", false},
		} {
			t.Run(how+" "+tc.name, func(t *testing.T) {
				h := start(t)
				bundle := func(which string) []byte {
					var cas []*x509.Certificate
					for _, c := range which {
						ca := h.bundle
						if c == '2' {
							ca = ca2
						}
						cas = append(cas, ca.Bundle().X509Authorities()...)
					}
					b, err := x509bundle.FromX509Authorities(td, cas).Marshal()
					if err != nil {
						t.Fatal(err)
					}
					return b
				}
				// The upstream: the db SVID, admitting the proxy's api SVID.
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				cfg := spiffeauth.ServerConfig(tlsconf.Intermediate, h.svids["db"], h.bundle.Bundle(),
					spiffeauth.AllowPatterns(spiffeauth.MustParsePattern("spiffe://example.org/ns/shop/sa/api")))
				cfg.NextProtos = []string{"http/1.1"}
				tln := tls.NewListener(ln, cfg)
				tu := &rawUpstream{ln: tln, answered: make(chan struct{}, 1000)}
				serveConns(t, tln, tu.serve)
				up := filepath.Join(h.dir, "up-bundle.pem")
				writeFile(t, up, bundle(tc.before))
				cfgPath := filepath.Join(h.dir, "proxy.yaml")
				base, _ := os.ReadFile(cfgPath)
				writeFile(t, cfgPath, []byte(strings.Replace(string(base), "upstream:\n  url: ",
					"upstream:\n  spiffe: {svid: api.pem, key: api-key.pem, bundle: up-bundle.pem, allow: [\"spiffe://example.org/ns/data/sa/db\"]}\n  url: https://"+ln.Addr().String()+" #", 1)))
				if err := h.srv.Reload(); err != nil {
					t.Fatal(err)
				}
				conn := openTunnel(t, h, tu, "web", "/api/ws", "ws", "hello")
				time.Sleep(1100 * time.Millisecond) // the file source looks at its files at most every second
				writeFile(t, up, bundle(tc.after))
				if how == "reload" {
					if err := h.srv.Reload(); err != nil {
						t.Fatal(err)
					}
				}
				if tc.kept {
					time.Sleep(1500 * time.Millisecond) // past the file source's next look
				}
				tunnelAfterTrustChange(t, conn, tu.received, tc.kept, 4*time.Second)
			})
		}
	}
}

// tunnelAfterTrustChange checks a tunnel after a change of the CAs its
// upstream is verified with: kept, bytes sent into it reach the upstream
// (received); not kept, it is closed within wait and bytes sent after
// the close never reach the upstream.
func tunnelAfterTrustChange(t *testing.T, conn net.Conn, received func() string, kept bool, wait time.Duration) {
	t.Helper()
	const marker = "after-change"
	if kept {
		_, _ = io.WriteString(conn, marker)
		for deadline := time.Now().Add(2 * time.Second); !strings.Contains(received(), marker) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(received(), marker) {
			t.Error("a change that kept every CA closed the tunnel to the upstream")
		}
		return
	}
	if !closedWithin(conn, wait) {
		t.Error("a tunnel to an upstream verified with a CA no longer trusted is still open")
	}
	_, _ = io.WriteString(conn, marker)
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(received(), marker) {
		t.Errorf("bytes sent into the tunnel after the change reached the upstream: %q", received())
	}
}
