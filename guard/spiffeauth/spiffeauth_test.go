package spiffeauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/wardsec/ward/guard/tlsconf"
	"github.com/wardsec/ward/internal/regfile"
	"github.com/wardsec/ward/internal/testenv"
)

func TestPattern(t *testing.T) {
	tests := []struct {
		pattern, id string
		want        bool
	}{
		{"spiffe://example.org/ns/shop/sa/web", "spiffe://example.org/ns/shop/sa/web", true},
		{"spiffe://example.org/ns/shop/sa/web", "spiffe://example.org/ns/shop/sa/api", false},
		{"spiffe://example.org/ns/shop/sa/web", "spiffe://other.org/ns/shop/sa/web", false},
		{"spiffe://example.org/ns/*/sa/web", "spiffe://example.org/ns/shop/sa/web", true},
		{"spiffe://example.org/ns/*/sa/web", "spiffe://example.org/ns/a/b/sa/web", false},
		{"spiffe://example.org/ns/shop/**", "spiffe://example.org/ns/shop/sa/web", true},
		{"spiffe://example.org/ns/shop/**", "spiffe://example.org/ns/shop", false},
		{"spiffe://example.org/ns/shop/**", "spiffe://example.org/ns/shopping/sa/web", false},
		{"spiffe://example.org/**", "spiffe://example.org/anything", true},
		{"spiffe://example.org", "spiffe://example.org", true},
		{"spiffe://example.org", "spiffe://example.org/x", false},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		id := spiffeid.RequireFromString(tt.id)
		if got := p.Match(id); got != tt.want {
			t.Errorf("%s.Match(%s) = %v, want %v", tt.pattern, tt.id, got, tt.want)
		}
	}
	for _, bad := range []string{"example.org/x", "spiffe://Ex ample/x", "spiffe://example.org/a/**/b", "spiffe://example.org/a*", "spiffe://example.org//x"} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) succeeded", bad)
		}
	}
}

type fixture struct {
	ca                     *DevCA
	server, alice, mallory *x509svid.SVID
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	td := spiffeid.RequireTrustDomainFromString("example.org")
	ca, err := NewDevCA(td, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ca: ca}
	for _, x := range []struct {
		p  **x509svid.SVID
		id string
	}{{&f.server, "/ns/shop/sa/api"}, {&f.alice, "/ns/shop/sa/web"}, {&f.mallory, "/ns/other/sa/web"}} {
		s, err := ca.Issue(spiffeid.RequireFromPath(td, x.id), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		*x.p = s
	}
	return f
}

// serve starts an HTTPS server with exactly cfg (httptest's StartTLS
// would add its own certificate) that answers the caller's ID, and
// returns its URL.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := FromContext(r.Context())
		fmt.Fprint(w, id)
	})))
	srv.Listener = tls.NewListener(srv.Listener, cfg)
	srv.Start()
	t.Cleanup(srv.Close)
	return "https://" + srv.Listener.Addr().String()
}

// get makes a request on a new connection and reports the answer and
// whether the TLS session was resumed.
func get(url string, cfg *tls.Config) (string, bool, error) {
	var resumed bool
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.TLS != nil {
		resumed = resp.TLS.DidResume
	}
	return string(b), resumed, err
}

