package authz

import (
	"net/http"
	"net/netip"
	"testing"
)

// benchPolicies are five policies of the kind a service carries: two
// DENY and three ALLOW, with paths, methods, principals, a request
// principal and conditions on a header and a claim.
const benchPolicies = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-debug, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/debug/*", "/admin*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-external, namespace: foo}
spec:
  action: DENY
  rules:
  - from: [{source: {notNamespaces: ["foo", "ingress"]}}]
    to: [{operation: {paths: ["/internal/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ops, namespace: foo}
spec:
  rules:
  - to: [{operation: {methods: ["GET"], paths: ["/metrics", "/healthz"]}}]
    when:
    - key: request.headers[X-Team]
      values: ["ops-*"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: users, namespace: foo}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["https://issuer.example.com/*"]}}]
    to: [{operation: {paths: ["/user/*"]}}]
    when:
    - key: request.auth.claims[groups]
      values: ["users"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: frontend, namespace: foo}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/foo/sa/frontend", "cluster.local/ns/ingress/sa/gateway"]}}]
    to: [{operation: {methods: ["GET", "POST"], paths: ["/api/*"]}}]
`

func BenchmarkDecide(b *testing.B) {
	ps, err := Load("bench.yaml", []byte(benchPolicies))
	if err != nil {
		b.Fatal(err)
	}
	e, err := Compile(ps, Workload{Namespace: "foo", Labels: map[string]string{"app": "shop"}})
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set("X-Team", "ops-core")
	h.Set("User-Agent", "bench")
	base := Request{
		Method: "GET", Host: "shop.foo:8080", Port: 8080, Headers: h,
		SourceIP:        netip.MustParseAddr("10.1.2.3"),
		SourcePrincipal: "cluster.local/ns/foo/sa/frontend",
	}
	for _, bc := range []struct {
		name    string
		path    string
		allowed bool
	}{
		{"allow-last-policy", "/api/v1/items/42", true},
		{"allow-header", "/metrics", true},
		{"deny", "/debug/pprof", false},
		{"no-match", "/other", false},
		{"normalise", "//api//v1/%69tems", true},
	} {
		r := base
		r.Path = bc.path
		if d := e.Decide(&r); d.Allowed != bc.allowed {
			b.Fatalf("%s: Decide = %+v", bc.name, d)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Decide(&r)
			}
		})
	}
}

// TestDecideConcurrent runs decisions from several goroutines, for -race.
func TestDecideConcurrent(t *testing.T) {
	ps, err := Load("bench.yaml", []byte(benchPolicies))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(ps, Workload{Namespace: "foo"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			r := req(peer("cluster.local/ns/foo/sa/frontend"), path("/api/x"))
			if g%2 == 1 {
				r = req(path("//debug//x"))
			}
			for range 200 {
				e.Decide(r)
			}
			done <- e.Decide(r).Allowed == (g%2 == 0)
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent decision differs")
		}
	}
}
