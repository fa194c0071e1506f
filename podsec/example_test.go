package podsec_test

import (
	"fmt"
	"log"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/podsec"
)

func Example() {
	const input = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
      containers:
      - name: app
        image: nginx:1.27
        resources: {limits: {cpu: 500m, memory: 128Mi}}
        securityContext:
          privileged: true
          readOnlyRootFilesystem: true
`
	set, err := manifest.Parse(manifest.Options{FieldLines: true}, "web.yaml", []byte(input))
	if err != nil {
		log.Fatal(err)
	}
	findings, err := podsec.Audit(set, podsec.Options{Level: "baseline"})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range findings {
		fmt.Printf("%s %s %s\n", f.Location(), f.Severity, f.Rule)
	}
	// Output:
	// web.yaml:12 info pod/image-not-pinned
	// web.yaml:15 medium pod/net-raw-not-dropped
	// web.yaml:15 high pss/privileged
}
