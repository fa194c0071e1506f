package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffUndeclaredNamespaceLabels: NEW adds a policy admitting
// namespaces labelled team: storefront to db; web carries that label on
// the cluster, but no version declares web, so Ward gave it no labels and
// `ward diff --exit-code` said "no reachability changes", exit 0. A
// changed policy that reads an undeclared namespace's labels makes the
// diff incomplete (exit 2); with web declared, the opening is shown.
func TestDiffUndeclaredNamespaceLabels(t *testing.T) {
	const apps = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: web, labels: {app: web}}
spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: data, labels: {app: db}}
spec: {containers: [{name: db, image: db:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: data}
spec: {podSelector: {}, policyTypes: [Ingress]}
`
	const opening = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-storefront, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: storefront}}}]}]
`
	const webNS = `apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: storefront}}
---
apiVersion: v1
kind: Namespace
metadata: {name: data}
`
	tests := []struct {
		name, old, new string
		code           int
		want           string
	}{
		{"web undeclared", apps, apps + "---\n" + opening, ExitError, "data/NetworkPolicy/db-from-storefront"},
		{"web undeclared, removed", apps + "---\n" + opening, apps, ExitError, "data/NetworkPolicy/db-from-storefront"},
		{"web undeclared, unchanged", apps + "---\n" + opening, apps + "---\n" + opening, ExitOK, ""},
		{"web declared", apps + "---\n" + webNS, apps + "---\n" + webNS + "---\n" + opening, ExitFindings, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old, new := filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml")
			if err := os.WriteFile(old, []byte(tt.old), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(new, []byte(tt.new), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := run(t, "", "diff", old, new, "--exit-code")
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, want %d and %q on stderr:\n%s%s", code, tt.code, tt.want, out, errOut)
			}
		})
	}
}
