package manifest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValidatePolicy(t *testing.T) {
	tcp, icmp := corev1.ProtocolTCP, corev1.Protocol("ICMP")
	port := func(p intstr.IntOrString, end *int32) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &p, EndPort: end}
	}
	sel := func(ls metav1.LabelSelector) *metav1.LabelSelector { return &ls }
	tests := []struct {
		name  string
		spec  networkingv1.NetworkPolicySpec
		paths []string
	}{
		{name: "empty spec is valid"},
		{name: "valid rules", spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "web"}},
			PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress"},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(80), ptr(int32(90))), port(intstr.FromString("http"), nil)},
				From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: sel(metav1.LabelSelector{}), NamespaceSelector: sel(metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "In", Values: []string{"prod"}}}})},
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}},
				},
			}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "fd00::/8"}}}}},
		}},
		{name: "ports", spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
			port(intstr.FromInt32(70000), nil),
			port(intstr.FromInt32(0), nil),
			port(intstr.FromString("Not_A_Name"), nil),
			port(intstr.FromString("http"), ptr(int32(90))),
			{EndPort: ptr(int32(90))},
			port(intstr.FromInt32(100), ptr(int32(90))),
			{Protocol: &icmp},
			port(intstr.FromInt32(100), ptr(int32(70000))),
		}}}},
			paths: []string{
				"spec.ingress[0].ports[0].port", "spec.ingress[0].ports[1].port", "spec.ingress[0].ports[2].port",
				"spec.ingress[0].ports[3].endPort", "spec.ingress[0].ports[4].endPort", "spec.ingress[0].ports[5].endPort",
				"spec.ingress[0].ports[6].protocol", "spec.ingress[0].ports[7].endPort",
			}},
		{name: "selectors", spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{
				MatchLabels: map[string]string{"b": "bad value!", "a": "ok", "-bad-key": "x"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "a", Operator: "Equals", Values: []string{"x"}},
					{Key: "a", Operator: "In"},
					{Key: "a", Operator: "Exists", Values: []string{"x"}},
					{Key: "bad key", Operator: "Exists"},
					{Key: "a", Operator: "In", Values: []string{"ok", "not ok"}},
				},
			},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{NamespaceSelector: sel(metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Gt", Values: []string{"1"}}}})},
			}}},
		},
			paths: []string{
				"spec.podSelector.matchLabels.-bad-key", "spec.podSelector.matchLabels.b",
				"spec.podSelector.matchExpressions[0].operator", "spec.podSelector.matchExpressions[1].values",
				"spec.podSelector.matchExpressions[2].values", "spec.podSelector.matchExpressions[3].key",
				"spec.podSelector.matchExpressions[4].values[1]", "spec.egress[0].to[0].namespaceSelector.matchExpressions[0].operator",
			}},
		{name: "peers", spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
			{},
			{PodSelector: sel(metav1.LabelSelector{}), IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}},
			{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/33"}},
			{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/8"}},
			{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"11.0.0.0/16", "10.0.0.0/8", "bad", "fd00::/16", "10.2.0.0/16"}}},
			{IPBlock: &networkingv1.IPBlock{}},
		}}}},
			paths: []string{
				"spec.ingress[0].from[0]", "spec.ingress[0].from[1]", "spec.ingress[0].from[2].ipBlock.cidr",
				"spec.ingress[0].from[3].ipBlock.cidr", "spec.ingress[0].from[4].ipBlock.except[0]",
				"spec.ingress[0].from[4].ipBlock.except[1]", "spec.ingress[0].from[4].ipBlock.except[2]",
				"spec.ingress[0].from[4].ipBlock.except[3]", "spec.ingress[0].from[5].ipBlock.cidr",
			}},
		{name: "policy types", spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "ingress", "Egress"}},
			paths: []string{"spec.policyTypes[1]", "spec.policyTypes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: tt.spec}
			var paths []string
			for _, fe := range ValidatePolicy(p) {
				paths = append(paths, fe.Path)
				if !errors.Is(fe, ErrInvalid) || fe.Msg == "" {
					t.Errorf("field error %v: want a message matching ErrInvalid", fe)
				}
			}
			if diff := cmp.Diff(tt.paths, paths); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
	if got := ValidatePolicy(&networkingv1.NetworkPolicy{}); len(got) != 1 || got[0].Path != "metadata.name" {
		t.Errorf("policy without name: got %v", got)
	}
}

