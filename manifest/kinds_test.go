package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

// TestHelmHook: which Helm hooks are not in the cluster after helm
// install, or not always.
func TestHelmHook(t *testing.T) {
	for _, tc := range []struct {
		ann    map[string]string
		absent bool
	}{
		{nil, false},
		{map[string]string{"helm.sh/hook": "pre-install"}, false},
		{map[string]string{"helm.sh/hook": "post-install, post-upgrade", "helm.sh/hook-delete-policy": "before-hook-creation"}, false},
		{map[string]string{"helm.sh/hook": "test"}, true},
		{map[string]string{"helm.sh/hook": "test-success"}, true},
		{map[string]string{"helm.sh/hook": "pre-upgrade,post-upgrade"}, true},
		{map[string]string{"helm.sh/hook": "pre-delete"}, true},
		{map[string]string{"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": "before-hook-creation, hook-succeeded"}, true},
		{map[string]string{"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": "hook-failed"}, false},
		// Helm lower-cases and trims both annotations' values.
		{map[string]string{"helm.sh/hook": "Pre-Install"}, false},
		{map[string]string{"helm.sh/hook": " post-install , Test "}, false},
		{map[string]string{"helm.sh/hook": "Test"}, true},
		{map[string]string{"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": "Hook-Succeeded"}, true},
		{map[string]string{"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": " HOOK-SUCCEEDED "}, true},
		// Helm skips an object with a hook it does not know.
		{map[string]string{"helm.sh/hook": "pre-install,post-instal"}, true},
		{map[string]string{"helm.sh/hook": "crd-install"}, true},
		{map[string]string{"helm.sh/hook": ""}, true},
	} {
		if got := helmHook(tc.ann) != ""; got != tc.absent {
			t.Errorf("helmHook(%v) = %q, want absent %v", tc.ann, helmHook(tc.ann), tc.absent)
		}
	}
}

// TestHelmHookList: helm sorts a chart's documents into hooks by each
// document's own annotations, so a List annotated helm.sh/hook: test is
// one test hook, its items created by helm test only. Ward read the
// default deny inside as in force; the List is now an input error, read
// whole or cut into its items (a large List).
func TestHelmHookList(t *testing.T) {
	const list = `apiVersion: v1
kind: List
metadata:
  annotations:
    helm.sh/hook: test
items:
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: deny-all, namespace: shop}
  spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`
	file := filepath.Join(t.TempDir(), "tests.yaml")
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, split := range []bool{false, true} {
		if split {
			defer func(old int) { splitMinBytes = old }(splitMinBytes)
			splitMinBytes = 0
		}
		_, err := Load(Options{}, file)
		var me *Error
		if !errors.As(err, &me) || !errors.Is(err, ErrType) || me.Line != 1 || !strings.Contains(me.Error(), "helm.sh/hook") {
			t.Errorf("split %v: error %v, want a wrong-type error at line 1 naming helm.sh/hook", split, err)
		}
	}
}
