package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStrictPolicyFields: a security policy with a field its kind does not
// define is an input error at the field's line, never read as the policy
// without it. kubectl apply refuses such an object (strict field
// validation), and an API server that drops the field enforces another
// policy: `ingres:` for `ingress:` leaves a deny-all, `podSelecter:` a
// policy over every pod of the namespace, an Istio `path:` for `paths:` an
// ALLOW rule for every path. Workloads keep the API server's default
// (TestParseFieldMatching).
func TestStrictPolicyFields(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // "line path" of each error; none for a clean document
	}{
		{"netpol top and spec", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelecter: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingres:
  - from: [{podSelector: {}}]
`, []string{"5 spec.podSelecter", "7 spec.ingres"}},
		{"netpol peer", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelecter: {matchLabels: {team: a}}
    ports:
    - {port: 80, protocl: UDP}
`, []string{"8 spec.ingress[0].from[0].namespaceSelecter", "10 spec.ingress[0].ports[0].protocl"}},
		{"netpol case", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  PodSelector: {}
`, []string{"5 spec.PodSelector"}},
		{"netpol metadata and top level", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop, lables: {a: b}}
spec: {podSelector: {}}
specs: {podSelector: {}}
`, []string{"3 metadata.lables", "5 specs"}},
		{"netpol selector expression", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector:
    matchExpressions: [{key: app, operater: In, values: [a]}]
`, []string{"6 spec.podSelector.matchExpressions[0].operater"}},
		{"netpol clean", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: shop
  labels: {anyKey: v, "x.io/y": z}
  annotations: {anything: goes}
  managedFields: [{manager: kubectl, operation: Apply, fieldsType: FieldsV1, fieldsV1: {"f:spec": {"f:whatever": {}}}}]
spec:
  podSelector: {matchLabels: {someLabel: x}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}, {namespaceSelector: {}, podSelector: {}}]
    ports: [{port: http}, {port: 80, endPort: 90, protocol: TCP}]
  egress: [{}]
status: {conditions: []}
`, nil},
		{"istio operation", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET], path: ["/public/*"]}}]
`, []string{"8 spec.rules[0].to[0].operation.path"}},
		{"istio source and when", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: shop}
spec:
  action: DENY
  rules:
  - from: [{source: {principal: ["x"]}}]
    when: [{key: "request.auth.claims[iss]", value: ["y"]}]
`, []string{"7 spec.rules[0].from[0].source.principal", "8 spec.rules[0].when[0].value"}},
		{"istio clean", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: web}]
  action: ALLOW
  rules: [{from: [{source: {serviceAccounts: [web, bar/api], trustDomains: [cluster.local]}}], to: [{operation: {paths: ["/x"], notMethods: [GET]}}], when: [{key: "request.headers[a]", notValues: [b]}]}]
status: {validationMessages: []}
`, nil},
		{"istio custom clean", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: shop}
spec:
  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}
  action: CUSTOM
  provider: {name: ext}
  rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}], to: [{operation: {paths: ["/x"]}}], when: [{key: "request.headers[a]", notValues: [b]}]}]
`, nil},
		{"peer authentication", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec:
  mtls: {mod: STRICT}
  portLevelMtls: {"8080": {mode: DISABLE, extra: 1}}
`, []string{"5 spec.mtls.mod", "6 spec.portLevelMtls.8080.extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(Options{}, "p.yaml", []byte(tt.doc))
			var got []string
			for _, e := range joined(err) {
				var me *Error
				var fe FieldError
				if !errors.As(e, &me) || !errors.As(e, &fe) || !errors.Is(e, ErrInvalid) {
					t.Fatalf("error %v: want an *Error with a FieldError", e)
				}
				if !strings.Contains(fe.Msg, "unknown field") {
					t.Errorf("message %q does not say unknown field", fe.Msg)
				}
				got = append(got, fmt.Sprintf("%d %s", me.Line, fe.Path))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if s == nil {
				t.Fatal("no set")
			}
			if kept := len(s.Objects); (len(tt.want) > 0) == (kept > 0) {
				t.Errorf("%d objects kept; want the policy kept only when it has no unknown field", kept)
			}
		})
	}
}

// TestUnknownFieldsListed: the error names the known fields of the
// mapping, so that a misspelt one is easy to fix.
func TestUnknownFieldsListed(t *testing.T) {
	_, err := Parse(Options{}, "p.yaml", []byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}, ingres: []}\n"))
	var fe FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v", err)
	}
	for _, f := range []string{"egress", "ingress", "podSelector", "policyTypes"} {
		if !strings.Contains(fe.Msg, f) {
			t.Errorf("message %q does not list %s", fe.Msg, f)
		}
	}
	if !slices.Contains(strings.Fields(fe.Msg), "kubectl") {
		t.Errorf("message %q does not say what kubectl does", fe.Msg)
	}
}
