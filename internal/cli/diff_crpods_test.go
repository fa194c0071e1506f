package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffUnmodelledPods: the pods of a KEDA ScaledJob or an Argo
// Workflow are not in the network model, so `ward diff --exit-code` said
// "no reachability changes" (exit 0) when a new version gave the
// ScaledJob's pods the label a policy admits to the database, or a new
// port. A change of the labels, ports or host network of such a pod spec,
// or one added or removed, makes the diff incomplete (exit 2, naming the
// custom resource); a change of anything else (the image), or the same
// resource laid out otherwise, does not.
func TestDiffUnmodelledPods(t *testing.T) {
	const apps = `apiVersion: v1
kind: Pod
metadata: {name: db, namespace: data, labels: {app: db}}
spec: {containers: [{name: db, image: db:1, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {db-client: "true"}}}]}]
`
	scaledJob := func(labels, image, ports string) string {
		return `apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: sj, namespace: ci}
spec:
  jobTargetRef:
    template:
      metadata: {labels: ` + labels + `}
      spec: {containers: [{name: j, image: ` + image + `, ports: ` + ports + `}]}
`
	}
	workflow := func(hostNetwork string) string {
		return `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf, namespace: ci}
spec:
  entrypoint: main
  hostNetwork: ` + hostNetwork + `
  templates:
    - name: main
      container: {image: alpine:3.20, command: [echo]}
`
	}
	const sjBlock = `# the same ScaledJob, block style
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: sj
  namespace: ci
spec:
  jobTargetRef:
    template:
      metadata:
        labels:
          app: job
      spec:
        containers:
          - name: j
            image: j:1
            ports: []
`
	tests := []struct {
		name, old, new string
		code           int
	}{
		{"same in both", scaledJob("{app: job}", "j:1", "[]"), scaledJob("{app: job}", "j:1", "[]"), ExitOK},
		{"same, laid out otherwise", scaledJob("{app: job}", "j:1", "[]"), sjBlock, ExitOK},
		{"image changed", scaledJob("{app: job}", "j:1", "[]"), scaledJob("{app: job}", "j:2", "[]"), ExitOK},
		{"labels changed", scaledJob("{app: job}", "j:1", "[]"), scaledJob(`{app: job, db-client: "true"}`, "j:1", "[]"), ExitError},
		{"port added", scaledJob("{app: job}", "j:1", "[]"), scaledJob("{app: job}", "j:1", "[{containerPort: 8080}]"), ExitError},
		{"added", "", scaledJob("{app: job}", "j:1", "[]"), ExitError},
		{"removed", scaledJob("{app: job}", "j:1", "[]"), "", ExitError},
		{"workflow same", workflow("false"), workflow("false"), ExitOK},
		{"workflow host network", workflow("false"), workflow("true"), ExitError},
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
			if tt.code == ExitError && (!strings.Contains(errOut, "extra.yaml:") || !strings.Contains(errOut, "not in the network model")) {
				t.Errorf("the error does not name the custom resource and its file:\n%s", errOut)
			}
		})
	}
}
