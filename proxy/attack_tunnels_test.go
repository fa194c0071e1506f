package proxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"

	"github.com/wardsec/ward/guard/spiffeauth"
	"github.com/wardsec/ward/guard/tlsconf"
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
			// The relay's end closes the upstream connection: once the
			// upstream has read to its end, it has every byte relayed.
			for deadline := time.Now().Add(3 * time.Second); u.tunnelsEnded() == 0; {
				if time.Now().After(deadline) {
					t.Fatal("the tunnel's upstream connection is still open after the cut")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if strings.Contains(u.received(), "after-cut") {
				t.Error("bytes sent after the cut reached the upstream")
			}
		})
	}
}

// pushWorkloadAPI serves an SVID over the SPIFFE Workload API as a SPIRE
// agent would, and sends each rotation (push) on the open streams.
type pushWorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	mu      sync.Mutex
	resp    *workload.X509SVIDResponse
	changed chan struct{} // closed when resp changes
}

func (f *pushWorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	for {
		f.mu.Lock()
		resp, changed := f.resp, f.changed
		f.mu.Unlock()
		if err := stream.Send(resp); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-changed:
		}
	}
}

// push sends svid with the trust bundle of the CAs bundle, and the
// bundles of the federated trust domains (by their spiffe:// names).
func (f *pushWorkloadAPI) push(t *testing.T, svid *x509svid.SVID, bundle []*x509.Certificate, federated map[string][]*x509.Certificate) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(svid.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var chain, roots []byte
	for _, c := range svid.Certificates {
		chain = append(chain, c.Raw...)
	}
	for _, c := range bundle {
		roots = append(roots, c.Raw...)
	}
	fed := map[string][]byte{}
	for td, cas := range federated {
		for _, c := range cas {
			fed[td] = append(fed[td], c.Raw...)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resp = &workload.X509SVIDResponse{Svids: []*workload.X509SVID{{SpiffeId: svid.ID.String(), X509Svid: chain, X509SvidKey: key, Bundle: roots}}, FederatedBundles: fed}
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

// servePushWorkloadAPI starts a pushWorkloadAPI with svid and bundle, and
// returns it and its address.
func servePushWorkloadAPI(t *testing.T, svid *x509svid.SVID, bundle []*x509.Certificate) (*pushWorkloadAPI, string) {
	t.Helper()
	f := &pushWorkloadAPI{}
	f.push(t, svid, bundle, nil)
	dir, err := os.MkdirTemp("", "wapi") // short: unix socket paths are limited to about 100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f, "unix://" + sock
}

// TestAttackWorkloadAPIUpstreamBundle: TestAttackReloadSPIFFEUpstreamBundle
// for an upstream.spiffe whose trust bundle comes from the Workload API
// (a SPIRE agent's socket) rather than a file: a bundle update that
// drops or replaces the CA that verified an open tunnel's upstream
// closes the tunnel, without a reload; one that only adds a CA keeps
// it. (The upstream's own trust domain is federated in
// TestAttackWorkloadAPIFederationDropped.)
func TestAttackWorkloadAPIUpstreamBundle(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca2, err := spiffeauth.NewDevCA(td, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		before, after string // "1": the harness's CA, which issued the upstream's SVID; "2": another
		kept          bool
	}{
		{"CA added", "1", "12", true},
		{"same bundle sent again", "1", "1", true},
		{"other CA removed", "12", "1", false},
		{"verifying CA removed", "12", "2", false},
		{"CA replaced", "1", "2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t)
			cas := func(which string) []*x509.Certificate {
				var out []*x509.Certificate
				for _, c := range which {
					ca := h.bundle
					if c == '2' {
						ca = ca2
					}
					out = append(out, ca.Bundle().X509Authorities()...)
				}
				return out
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
			agent, addr := servePushWorkloadAPI(t, h.svids["api"], cas(tc.before))
			cfgPath := filepath.Join(h.dir, "proxy.yaml")
			base, _ := os.ReadFile(cfgPath)
			writeFile(t, cfgPath, []byte(strings.Replace(string(base), "upstream:\n  url: ",
				fmt.Sprintf("upstream:\n  spiffe: {socket: %q, allow: [\"spiffe://example.org/ns/data/sa/db\"]}\n  url: https://%s #", addr, ln.Addr()), 1)))
			if err := h.srv.Reload(); err != nil {
				t.Fatal(err)
			}
			conn := openTunnel(t, h, tu, "web", "/api/ws", "ws", "hello")
			agent.push(t, h.svids["api"], cas(tc.after), nil)
			if tc.kept {
				// Not a sleep: the tunnel must have been judged under
				// the new bundle before "kept" can be said.
				awaitTunnelTrust(t, h, cas(tc.after))
			}
			tunnelAfterTrustChange(t, conn, tu.received, tc.kept, 3*time.Second)
		})
	}
}

// TestAttackWorkloadAPIFederationDropped: an upstream in another trust
// domain, verified with that domain's federated bundle from the Workload
// API. An update that drops the federation (the agent no longer sends
// that trust domain's bundle: no CA of it is trusted, and a new
// connection to the upstream fails its handshake) left the open tunnels
// relaying: the reaper took a trust domain without a bundle for a
// source closed by a reload, and left the tunnel to the next reload.
// They are now closed within the reaper's next look.
func TestAttackWorkloadAPIFederationDropped(t *testing.T) {
	h := start(t)
	otherTD := spiffeid.RequireTrustDomainFromString("other.org")
	otherCA, err := spiffeauth.NewDevCA(otherTD, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	db, err := otherCA.Issue(spiffeid.RequireFromPath(otherTD, "/ns/data/sa/db"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := spiffeauth.ServerConfig(tlsconf.Intermediate, db, h.bundle.Bundle(),
		spiffeauth.AllowPatterns(spiffeauth.MustParsePattern("spiffe://example.org/ns/shop/sa/api")))
	cfg.NextProtos = []string{"http/1.1"}
	tln := tls.NewListener(ln, cfg)
	tu := &rawUpstream{ln: tln, answered: make(chan struct{}, 1000)}
	serveConns(t, tln, tu.serve)
	own := h.bundle.Bundle().X509Authorities()
	agent, addr := servePushWorkloadAPI(t, h.svids["api"], own)
	agent.push(t, h.svids["api"], own, map[string][]*x509.Certificate{"spiffe://other.org": otherCA.Bundle().X509Authorities()})
	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	base, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(base), "upstream:\n  url: ",
		fmt.Sprintf("upstream:\n  spiffe: {socket: %q, allow: [\"spiffe://other.org/ns/data/sa/db\"]}\n  url: https://%s #", addr, ln.Addr()), 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	conn := openTunnel(t, h, tu, "web", "/api/ws", "ws", "hello")
	agent.push(t, h.svids["api"], own, nil)
	tunnelAfterTrustChange(t, conn, tu.received, false, 3*time.Second)
}

// TestAttackStreamOutlivesMaxConnectionAge: TestAttackTunnelOutlivesMaxConnectionAge
// for a long request (server-sent events on a route without a timeout):
// timeouts.maxConnectionAge closed a busy connection after its
// response, and a stream's response never ends, so the connection, and
// the handshake that admitted it, lasted for as long as the upstream
// streamed. The stream is now ended once its connection is that old,
// with the outcome saying so in its audit record.
func TestAttackStreamOutlivesMaxConnectionAge(t *testing.T) {
	h := startWith(t, setup{upstream: sseUpstream(t), replace: []string{"\nworkload:", "\n  timeout: 0s\nworkload:"}, extra: "timeouts: {maxConnectionAge: 500ms}\n"})
	br := openStream(t, h, "/api/events", "s")
	if !streamEnds(br, 3*time.Second) {
		t.Fatal("a stream is still going 3 s after it started, with maxConnectionAge 500ms")
	}
	auditHas(t, h, `"path":"/api/events","status":200`, `"outcome":"connection over maxConnectionAge"`)
}

// TestAttackStreamOutlivesToken: TestAttackTunnelOutlivesToken for a
// long request: a stream of server-sent events opened with a bearer
// token went on after the token expired, until a reload checked it
// again. It is now ended once its token has expired (with the JWT
// check's clock skew), with the outcome saying so; a stream opened
// without a token goes on.
func TestAttackStreamOutlivesToken(t *testing.T) {
	t.Cleanup(func() { tokenClockAhead.Store(0) })
	iss := newJWTIssuer(t)
	h := startWith(t, setup{upstream: sseUpstream(t), files: map[string][]byte{"jwks.json": iss.jwks},
		replace: []string{"\nworkload:", "\n  timeout: 0s\nworkload:"},
		extra:   "jwt: {issuers: [{issuer: https://id.test, audiences: [shop], algorithms: [ES256], jwksFile: jwks.json}]}\n"})
	withToken := openStream(t, h, "/api/events", "token", "Authorization", "Bearer "+iss.token(t, "alice")) // expires in 1 h
	anon := openStream(t, h, "/api/events", "anon")
	tokenClockAhead.Store(int64(2 * time.Hour))
	if !streamEnds(withToken, 3*time.Second) {
		t.Error("the stream of an expired bearer token is still going")
	}
	if streamEnds(anon, 500*time.Millisecond) {
		t.Error("the stream of a request without a token ended")
	}
	auditHas(t, h, `"outcome":"bearer token expired"`)
}

// sseUpstream is an upstream that streams server-sent events until the
// request ends.
func sseUpstream(t *testing.T) string {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	return up.URL
}

// openStream sends GET path as web (with the header fields hdr) and
// returns the stream once its response head has come.
func openStream(t *testing.T, h *harness, path, client string, hdr ...string) *bufio.Reader {
	t.Helper()
	conn := h.dial(t, "web")
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fields := ""
	for i := 0; i+1 < len(hdr); i += 2 {
		fields += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: api\r\nX-Client: "+client+"\r\n"+fields+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream %s: %v %v", path, resp, err)
	}
	return br
}

// streamEnds reports whether the stream br ends within d.
func streamEnds(br *bufio.Reader, d time.Duration) bool {
	for start := time.Now(); time.Since(start) < d; {
		if _, err := br.ReadString('\n'); err != nil {
			return true
		}
	}
	return false
}

// auditHas waits (up to 5 s) for the audit log to hold every string of
// want.
func auditHas(t *testing.T, h *harness, want ...string) {
	t.Helper()
	has := func() bool {
		for _, w := range want {
			if !strings.Contains(h.audit.String(), w) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); !has() && time.Now().Before(deadline); {
		_ = h.srv.auditBuf.Flush()
		time.Sleep(20 * time.Millisecond)
	}
	if !has() {
		t.Errorf("audit: want %q in:\n%s", want, h.audit.String())
	}
}

// TestAttackReloadWhileUpgradeChecked: a reload re-checks the request of
// every open tunnel, including one whose request is still in the old
// configuration's checks (a JWT key fetch it waits for, say): not yet
// forwarded, its upstream unknown, it passed the re-check on its
// policies alone, then went on to the upstream the old configuration
// named, one the reload had just moved away from or stopped trusting,
// and relayed there until the next reload. Such a request is now refused
// (503, rule reload) when it reaches the upstream step: the client
// retries on the reloaded configuration. The request is held between
// its registration as a tunnel and its upstream step by running the two
// halves of Server.ServeHTTP by hand around the reload.
func TestAttackReloadWhileUpgradeChecked(t *testing.T) {
	oldUp, newUp := newRawUpstream(t), newRawUpstream(t)
	// Without TLS: the request below was never through a handshake.
	h := startWith(t, setup{upstream: oldUp.URL(), policies: allowAPI,
		replace: []string{"tls:\n  profile: intermediate\n  spiffe:\n    svid: api.pem\n    key: api-key.pem\n    bundle: bundle.pem\n    allow: [\"spiffe://example.org/ns/shop/**\"]\n", ""}})
	old := h.srv.cur.Load()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	r := httptest.NewRequest("GET", "http://api/api/ws", nil)
	r.RemoteAddr = "127.0.0.1:1234"
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("X-Client", "held")
	fwd := new(forwarded)
	ctx := context.WithValue(h.srv.conns.connContext(context.Background(), server), forwardedKey{}, fwd)
	r = r.WithContext(ctx)
	defer h.srv.conns.tunnel(r, fwd)()

	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), oldUp.URL(), newUp.URL(), 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	old.Handler().ServeHTTP(rec, r)
	if got := oldUp.received(); got != "" {
		t.Errorf("an upgrade request checked across a reload that moved the upstream reached the old upstream (%d):\n%s", rec.Code, got)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
}

// allowAPI allows every request to /api/*, from anyone.
const allowAPI = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {paths: ["/api/*"]}}]}]
`

// TestAttackReloadWhileStreamChecked: TestAttackReloadWhileUpgradeChecked
// for a long request (a route without a timeout: server-sent events). A
// long request is tracked from its upstream step on; one still in the
// old configuration's checks when a reload came was not re-checked at
// all, and streamed from the upstream the reload had moved away from for
// as long as that upstream liked. It is now refused (503, rule reload)
// at the upstream step.
func TestAttackReloadWhileStreamChecked(t *testing.T) {
	oldUp, newUp := newRawUpstream(t), newRawUpstream(t)
	h := startWith(t, setup{upstream: oldUp.URL(), policies: allowAPI,
		replace: []string{"tls:\n  profile: intermediate\n  spiffe:\n    svid: api.pem\n    key: api-key.pem\n    bundle: bundle.pem\n    allow: [\"spiffe://example.org/ns/shop/**\"]\n", "",
			"\nworkload:", "\n  timeout: 0s\nworkload:"}})
	old := h.srv.cur.Load()
	_, server := net.Pipe()
	t.Cleanup(func() { server.Close() })
	r := httptest.NewRequest("GET", "http://api/api/events", nil)
	r.RemoteAddr = "127.0.0.1:1234"
	r.Header.Set("X-Client", "held")
	r = r.WithContext(h.srv.conns.connContext(context.Background(), server))

	cfgPath := filepath.Join(h.dir, "proxy.yaml")
	data, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, []byte(strings.Replace(string(data), oldUp.URL(), newUp.URL(), 1)))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	old.Handler().ServeHTTP(rec, r)
	if got := oldUp.received(); got != "" {
		t.Errorf("a long request checked across a reload that moved the upstream reached the old upstream (%d):\n%s", rec.Code, got)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
}

// awaitTunnelTrust waits until the trust bundle source of h's open
// tunnel holds exactly the authorities want, and then for two more looks
// of the reaper, so that a test saying a tunnel was kept across a bundle
// update knows the update was seen and judged.
func awaitTunnelTrust(t *testing.T, h *harness, want []*x509.Certificate) {
	t.Helper()
	sums := map[[sha256.Size]byte]struct{}{}
	for _, ca := range want {
		sums[sha256.Sum256(ca.Raw)] = struct{}{}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var trust *spiffeTrust
		h.srv.conns.mu.Lock()
		for _, ti := range h.srv.conns.tunnels {
			if ref := ti.fwd.upstream.Load(); ref != nil && ref.spiffe != nil {
				trust = ref.spiffe
			}
		}
		h.srv.conns.mu.Unlock()
		if trust != nil {
			if got, err := trust.roots(); err == nil && maps.Equal(got, sums) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the tunnel's trust bundle source never reported the pushed bundle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for n := h.srv.conns.reaps.Load() + 2; h.srv.conns.reaps.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatal("the reaper did not look at the tunnels after the bundle update")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
