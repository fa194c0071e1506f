package authz_test

import (
	"fmt"
	"net/netip"

	"github.com/wardsec/ward/guard/authz"
)

func Example() {
	policies, err := authz.Load("policies.yaml", []byte(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
  namespace: shop
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin", "/admin/*"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: frontend-reads
  namespace: shop
spec:
  selector:
    matchLabels:
      app: catalog
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/products*"]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	engine, err := authz.Compile(policies, authz.Workload{Namespace: "shop", Labels: map[string]string{"app": "catalog"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range []*authz.Request{
		{Method: "GET", Path: "/products/42", SourcePrincipal: "cluster.local/ns/shop/sa/frontend"},
		{Method: "DELETE", Path: "/products/42", SourcePrincipal: "cluster.local/ns/shop/sa/frontend"},
		{Method: "GET", Path: "//admin", SourcePrincipal: "cluster.local/ns/shop/sa/frontend"},
		{Method: "GET", Path: "/products/../admin", SourceIP: netip.MustParseAddr("192.0.2.1")},
	} {
		d := engine.Decide(r)
		fmt.Printf("%s %s: %v (%s)\n", r.Method, r.Path, d.Allowed, d.Reason)
	}
	// Output:
	// GET /products/42: true (ALLOW shop/frontend-reads rule 0: from[0] principals; to[0] methods, paths)
	// DELETE /products/42: false (no ALLOW policy matched)
	// GET //admin: false (DENY shop/deny-admin rule 0: to[0] paths)
	// GET /products/../admin: false (path rejected: dot segment (. or ..) in path)
}

func ExampleNormalize() {
	for _, p := range []string{"//api//v1/%69tems?page=2", "/api/%2e%2e/admin", "/files/a%2Fb"} {
		fmt.Println(authz.Normalize(p))
	}
	// Output:
	// /api/v1/items <nil>
	//  dot segment (. or ..) in path
	//  encoded slash or backslash (%2F, %5C) in path
}
