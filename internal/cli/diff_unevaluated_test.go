package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffUnevaluatedChanges: a Calico policy that admits everything,
// added in NEW, left `ward diff --exit-code` at "no reachability changes",
// exit 0: the gate passed a change that opens every flow. A policy Ward
// does not evaluate that is added, removed or changed in content makes
// the diff incomplete (exit 2, naming it); one that is the same in both,
// however laid out, does not.
func TestDiffUnevaluatedChanges(t *testing.T) {
	const apps = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`
	const calico = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-all}
spec: {selector: all(), types: [Ingress], ingress: [{action: Allow}]}
`
	const calicoBlock = `# the same policy, block style
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-all
spec:
  selector: all()
  types: [Ingress]
  ingress:
    - action: Allow
`
	hook := func(port string) string {
		return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: test-hook, namespace: shop, annotations: {helm.sh/hook: test}}
spec: {podSelector: {}, ingress: [{ports: [{port: ` + port + `}]}]}
`
	}
	tests := []struct {
		name, old, new string
		code           int
	}{
		{"none", "", "", ExitOK},
		{"same in both", calico, calico, ExitOK},
		{"same, laid out otherwise", calico, calicoBlock, ExitOK},
		{"added", "", calico, ExitError},
		{"removed", calico, "", ExitError},
		{"changed", strings.Replace(calico, "all()", "app == 'x'", 1), calico, ExitError},
		{"helm hook same", hook("80"), hook("80"), ExitOK},
		{"helm hook changed", hook("80"), hook("81"), ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, v := range []struct{ dir, extra string }{{"old", tt.old}, {"new", tt.new}} {
				d := filepath.Join(dir, v.dir)
				if err := os.Mkdir(d, 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, "apps.yaml"), []byte(apps), 0o600); err != nil {
					t.Fatal(err)
				}
				if v.extra != "" {
					if err := os.WriteFile(filepath.Join(d, "extra.yaml"), []byte(v.extra), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, errOut, code := run(t, "", "diff", filepath.Join(dir, "old"), filepath.Join(dir, "new"), "--exit-code")
			if code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.code, errOut)
			}
			if tt.code == ExitError && (!strings.Contains(errOut, "extra.yaml:") || !strings.Contains(errOut, "does not evaluate")) {
				t.Errorf("the error does not name the policy and its file:\n%s", errOut)
			}
		})
	}
}
