package netpol_test

import (
	"fmt"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

const exampleYAML = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db:1, ports: [{name: sql, containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: sql}]
`

func Example() {
	set, err := manifest.Parse(manifest.Options{}, "shop.yaml", []byte(exampleYAML))
	if err != nil {
		panic(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		panic(err)
	}
	web, _ := eng.Resolve("shop/web", portset.Set{})
	db, _ := eng.Resolve("shop/db", portset.Set{})
	fmt.Println("web -> db:", eng.Allowed(web[0].Endpoint, db[0].Endpoint))
	fmt.Println("db -> web:", eng.Allowed(db[0].Endpoint, web[0].Endpoint))
	x := eng.Explain(db[0].Endpoint, db[0].Endpoint, portset.Port(portset.TCP, 5432))
	fmt.Println("db -> db on 5432/TCP allowed:", x.Allowed)
	// Output:
	// web -> db: 5432/TCP
	// db -> web: all
	// db -> db on 5432/TCP allowed: false
}