// TestValidateNoContainers: a pod template without containers is refused
// by the API server; it is what a misspelt template or containers key
// leaves (unknown fields are dropped), so it is an input error at the
// template, never a workload audited clean. Templates that may be absent
// (a ReplicationController's or DeploymentConfig's pointer, a Rollout's
// with workloadRef) are not.
func TestValidateNoContainers(t *testing.T) {
	const priv = "      - {name: c, image: nginx, securityContext: {privileged: true}}\n"
	tests := []struct {
		name, doc string
		path      string // "" when valid
	}{
		{"deployment, templat", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: d}}\n  templat:\n    spec:\n      containers:\n" + priv, "spec.template.spec.containers"},
		{"deployment, container", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      container:\n" + priv, "spec.template.spec.containers"},
		{"pod, empty list", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n", "spec.containers"},
		{"pod, only init containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {initContainers: [{name: i, image: busybox}]}\n", "spec.containers"},
		{"cronjob", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '* * * * *'\n  jobTemplate: {spec: {templat: {}}}\n", "spec.jobTemplate.spec.template.spec.containers"},
		{"rollout, template", "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {template: {spec: {}}}\n", "spec.template.spec.containers"},
		{"rollout, workloadRef", "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {workloadRef: {apiVersion: apps/v1, kind: Deployment, name: d}}\n", ""},
		{"replicationcontroller, no template", "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec: {replicas: 0}\n", ""},
		{"deploymentconfig, no template", "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: dc}\nspec: {replicas: 0}\n", ""},
		{"pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(Options{}, "in.yaml", []byte(tt.doc))
			var fe FieldError
			switch {
			case tt.path == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.path != "" && (!errors.As(err, &fe) || fe.Path != tt.path):
				t.Errorf("error %v, want a FieldError at %s", err, tt.path)
			}
		})
	}
}

// TestValidateAuthorizationPolicy: a policy Istio's validation rejects is
// not in force; it is an input error at the field's line, never read as
// written (a DENY from an empty source reads as deny-all).
func TestValidateAuthorizationPolicy(t *testing.T) {
	const head = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n"
	tests := []struct {
		name, spec string
		want       []string // "line path"
	}{
		{"selector and targetRef", "  selector: {matchLabels: {app: web}}\n  targetRef: {kind: Service, group: \"\", name: web}\n  action: DENY\n  rules: [{}]\n", []string{"4 spec"}},
		{"selector and targetRefs", "  selector: {matchLabels: {app: web}}\n  targetRefs: [{kind: Service, name: web}]\n", []string{"4 spec"}},
		{"target in another namespace", "  targetRef: {kind: Service, name: web, namespace: other}\n", []string{"5 spec.targetRef.namespace"}},
		{"empty source", "  action: DENY\n  rules:\n  - from:\n    - source: {}\n", []string{"8 spec.rules[0].from[0].source"}},
		{"empty operation", "  action: DENY\n  rules:\n  - to: [{operation: {}}]\n", []string{"7 spec.rules[0].to[0].operation"}},
		{"empty from", "  rules:\n  - from: []\n", []string{"6 spec.rules[0].from"}},
		{"empty principal", "  action: DENY\n  rules:\n  - from: [{source: {notPrincipals: [\"\"]}}]\n", []string{"7 spec.rules[0].from[0].source.notPrincipals[0]"}},
		{"bad ipBlock", "  action: DENY\n  rules:\n  - from: [{source: {ipBlocks: [10.0.0.0/33]}}]\n", []string{"7 spec.rules[0].from[0].source.ipBlocks[0]"}},
		{"condition without values", "  action: DENY\n  rules:\n  - when: [{key: source.ip}]\n", []string{"7 spec.rules[0].when[0]"}},
		{"unknown condition key", "  action: DENY\n  rules:\n  - when: [{key: source.user, values: [x]}]\n", []string{"7 spec.rules[0].when[0].key"}},
		{"deny without rules", "  action: DENY\n", []string{"4 spec.rules"}},
		{"null rule", "  action: DENY\n  rules: [null]\n", []string{"6 spec.rules[0]"}},
		{"empty rule item", "  action: DENY\n  rules:\n  -\n  - to: [{operation: {ports: [\"22\"]}}]\n", []string{"7 spec.rules[0]"}},
		{"null principal", "  action: DENY\n  rules: [{from: [{source: {principals: [~]}}]}]\n", []string{"6 spec.rules[0].from[0].source.principals[0]"}},
		{"custom on identity", "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{from: [{source: {namespaces: [a]}}]}]\n", []string{"7 spec.rules[0].from[0].source.namespaces"}},
		{"valid", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]\n  action: DENY\n  rules: [{from: [{source: {notNamespaces: [shop]}}], to: [{operation: {ports: [\"8080\"]}}]}]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(Options{}, "p.yaml", []byte(head+tt.spec))
			var got []string
			for _, e := range joined(err) {
				var me *Error
				var fe FieldError
				if !errors.As(e, &me) || !errors.As(e, &fe) || !errors.Is(e, ErrInvalid) {
					t.Fatalf("error %v: want an *Error with a FieldError", e)
				}
				got = append(got, fmt.Sprintf("%d %s", me.Line, fe.Path))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidatePeerAuthentication: a PeerAuthentication Istio rejects is
// not in force, so the namespace it was to make STRICT is not: an input
// error, never read as STRICT (a selector without labels is no selector
// to Istio, which refuses port-level modes then).
func TestValidatePeerAuthentication(t *testing.T) {
	const head = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: shop}\nspec:\n  mtls: {mode: STRICT}\n"
	tests := []struct {
		name, spec string
		want       []string // "line path"
	}{
		{"empty selector, port level", "  selector: {matchLabels: {}}\n  portLevelMtls:\n    \"8080\": {mode: DISABLE}\n", []string{"7 spec.portLevelMtls"}},
		{"empty port level", "  portLevelMtls: {}\n", []string{"6 spec.portLevelMtls"}},
		{"wildcard selector", "  selector: {matchLabels: {app: \"web*\"}}\n", []string{"6 spec.selector.matchLabels.app"}},
		{"valid", "  selector: {matchLabels: {app: web}}\n  portLevelMtls:\n    \"8080\": {mode: DISABLE}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(Options{}, "p.yaml", []byte(head+tt.spec))
			var got []string
			for _, e := range joined(err) {
				var me *Error
				var fe FieldError
				if !errors.As(e, &me) || !errors.As(e, &fe) || !errors.Is(e, ErrInvalid) {
					t.Fatalf("error %v: want an *Error with a FieldError", e)
				}
				got = append(got, fmt.Sprintf("%d %s", me.Line, fe.Path))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
