package mesh

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardsec/ward/manifest"
)

const (
	nsShop = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
`
	meshStrict = `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`
	meshAllowNothing = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: istio-system}
spec: {}
`
)

func audit(t *testing.T, doc string) []string {
	t.Helper()
	set, err := manifest.Load(manifest.Options{Stdin: strings.NewReader(doc)}, "-")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Audit(set, Options{}) {
		got = append(got, fmt.Sprintf("%s %s %s:%d", f.Rule, f.Severity, f.Object, f.Line))
	}
	return got
}

func TestAudit(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"no mesh: nothing", "apiVersion: v1\nkind: Namespace\nmetadata: {name: plain}\n", nil},
		{"mesh-wide strict and allow-nothing: clean", nsShop + meshStrict + meshAllowNothing, nil},
		{"injection without policies", nsShop, []string{
			"mesh/mtls-not-strict high Namespace/shop:1",
			"mesh/no-authz-baseline medium Namespace/shop:1",
		}},
		{"namespace PERMISSIVE overrides mesh STRICT", nsShop + meshStrict + meshAllowNothing + `---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
`, []string{
			"mesh/mtls-not-strict high Namespace/shop:1",
			"mesh/mtls-weak-mode medium shop/PeerAuthentication/default:24",
		}},
		{"namespace UNSET inherits mesh STRICT", nsShop + meshStrict + meshAllowNothing + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {}
`, nil},
		{"workload DISABLE and port PERMISSIVE", nsShop + meshStrict + meshAllowNothing + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: DISABLE}
  portLevelMtls:
    "9102": {mode: PERMISSIVE}
`, []string{
			"mesh/mtls-weak-mode high shop/PeerAuthentication/legacy:24",
			"mesh/mtls-weak-mode medium shop/PeerAuthentication/legacy:24",
		}},
		{"namespace allow-nothing is a baseline", nsShop + meshStrict + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: shop}
spec: {action: ALLOW}
`, nil},
		{"selector policy is not a baseline; empty rule allows all", nsShop + meshStrict + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{}]
`, []string{
			"mesh/no-authz-baseline medium Namespace/shop:1",
			"mesh/authz-allow-all high shop/AuthorizationPolicy/web:19",
		}},
		{"DENY of GET without HEAD; ALLOW of all but GET", nsShop + meshStrict + meshAllowNothing + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-export, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: ["POST"]}}, {operation: {methods: ["GET"], paths: ["/export*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-export-head, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: ["GET", "HEAD"], paths: ["/export*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: writes, namespace: shop}
spec:
  rules: [{from: [{source: {namespaces: ["shop"]}}], to: [{operation: {notMethods: ["GET"]}}]}]
`, []string{
			"mesh/authz-head-not-denied medium shop/AuthorizationPolicy/no-export:24",
			"mesh/authz-head-not-denied medium shop/AuthorizationPolicy/writes:38",
		}},
		{"two namespace-wide modes: the weakest", nsShop + meshAllowNothing + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b-permissive, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: a-strict, namespace: shop}
spec: {mtls: {mode: STRICT}}
`, []string{
			"mesh/mtls-not-strict high Namespace/shop:1",
			"mesh/mtls-weak-mode medium shop/PeerAuthentication/b-permissive:19",
		}},
		{"namespace STRICT and UNSET under a PERMISSIVE mesh: the weakest", nsShop + meshAllowNothing + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b-unset, namespace: shop}
spec: {}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: a-strict, namespace: shop}
spec: {mtls: {mode: STRICT}}
`, []string{
			"mesh/mtls-not-strict high Namespace/shop:1",
			"mesh/mtls-weak-mode medium istio-system/PeerAuthentication/default:19",
		}},
		{"two mesh-wide modes: the weakest", nsShop + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: other, namespace: istio-system}
spec: {}
` + meshStrict + meshAllowNothing, []string{
			"mesh/mtls-not-strict high Namespace/shop:1",
		}},
		{"dry-run allow-nothing is no baseline", nsShop + meshStrict + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: shop, annotations: {istio.io/dry-run: "true"}}
spec: {}
`, []string{
			"mesh/no-authz-baseline medium Namespace/shop:1",
		}},
		{"dry-run false is enforced", nsShop + meshStrict + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: shop, annotations: {istio.io/dry-run: "false"}}
spec: {}
`, nil},
		{"DENY with empty rule is not allow-all", nsShop + meshStrict + meshAllowNothing + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: shop}
spec: {action: DENY, rules: [{}]}
`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, audit(t, tt.doc)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesDocumented(t *testing.T) {
	for _, r := range Rules {
		if r.Summary == "" || r.Rationale == "" || r.Fix == "" {
			t.Errorf("%s: incomplete descriptor", r.ID)
		}
		if _, ok := Lookup(r.ID); !ok {
			t.Errorf("Lookup(%s) failed", r.ID)
		}
	}
}
