package proxy

// Attacks on the proxy's life cycle (reloads, key fetches, the audit
// output), each replayed against a real upstream on loopback.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
	buf := make([]byte, 64)
	_ = anon.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := anon.Read(buf); isTimeout(err) {
		t.Error("the tunnel without a token that the new policies deny is still open after a reload made while the JWKS was down")
	}
	_, _ = io.WriteString(anon, "after-anon")
	// The one whose token cannot be verified now is left as it was.
	_, _ = io.WriteString(withToken, "after-token")
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(u.received(), "after-token") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := u.received()
	if strings.Contains(got, "after-anon") {
		t.Error("bytes sent into the denied tunnel after the reload reached the upstream")
	}
	if !strings.Contains(got, "after-token") {
		t.Error("the tunnel whose token could not be checked for want of keys was closed")
	}
}
