package istio

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	pa := func(mode string, ports map[string]*MutualTLS, sel bool) *PeerAuthentication {
		p := &PeerAuthentication{Spec: PeerAuthenticationSpec{Mtls: &MutualTLS{Mode: mode}, PortLevelMtls: ports}}
		if sel {
			p.Spec.Selector = &WorkloadSelector{MatchLabels: map[string]string{"app": "web"}}
		}
		return p
	}
	tests := []struct {
		obj  interface{ Validate() []FieldError }
		want string
	}{
		{pa("STRICT", nil, false), "[]"},
		{pa("", nil, false), "[]"},
		{pa("strict", nil, false), `[spec.mtls.mode: unknown mode "strict" (want one of UNSET, DISABLE, PERMISSIVE, STRICT)]`},
		{pa("STRICT", map[string]*MutualTLS{"8080": {Mode: "DISABLE"}}, true), "[]"},
		{pa("STRICT", map[string]*MutualTLS{"http": {Mode: "DISABLE"}}, true), `[spec.portLevelMtls.http: port "http" is not a number from 1 to 65535]`},
		{pa("STRICT", map[string]*MutualTLS{"80": {}}, false), "[spec.portLevelMtls: requires a workload selector with labels]"},
		{&PeerAuthentication{Spec: PeerAuthenticationSpec{Selector: &WorkloadSelector{}, Mtls: &MutualTLS{Mode: "STRICT"}, PortLevelMtls: map[string]*MutualTLS{"8080": {Mode: "DISABLE"}}}},
			"[spec.portLevelMtls: requires a workload selector with labels]"},
		{&PeerAuthentication{Spec: PeerAuthenticationSpec{Selector: &WorkloadSelector{MatchLabels: map[string]string{"app": "*"}}}},
			"[spec.selector.matchLabels.app: wildcards are not supported in selectors]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Action: "DENY", Rules: []Rule{{}}}}, "[]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Action: "DENY"}}, "[spec.rules: a DENY policy without rules never matches; write `rules: [{}]` to match every request]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Action: "REJECT"}}, `[spec.action: unknown action "REJECT" (want ALLOW, DENY, AUDIT or CUSTOM)]`},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Action: "CUSTOM", Rules: []Rule{{}}}}, "[spec.provider.name: a CUSTOM policy needs a provider]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Action: "CUSTOM", Provider: &Provider{Name: "ext"}}},
			"[spec.rules: a CUSTOM policy without rules never matches; write `rules: [{}]` to match every request]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Action: "CUSTOM", Provider: &Provider{Name: "ext"}, Rules: []Rule{{
			From: []From{{Source: Source{Principals: []string{"a"}, IPBlocks: []string{"10.0.0.0/8"}}}},
			When: []Condition{{Key: "request.auth.claims[iss]", Values: []string{"x"}}, {Key: "source.ip", Values: []string{"10.0.0.1"}}}}}}},
			"[spec.rules[0].from[0].source.principals: not supported with the CUSTOM action spec.rules[0].when[0].key: request.auth.claims[iss] is not supported with the CUSTOM action]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Selector: &WorkloadSelector{MatchLabels: map[string]string{"app": "web"}},
			TargetRef: &PolicyTargetReference{Kind: "Service", Name: "web"}}}, "[spec: only one of selector, targetRef or targetRefs can be set]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Selector: &WorkloadSelector{},
			TargetRefs: []PolicyTargetReference{{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "gw"}}}}, "[spec: only one of selector, targetRef or targetRefs can be set]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Selector: &WorkloadSelector{MatchLabels: map[string]string{"": "x", "app": "web-*"}}}},
			"[spec.selector.matchLabels: empty label key spec.selector.matchLabels.app: wildcards are not supported in selectors]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{TargetRefs: []PolicyTargetReference{{Kind: "Service", Name: "web"}, {Group: "core", Kind: "Service", Name: "api"},
			{Group: "networking.istio.io", Kind: "ServiceEntry", Name: "ext"}, {Group: "gateway.networking.k8s.io", Kind: "GatewayClass", Name: "istio"}}}}, "[]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{TargetRefs: []PolicyTargetReference{{Kind: "Service", Namespace: "other", Name: "web"}, {Kind: "Deployment", Name: "web"}, {Kind: "Service"}}}},
			"[spec.targetRefs[0].namespace: must not be set: a policy cannot name a target in another namespace spec.targetRefs[1].kind: /Deployment is not a target a policy binds to " +
				"(Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway or GatewayClass) spec.targetRefs[2].name: required]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Provider: &Provider{Name: "ext"}}}, "[spec.provider: only a CUSTOM policy names a provider]"},
		{&AuthorizationPolicy{Spec: AuthorizationPolicySpec{Rules: []Rule{{To: []To{{Operation: Operation{Ports: []string{"80"}, NotPorts: []string{"0"}}}}, When: []Condition{{}}}}}},
			`[spec.rules[0].to[0].operation.notPorts[0]: port "0" is not a number from 1 to 65535 spec.rules[0].when[0].key: required]`},
		{src(Source{ServiceAccounts: []string{"sleep", "bar/web"}, NotServiceAccounts: []string{"ops"}, TrustDomains: []string{"*.local"}}), "[]"},
		{src(Source{ServiceAccounts: []string{"sleep-*"}}), `[spec.rules[0].from[0].source.serviceAccounts[0]: "sleep-*": no wildcard is allowed in a service account]`},
		{src(Source{NotServiceAccounts: []string{"a/b/c", "/b", "a/", ""}}), `[spec.rules[0].from[0].source.notServiceAccounts[0]: "a/b/c" is not <namespace>/<name> or <name> ` +
			`spec.rules[0].from[0].source.notServiceAccounts[1]: "/b" is not <namespace>/<name> or <name> ` +
			`spec.rules[0].from[0].source.notServiceAccounts[2]: "a/" is not <namespace>/<name> or <name> ` +
			`spec.rules[0].from[0].source.notServiceAccounts[3]: "" is not <namespace>/<name> or <name>]`},
		{src(Source{ServiceAccounts: []string{"sleep"}, Namespaces: []string{"foo"}}), "[spec.rules[0].from[0].source: serviceAccounts cannot be set with principals or namespaces]"},
		{src(Source{ServiceAccounts: make([]string, 17)}), ""},
	}
	for i, tt := range tests {
		if tt.want == "" { // only that the count is refused
			if got := fmt.Sprint(tt.obj.Validate()); !strings.Contains(got, "17 service accounts: at most 16") {
				t.Errorf("%d: Validate() = %s, want the count refused", i, got)
			}
			continue
		}
		if got := fmt.Sprint(tt.obj.Validate()); got != tt.want && !(tt.want == "[]" && got == "[]") {
			t.Errorf("%d: Validate() = %s, want %s", i, got, tt.want)
		}
	}
}

// src is a policy with one rule from s.
func src(s Source) *AuthorizationPolicy {
	return &AuthorizationPolicy{Spec: AuthorizationPolicySpec{Rules: []Rule{{From: []From{{Source: s}}}}}}
}

func TestAllowsNothing(t *testing.T) {
	tests := []struct {
		spec AuthorizationPolicySpec
		want bool
	}{
		{AuthorizationPolicySpec{}, true},
		{AuthorizationPolicySpec{Action: "ALLOW"}, true},
		{AuthorizationPolicySpec{Action: "DENY"}, false},
		{AuthorizationPolicySpec{Rules: []Rule{{}}}, false},
	}
	for _, tt := range tests {
		a := &AuthorizationPolicy{Spec: tt.spec}
		if got := a.AllowsNothing(); got != tt.want {
			t.Errorf("AllowsNothing(%+v) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}
