package assertion

import (
	"strings"
	"testing"

	"github.com/wardsec/ward/manifest"
	"github.com/wardsec/ward/netpol"
)

// TestUndeclaredNamespaceLabels: a namespace no Namespace object declares
// has only its kubernetes.io/metadata.name label in the input; on the
// cluster it may have more. An assertion whose passing verdict rests on a
// namespaceSelector reading such labels is undecided, never passed: "db
// never reachable from web" passed while db admits {team: storefront},
// which web carries on the cluster.
func TestUndeclaredNamespaceLabels(t *testing.T) {
	const pods = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: web, labels: {app: web}}
spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: data, labels: {app: db}}
spec: {containers: [{name: db, image: db:1}]}
---
`
	policy := func(nsSel string) string {
		return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: ` + nsSel + `}]}]
`
	}
	const webNS = `---
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: storefront}}
`
	const plainWebNS = `---
apiVersion: v1
kind: Namespace
metadata: {name: web}
`
	tests := []struct {
		name, input, expect string
		passed, undecided   bool
	}{
		{"label selector, web undeclared", pods + policy("{matchLabels: {team: storefront}}"), "deny", false, true},
		{"NotIn, web undeclared", pods + policy("{matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}"), "allow", false, true},
		{"DoesNotExist, web undeclared, deny fails anyway", pods + policy("{matchExpressions: [{key: env, operator: DoesNotExist}]}"), "deny", false, false},
		{"web declared with the label", pods + policy("{matchLabels: {team: storefront}}") + webNS, "deny", false, false},
		{"web declared without it", pods + policy("{matchLabels: {team: storefront}}") + plainWebNS, "deny", true, false},
		{"metadata.name of another namespace", pods + policy("{matchLabels: {kubernetes.io/metadata.name: api, team: x}}"), "deny", true, false},
		{"metadata.name of web", pods + policy("{matchLabels: {kubernetes.io/metadata.name: web}}"), "allow", true, false},
		{"empty namespaceSelector", pods + policy("{}"), "allow", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := manifest.Parse(manifest.Options{}, "in.yaml", []byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			eng, err := netpol.Compile(set)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse("ward.yaml", []byte(`
assertions:
  - name: a
    from: {namespace: web}
    to: {namespace: data}
    ports: ["5432/TCP"]
    expect: `+tt.expect+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			r := Check(eng, cfg)[0]
			if r.Passed != tt.passed || r.Undecided != tt.undecided {
				t.Fatalf("passed %v undecided %v (%s), want %v %v", r.Passed, r.Undecided, r.Reason, tt.passed, tt.undecided)
			}
			if tt.undecided {
				if !strings.Contains(r.Reason, "namespace web is not declared") || !strings.Contains(r.Reason, "in.yaml:") {
					t.Errorf("reason %q does not name the namespace and the policy's line", r.Reason)
				}
				fs := Findings("ward.yaml", []Result{r})
				if len(fs) != 1 || fs[0].Rule != RuleUndecided {
					t.Errorf("findings %+v, want one %s", fs, RuleUndecided)
				}
			}
		})
	}
}
