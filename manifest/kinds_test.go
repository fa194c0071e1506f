package manifest

import "testing"

// TestRefKind: an object of a kind Ward models, but of another API group,
// is named kind.group; the modelled groups and unmodelled kinds keep the
// bare kind.
func TestRefKind(t *testing.T) {
	for _, tc := range []struct{ apiVersion, kind, want string }{
		{"apps/v1", "Deployment", "Deployment"},
		{"extensions/v1beta1", "Deployment", "Deployment"},
		{"example.com/v1", "Deployment", "Deployment.example.com"},
		{"v1", "Pod", "Pod"},
		{"example.com/v1", "Pod", "Pod.example.com"},
		{"v1", "Deployment", "Deployment.v1"},
		{"networking.k8s.io/v1", "NetworkPolicy", "NetworkPolicy"},
		{"projectcalico.org/v3", "NetworkPolicy", "NetworkPolicy.projectcalico.org"},
		{"crd.antrea.io/v1beta1", "NetworkPolicy", "NetworkPolicy.crd.antrea.io"},
		{"extensions/v1beta1", "NetworkPolicy", "NetworkPolicy.extensions"},
		{"security.istio.io/v1", "AuthorizationPolicy", "AuthorizationPolicy"},
		{"policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "AuthorizationPolicy.policy.linkerd.io"},
		{"cilium.io/v2", "CiliumNetworkPolicy", "CiliumNetworkPolicy"},
		{"keda.sh/v1alpha1", "ScaledJob", "ScaledJob"},
	} {
		if got := RefKind(tc.apiVersion, tc.kind); got != tc.want {
			t.Errorf("RefKind(%q, %q) = %q, want %q", tc.apiVersion, tc.kind, got, tc.want)
		}
	}
}
