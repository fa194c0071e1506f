package lint_test

import (
	"fmt"
	"log"

	"github.com/wardsec/ward/lint"
	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

func Example() {
	const input = `apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: pg, image: postgres, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: api}}
    ports: [{port: 5432}]
`
	set, err := manifest.Parse(manifest.Options{}, "shop.yaml", []byte(input))
	if err != nil {
		log.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range lint.Run(set, eng) {
		fmt.Printf("%s %s %s\n", f.Location(), f.Severity, f.Rule)
	}
	// Output:
	// shop.yaml:1 medium netpol/no-default-deny-egress
	// shop.yaml:1 medium netpol/no-default-deny-ingress
	// shop.yaml:13 medium netpol/peer-matches-nothing
}
