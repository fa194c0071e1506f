package assertion_test

import (
	"fmt"

	"github.com/wardsec/ward/assertion"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

func Example() {
	set, _ := manifest.Parse(manifest.Options{}, "app.yaml", []byte(`
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: db, image: db:1}]}
`))
	eng, _ := netpol.Compile(set)
	cfg, err := assertion.Parse("ward.yaml", []byte(`
assertions:
  - name: db is never reachable from web
    from: {namespace: shop, selector: {app: web}}
    to: {namespace: shop, selector: {app: db}}
    ports: ["5432/TCP"]
    expect: deny
`))
	if err != nil {
		panic(err)
	}
	for _, r := range assertion.Check(eng, cfg) {
		fmt.Println(r.Name, "passed:", r.Passed)
		fmt.Println(r.Reason)
	}
	// Output:
	// db is never reachable from web passed: false
	// 1 of 1 pairs are allowed (expected deny)
}
