package manifest_test

import (
	"errors"
	"fmt"

	"github.com/wardsec/ward/manifest"
)

func ExampleParse() {
	input := `# Source: shop/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          ports:
            - {name: http, containerPort: 8080}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
    - ports:
        - port: 70000
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: l7
  namespace: shop
`
	set, err := manifest.Parse(manifest.Options{}, "shop.yaml", []byte(input))
	for _, w := range set.Workloads {
		fmt.Printf("workload %s at %s (from %s), ports %v\n", w.ID(), w.Source, w.Source.Origin, w.Ports)
	}
	for _, u := range set.Unsupported {
		fmt.Printf("not evaluated: %s %s/%s at %s\n", u.Kind, u.Namespace, u.Name, u.Source)
	}
	var e *manifest.Error
	if errors.As(err, &e) {
		fmt.Println("error:", e)
	}
	// Output:
	// workload shop/Deployment/web at shop.yaml:2 (from shop/templates/web.yaml), ports [{http 8080 TCP web}]
	// not evaluated: CiliumNetworkPolicy shop/l7 at shop.yaml:31
	// error: shop.yaml:29: shop/NetworkPolicy/web: spec.ingress[0].ports[0].port: invalid port 70000: must be between 1 and 65535, inclusive
}
