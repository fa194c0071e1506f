package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAssertUnmodelledPods: a KEDA ScaledJob's pods in ci (labels app:
// job) may reach db; they are not in the network model, and `ward assert`
// passed "nothing in ci reaches db" on the Deployment alone (exit 0).
// An assertion whose side holds such pods is undecided (exit 2); a side
// that leaves them out is decided.
func TestAssertUnmodelledPods(t *testing.T) {
	const input = `apiVersion: apps/v1
kind: Deployment
metadata: {name: builder, namespace: ci}
spec:
  selector: {matchLabels: {app: builder}}
  template:
    metadata: {labels: {app: builder}}
    spec: {containers: [{name: b, image: b:1}]}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: sj, namespace: ci}
spec:
  jobTargetRef:
    template:
      metadata: {labels: {app: job}}
      spec: {containers: [{name: j, image: j:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: data}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db:1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ci}}, podSelector: {matchLabels: {app: job}}}]}]
`
	tests := []struct {
		name, from string
		code       int
		want       string
	}{
		{"whole namespace", "{namespace: ci}", ExitError, "ScaledJob ci/sj"},
		{"any namespace", "{selector: {}}", ExitError, "UNDECIDED"},
		{"only the unmodelled pods: no match", "{namespace: ci, selector: {app: job}}", ExitFindings, "matches nothing"},
		{"selector leaving it out", "{namespace: ci, selector: {app: builder}}", ExitOK, "PASS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(input), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := "assertions:\n  - name: ci never reaches db\n    from: " + tt.from + "\n    to: {namespace: data, selector: {app: db}}\n    expect: deny\n"
			if err := os.WriteFile(filepath.Join(dir, "ward.yaml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := run(t, "", "assert", dir)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d and %q:\n%s%s", code, tt.code, tt.want, out, errOut)
			}
		})
	}
}
