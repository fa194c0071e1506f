package netpol_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// diffShop is a 2-pod Deployment web (10.0.0.1, 10.0.0.2) and a pod db,
// with db's ingress policy holding the given rules.
func diffShop(t *testing.T, rules string) *netpol.Engine {
	t.Helper()
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
`
	for i := 1; i <= 2; i++ {
		in += fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata:
  name: web-%d
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: x, controller: true}]
spec: {containers: [{name: web, image: web:1}]}
status: {podIP: 10.0.0.%d}
`, i, i)
	}
	in += `---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: db, image: db:1, ports: [{containerPort: 5432}]}]}
status: {podIP: 10.0.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
` + rules
	set, err := manifest.Parse(manifest.Options{}, "in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestDiffSplitWorkload: Diff matches connections by workload and pod, so
// an ipBlock that splits a workload's pods in one version and not in the
// other changes only what really changed (before: 18 changes, 1 real).
func TestDiffSplitWorkload(t *testing.T) {
	const fromWeb = "  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}]\n"
	const fromIP = "  - from: [{ipBlock: {cidr: 10.0.0.1/32}}]\n    ports: [{port: 5432}]\n"
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"ipBlock rule dropped", fromWeb + fromIP, fromWeb, []string{"removed 10.0.0.1/32 -> shop/Pod/db: 5432/TCP"}},
		{"ipBlock rule added", fromWeb, fromWeb + fromIP, []string{"added 10.0.0.1/32 -> shop/Pod/db: 5432/TCP"}},
		{"pod rule replaced by an ipBlock", fromWeb, fromIP, []string{
			"removed shop/Deployment/web@10.0.0.2 -> shop/Pod/db: 5432/TCP",
			"added 10.0.0.1/32 -> shop/Pod/db: 5432/TCP",
		}},
		{"same", fromWeb + fromIP, fromWeb + fromIP, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range netpol.Diff(diffShop(t, tt.old), diffShop(t, tt.new)) {
				got = append(got, fmt.Sprintf("%s %s -> %s: %s", c.Change, c.Src, c.Dst, strings.TrimSpace(c.Old.Union(c.New).String())))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}