func TestMTLS(t *testing.T) {
	f := newFixture(t)
	authz := AllowPatterns(MustParsePattern("spiffe://example.org/ns/shop/**"))
	srv := serve(t, ServerConfig(tlsconf.Intermediate, f.server, f.ca.Bundle(), authz))
	server := AllowPatterns(MustParsePattern("spiffe://example.org/ns/shop/sa/api"))

	got, _, err := get(srv, ClientConfig(tlsconf.Intermediate, f.alice, f.ca.Bundle(), server))
	if err != nil || got != "spiffe://example.org/ns/shop/sa/web" {
		t.Errorf("alice: %q, %v", got, err)
	}
	if _, _, err := get(srv, ClientConfig(tlsconf.Intermediate, f.mallory, f.ca.Bundle(), server)); err == nil {
		t.Error("mallory (not in ns/shop) was admitted")
	}
	// A client that expects another server ID refuses this one.
	wrong := AllowPatterns(MustParsePattern("spiffe://example.org/ns/shop/sa/db"))
	if _, _, err := get(srv, ClientConfig(tlsconf.Intermediate, f.alice, f.ca.Bundle(), wrong)); err == nil {
		t.Error("client accepted a server with an unexpected ID")
	}
	// An SVID from another CA of the same trust domain is refused.
	other, err := NewDevCA(f.ca.TrustDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Issue(spiffeid.RequireFromString("spiffe://example.org/ns/shop/sa/web"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(srv, ClientConfig(tlsconf.Intermediate, forged, f.ca.Bundle(), server)); err == nil {
		t.Error("an SVID signed by an untrusted CA was admitted")
	}
}

// TestResumptionCannotBypassAuthorization: a client allowed once, then
// disallowed, is refused when it resumes its TLS session. The same
// scenario against a configuration that authorizes in
// VerifyPeerCertificate (go-spiffe's MTLSServerConfig) lets it in: the
// negative control that shows the test can fail.
func TestResumptionCannotBypassAuthorization(t *testing.T) {
	f := newFixture(t)
	var allowed atomic.Bool
	allowed.Store(true)
	authz := func(id spiffeid.ID) error {
		if allowed.Load() {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrUnauthorized, id)
	}
	run := func(t *testing.T, server *tls.Config) (resumedAfterRevocation bool, err error) {
		allowed.Store(true)
		srv := serve(t, server)
		client := ClientConfig(tlsconf.Intermediate, f.alice, f.ca.Bundle(), AllowPatterns(MustParsePattern("spiffe://example.org/**")))
		client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		if _, _, err := get(srv, client); err != nil {
			t.Fatalf("first request: %v", err)
		}
		if _, resumed, err := get(srv, client); err != nil || !resumed {
			t.Fatalf("second request: resumed=%v, %v; the test needs session resumption to work", resumed, err)
		}
		allowed.Store(false)
		_, resumed, err := get(srv, client)
		return resumed, err
	}
	t.Run("ward", func(t *testing.T) {
		if _, err := run(t, ServerConfig(tlsconf.Intermediate, f.server, f.ca.Bundle(), authz)); err == nil {
			t.Error("a disallowed client got in by resuming its session")
		}
	})
	t.Run("control: VerifyPeerCertificate only", func(t *testing.T) {
		goSpiffe := tlsconfig.MTLSServerConfig(f.server, f.ca.Bundle(), func(id spiffeid.ID, _ [][]*x509.Certificate) error { return authz(id) })
		resumed, err := run(t, goSpiffe)
		if err != nil || !resumed {
			t.Errorf("the control refused the resumed session (%v, resumed=%v): if Go now calls VerifyPeerCertificate on resumption, update this test and the package doc", err, resumed)
		}
	})
}

func TestAuthorizerError(t *testing.T) {
	err := AllowPatterns(MustParsePattern("spiffe://example.org/a"))(spiffeid.RequireFromString("spiffe://example.org/b"))
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("error %v does not wrap ErrUnauthorized", err)
	}
}

func TestFileSourceReload(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	certFile, keyFile, bundleFile := filepath.Join(dir, "svid.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "bundle.pem")
	writeSVID := func(s *x509svid.SVID, mod time.Time) {
		c, k, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.ca.Bundle().Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for file, data := range map[string][]byte{certFile: c, keyFile: k, bundleFile: b} {
			if err := os.WriteFile(file, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(file, mod, mod); err != nil {
				t.Fatal(err)
			}
		}
	}
	t0 := time.Now().Add(-time.Hour)
	writeSVID(f.alice, t0)
	src, err := NewFileSource(certFile, keyFile, bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	id := func() string {
		s, err := src.GetX509SVID()
		if err != nil {
			t.Fatal(err)
		}
		return s.ID.String()
	}
	if got := id(); got != "spiffe://example.org/ns/shop/sa/web" {
		t.Fatalf("ID %s", got)
	}
	writeSVID(f.mallory, t0.Add(time.Minute))
	src.checked.Store(0)
	if got := id(); got != "spiffe://example.org/ns/other/sa/web" {
		t.Errorf("after rotation: ID %s, want the new SVID's", got)
	}
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	src.checked.Store(0)
	if got := id(); got != "spiffe://example.org/ns/other/sa/web" || src.Err() == nil {
		t.Errorf("a broken key must keep the previous SVID and report an error: %s, %v", got, src.Err())
	}
	if _, err := src.GetX509BundleForTrustDomain(spiffeid.RequireTrustDomainFromString("other.org")); err == nil {
		t.Error("bundle for another trust domain")
	}
}

// TestFileSourceSameSizeSameMtime: an SVID and key replaced by others of
// the same sizes with the same modification times (`cp -p`, `tar -x`, a
// rename of prepared files) were not reloaded: only modification time
// and size were compared, and the old SVID was presented on. The files'
// device, inode and change time are compared too now.
func TestFileSourceSameSizeSameMtime(t *testing.T) {
	f := newFixture(t)
	c1, k1, err := f.alice.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.ca.Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Another SVID of the same sizes (an ECDSA signature's length varies
	// by a byte or two); its ID has the same length.
	var c2, k2 []byte
	for i := 0; i < 200 && (len(c2) != len(c1) || len(k2) != len(k1)); i++ {
		s, err := f.ca.Issue(spiffeid.RequireFromString("spiffe://example.org/ns/shop/sa/api"), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c2, k2, err = s.Marshal(); err != nil {
			t.Fatal(err)
		}
	}
	if len(c2) != len(c1) || len(k2) != len(k1) {
		t.Fatal("no SVID of the same sizes")
	}
	t0 := time.Now().Add(-time.Hour)
	write := func(t *testing.T, path string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, t0, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		put  func(t *testing.T, path string, data []byte)
	}{
		{"renamed over", func(t *testing.T, path string, data []byte) {
			write(t, path+".new", data)
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"rewritten in place", write},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile, bundleFile := filepath.Join(dir, "svid.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "bundle.pem")
			write(t, certFile, c1)
			write(t, keyFile, k1)
			write(t, bundleFile, b)
			src, err := NewFileSource(certFile, keyFile, bundleFile)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond) // past the change time's granularity
			tc.put(t, certFile, c2)
			tc.put(t, keyFile, k2)
			src.checked.Store(0) // as if a second had passed
			s, err := src.GetX509SVID()
			if err != nil {
				t.Fatal(err)
			}
			if got := s.ID.String(); got != "spiffe://example.org/ns/shop/sa/api" {
				t.Errorf("presenting %s after the SVID was replaced, want the new one", got)
			}
		})
	}
}

// TestFileSourceSpecialFiles: the files of a FileSource swapped for a
// named pipe or a link to /dev/zero. The handshake that noticed the
// change read them with os.ReadFile, holding the source's lock: a pipe
// hung it and every later handshake for good, /dev/zero ate memory
// until the process died. They are refused now, as a file that does not
// parse is: the previous SVID and bundle stay, and Err names the file.
func TestFileSourceSpecialFiles(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	certFile, keyFile, bundleFile := filepath.Join(dir, "svid.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "bundle.pem")
	c, k, _ := f.server.Marshal()
	b, _ := f.ca.Bundle().Marshal()
	for file, data := range map[string][]byte{certFile: c, keyFile: k, bundleFile: b} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src, err := NewFileSource(certFile, keyFile, bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	anyID := AllowPatterns(MustParsePattern("spiffe://example.org/**"))
	srv := serve(t, ServerConfig(tlsconf.Intermediate, src, src, anyID))
	client := ClientConfig(tlsconf.Intermediate, f.alice, f.ca.Bundle(), anyID)
	fifo := filepath.Join(dir, "fifo")
	testenv.FIFO(t, fifo) // unblocked at cleanup: the old code waited to open it
	for _, tt := range []struct {
		name, file string
		put        func(tmp string) error
	}{
		{"bundle a named pipe", bundleFile, func(tmp string) error { return os.Link(fifo, tmp) }},
		{"key a link to /dev/zero", keyFile, func(tmp string) error { return os.Symlink("/dev/zero", tmp) }},
	} {
		old, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		tmp := tt.file + ".new"
		if err := tt.put(tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tt.file); err != nil {
			t.Fatal(err)
		}
		src.checked.Store(0) // as if a second had passed
		done := make(chan error, 1)
		go func() {
			got, _, err := get(srv, client)
			if err == nil && got != "spiffe://example.org/ns/shop/sa/web" {
				err = fmt.Errorf("peer ID %q", got)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: request: %v", tt.name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: handshake still blocked after 5 s", tt.name)
		}
		if err := src.Err(); !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), tt.file) {
			t.Errorf("%s: Err() = %v, want one naming the file", tt.name, err)
		}
		if err := os.Remove(tt.file); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tt.file, old, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := src.Reload(); err != nil {
			t.Fatalf("%s: the good file again: %v", tt.name, err)
		}
	}
}

var _ x509bundle.Source = (*FileSource)(nil)
var _ x509svid.Source = (*FileSource)(nil)

// TestHandlerResumedSession: a resumed session's peer (its certificates
// come from the session ticket, not a new handshake's) is identified.
func TestHandlerResumedSession(t *testing.T) {
	f := newFixture(t)
	anyID := AllowPatterns(MustParsePattern("spiffe://example.org/**"))
	srv := serve(t, ServerConfig(tlsconf.Intermediate, f.server, f.ca.Bundle(), anyID))
	client := ClientConfig(tlsconf.Intermediate, f.alice, f.ca.Bundle(), anyID)
	client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, wantResumed := range []bool{false, true} {
		got, resumed, err := get(srv, client)
		if err != nil || got != "spiffe://example.org/ns/shop/sa/web" || resumed != wantResumed {
			t.Errorf("request %d: %q, resumed=%v, %v", i, got, resumed, err)
		}
	}
}

// countingSource is a bundle source whose bundle a test replaces.
type countingSource struct {
	b     atomic.Pointer[x509bundle.Bundle]
	calls atomic.Int64
}

func (s *countingSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.calls.Add(1)
	b := s.b.Load()
	if b == nil || b.TrustDomain() != td {
		return nil, fmt.Errorf("no bundle for %s", td)
	}
	return b, nil
}

func peerRequest(s *x509svid.SVID) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: s.Certificates}
	return r
}

// TestVerifierCache: a peer's chain is verified once, not per request,
// and again when the bundle rotates or a certificate expires; a refusal
// is cached too, for a while.
func TestVerifierCache(t *testing.T) {
	f := newFixture(t)
	src := &countingSource{}
	src.b.Store(f.ca.Bundle())
	v := NewVerifier(src)
	now := time.Now()
	v.now = func() time.Time { return now }
	verifications := func() int64 { return v.verifications.Load() }

	alice := peerRequest(f.alice)
	for range 3 {
		if id, err := v.PeerID(alice); err != nil || id.String() != "spiffe://example.org/ns/shop/sa/web" {
			t.Fatalf("alice: %v, %v", id, err)
		}
	}
	if n := verifications(); n != 1 {
		t.Errorf("3 requests of one peer: %d verifications, want 1", n)
	}

	other, err := NewDevCA(f.ca.TrustDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Issue(spiffeid.RequireFromString("spiffe://example.org/ns/prod/sa/admin"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mallory := peerRequest(forged)
	for range 3 {
		if id, err := v.PeerID(mallory); !errors.Is(err, ErrNotVerified) {
			t.Fatalf("forged: %v, %v", id, err)
		}
	}
	if n := verifications(); n != 2 {
		t.Errorf("3 requests of a forged peer: %d verifications in all, want 2", n)
	}

	// The bundle rotates to the other CA: alice no longer verifies, the
	// forged certificate does.
	src.b.Store(other.Bundle())
	if _, err := v.PeerID(alice); !errors.Is(err, ErrNotVerified) {
		t.Errorf("alice after the rotation: %v", err)
	}
	if _, err := v.PeerID(mallory); err != nil {
		t.Errorf("the new CA's peer after the rotation: %v", err)
	}
	src.b.Store(f.ca.Bundle())
	if _, err := v.PeerID(alice); err != nil {
		t.Errorf("alice back: %v", err)
	}
	n := verifications()
	now = f.alice.Certificates[0].NotAfter.Add(time.Second)
	if _, err := v.PeerID(alice); !errors.Is(err, ErrNotVerified) {
		t.Errorf("alice past NotAfter: %v", err)
	}
	if verifications() != n+1 {
		t.Error("an expired verdict was not verified again")
	}

	if _, err := v.PeerID(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, ErrNoPeerCertificate) {
		t.Errorf("no TLS: %v", err)
	}
}

// TestVerifierBounded: past its bound the cache takes no new entries
// (peers are verified per request, correctly), and entries go with their
// certificates.
func TestVerifierBounded(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.ca.Bundle())
	v.max = 2
	for _, s := range []*x509svid.SVID{f.server, f.alice, f.mallory, f.mallory} {
		if _, err := v.PeerID(peerRequest(s)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.n.Load(); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
	if n := v.verifications.Load(); n != 4 {
		t.Errorf("%d verifications, want 4 (the third peer is not cached)", n)
	}

	// A certificate that is garbage takes its entry with it.
	v = NewVerifier(f.ca.Bundle())
	func() {
		s, err := f.ca.Issue(spiffeid.RequireFromString("spiffe://example.org/ns/tmp/sa/x"), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.PeerID(peerRequest(s)); err != nil {
			t.Fatal(err)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); v.n.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left after the certificate was collected", v.n.Load())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPeerIDNeedsVerification: a certificate that no ServerConfig
// verified has no ID, though it is an SVID of the trust domain.
func TestPeerIDNeedsVerification(t *testing.T) {
	f := newFixture(t)
	if id, ok := PeerID(peerRequest(f.alice)); ok {
		t.Errorf("PeerID of an unverified certificate: %v", id)
	}
}

// BenchmarkPeerID is Handler's per-request cost for a peer ServerConfig
// verified (a lookup; it replaced a parse of the URI SAN).
func BenchmarkPeerID(b *testing.B) {
	f := newFixture(b)
	markVerified(f.alice.Certificates[0], testMark(f.alice, f.ca))
	r := peerRequest(f.alice)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := PeerID(r); !ok {
			b.Fatal("no ID")
		}
	}
}

// BenchmarkVerifierPeerID is a Verifier's per-request cost for a peer
// it verified before (a cache hit).
func BenchmarkVerifierPeerID(b *testing.B) {
	f := newFixture(b)
	v := NewVerifier(f.ca.Bundle())
	r := peerRequest(f.alice)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.PeerID(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHandshakeMarkFreed: the record of a verified handshake goes with
// its certificate, so the table holds only live connections' peers.
func TestHandshakeMarkFreed(t *testing.T) {
	f := newFixture(t)
	k := func() weak.Pointer[x509.Certificate] {
		s, err := f.ca.Issue(spiffeid.RequireFromString("spiffe://example.org/ns/tmp/sa/y"), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		markVerified(s.Certificates[0], testMark(s, f.ca))
		if _, ok := PeerID(peerRequest(s)); !ok {
			t.Fatal("a marked certificate has no ID")
		}
		return weak.Make(s.Certificates[0])
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, ok := handshakes.Load(k); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mark outlived its certificate")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// testMark is the mark of a handshake that ca's bundle verified s in.
func testMark(s *x509svid.SVID, ca *DevCA) *handshake {
	b := ca.Bundle()
	return &handshake{id: s.ID, ok: true, source: b, bundle: b, expires: s.Certificates[0].NotAfter}
}

// TestHandlerKeptAliveRevoked: a connection kept alive past its peer's
// verification keeps no ID. Handler identified the peer of a handshake
// for as long as the connection lived: after its SVID expired (SPIFFE's
// revocation) and after the bundle rotated to drop its CA, while a
// Verifier and new handshakes refused it.
func TestHandlerKeptAliveRevoked(t *testing.T) {
	f := newFixture(t)
	src := &countingSource{}
	src.b.Store(f.ca.Bundle())
	anyID := AllowPatterns(MustParsePattern("spiffe://example.org/**"))
	srv := serve(t, ServerConfig(tlsconf.Intermediate, f.server, src, anyID))
	// An SVID of 2 s, as short-lived as SPIFFE's get (x509 times are
	// in seconds).
	short, err := f.ca.Issue(f.alice.ID, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: ClientConfig(tlsconf.Intermediate, short, f.ca.Bundle(), anyID)}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	n := 0
	ask := func() string {
		t.Helper()
		reused := false
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
		req, err := http.NewRequestWithContext(ctx, "GET", srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if n++; n > 1 && !reused {
			t.Fatalf("request %d on a new connection: the test needs the first one kept alive", n)
		}
		return string(b)
	}
	const alice = "spiffe://example.org/ns/shop/sa/web"
	if got := ask(); got != alice {
		t.Fatalf("alice: %q", got)
	}
	other, err := NewDevCA(f.ca.TrustDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	src.b.Store(other.Bundle())
	if got := ask(); got != "" {
		t.Errorf("alice after the bundle dropped her CA: %q", got)
	}
	src.b.Store(f.ca.Bundle())
	if got := ask(); got != alice {
		t.Errorf("alice after her CA came back: %q", got)
	}
	time.Sleep(time.Until(short.Certificates[0].NotAfter.Add(time.Second)))
	if got := ask(); got != "" {
		t.Errorf("alice past her SVID's NotAfter: %q", got)
	}
}
