package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardsec/ward/guard/audit"
)

// benchConfig is a proxy with the checks that apply to plain HTTP: the
// allowlist, five policies, the rate limit and the audit log.
const benchConfig = `upstream: {url: "http://upstream.test"}
workload: {namespace: foo, labels: {app: api}}
authorization: {policies: [policies.yaml]}
allow: [192.0.2.0/24, 10.0.0.0/8]
rateLimit: {rate: 1000000000, burst: 1000000000, key: ip}
`

const benchPolicies = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec: {action: DENY, rules: [{to: [{operation: {paths: ["/admin*", "/debug/*"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-internal, namespace: foo}
spec: {action: DENY, rules: [{from: [{source: {notRemoteIpBlocks: ["192.0.2.0/24"]}}], to: [{operation: {paths: ["/internal/*"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: probes, namespace: foo}
spec: {rules: [{to: [{operation: {methods: ["GET"], paths: ["/healthz"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ops, namespace: foo}
spec: {rules: [{to: [{operation: {paths: ["/metrics"]}}], when: [{key: "request.headers[X-Team]", values: ["ops-*"]}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: foo}
spec: {rules: [{to: [{operation: {methods: ["GET"], paths: ["/api/*"]}}]}]}
`

// upstreamTransport answers every request in memory, so that the
// benchmarks measure the proxies, not the network.
type upstreamTransport struct{}

func (upstreamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}}, ContentLength: 100,
		Body: io.NopCloser(strings.NewReader(strings.Repeat("x", 100))), Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// benchRequest is an origin-form request, as a client sends to a server.
func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "/api/items?page=2", nil)
	r.Host = "api.foo"
	r.RemoteAddr = "192.0.2.7:41000"
	return r
}

// BenchmarkProxyHandler compares ward's handler chain with a bare
// httputil.ReverseProxy on the same in-memory upstream: the difference is
// the cost of the checks and the audit record per request.
func BenchmarkProxyHandler(b *testing.B) {
	dir := b.TempDir()
	for name, data := range map[string]string{"proxy.yaml": benchConfig, "policies.yaml": benchPolicies} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := LoadConfig(filepath.Join(dir, "proxy.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	a, err := audit.New(io.Discard, nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(cfg, Options{Audit: a})
	if err != nil {
		b.Fatal(err)
	}
	// Swap the upstream's transport for the in-memory one.
	setTransport(b, p, upstreamTransport{})
	target, _ := url.Parse("http://upstream.test")
	// The bare proxy gets ward's buffer pool, as in bench/proxyload.
	bare := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, Transport: upstreamTransport{}, BufferPool: bufferPool{}}
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"ward", p.Handler()}} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, benchRequest())
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

func setTransport(tb testing.TB, p *Proxy, rt http.RoundTripper) {
	tb.Helper()
	if p.upstream == nil {
		tb.Fatal("no upstream")
	}
	p.upstream.Transport = rt
}
