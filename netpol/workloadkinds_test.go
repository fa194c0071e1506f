package netpol_test

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
	"github.com/wardsec/ward/portset"
)

// TestOtherWorkloadKinds checks that the pods of an Argo Rollout, a
// Knative Service and an OpenShift DeploymentConfig are selected by
// NetworkPolicies like a Deployment's: by their pod template's labels (for
// Knative, also by the serving.knative.dev labels Knative adds), with
// named ports resolved from their containers. Expectations are written
// from the NetworkPolicy documentation.
func TestOtherWorkloadKinds(t *testing.T) {
	doc := `apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop}
spec:
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers:
      - {name: api, image: api:3, ports: [{containerPort: 9000, name: grpc}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: canary-from-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: canary}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: grpc}]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello, namespace: fn}
spec:
  template:
    spec:
      containers: [{image: hello:1, ports: [{containerPort: 8080}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: hello-from-shop, namespace: fn}
spec:
  podSelector: {matchLabels: {serving.knative.dev/service: hello}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}]
    ports: [{port: 8080}]
---
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: legacy, namespace: old}
spec:
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: app, image: legacy:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: old}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`
	set, err := manifest.Load(manifest.Options{Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	ep := map[string]*netpol.Endpoint{}
	for _, w := range set.Workloads {
		eps := eng.EndpointsOf(w)
		if len(eps) != 1 {
			t.Fatalf("%s has %d endpoints, want 1", w.ID(), len(eps))
		}
		ep[w.ID()] = eps[0]
	}
	const (
		frontend = "shop/Deployment/frontend"
		canary   = "shop/Rollout/canary"
		hello    = "fn/Service.serving.knative.dev/hello"
		legacy   = "old/DeploymentConfig/legacy"
	)
	tests := []struct {
		src, dst string
		want     string // portset.Set.String of the allowed ports
	}{
		{frontend, canary, portset.Port(portset.TCP, 9000).String()},
		{hello, canary, portset.Set{}.String()},
		{frontend, hello, portset.Port(portset.TCP, 8080).String()},
		{canary, hello, portset.Port(portset.TCP, 8080).String()},
		{legacy, hello, portset.Set{}.String()},
		{frontend, legacy, portset.Set{}.String()},
		{canary, frontend, portset.All.String()},
	}
	for _, tt := range tests {
		src, dst := ep[tt.src], ep[tt.dst]
		if src == nil || dst == nil {
			t.Fatalf("no endpoint for %s or %s among %v", tt.src, tt.dst, set.Workloads)
		}
		if got := eng.Allowed(src, dst).String(); got != tt.want {
			t.Errorf("%s -> %s: allowed %s, want %s", tt.src, tt.dst, got, tt.want)
		}
	}
	if !ep[canary].Class().Isolated(netpol.Ingress) || ep[frontend].Class().Isolated(netpol.Ingress) {
		t.Errorf("isolation: canary %v, frontend %v; want only the Rollout isolated in shop",
			ep[canary].Class().Isolated(netpol.Ingress), ep[frontend].Class().Isolated(netpol.Ingress))
	}
}
