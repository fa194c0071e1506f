package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMisnamedConfig: the attack renames ward.yaml to ward.yml (or
// Ward.yaml) in a pull request. The file was then not read: its
// assertions and ignores were dropped, and ward check passed with an
// info finding (a document that is not a Kubernetes object) while the
// pull request opened the database the assertions protect. A file so
// named that holds no Kubernetes objects is an input error, exit 2.
func TestMisnamedConfig(t *testing.T) {
	const apps = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: data}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: postgres}]}
`
	const cfg = "assertions:\n  - name: db never reachable from web\n    from: {namespace: web}\n    to: {namespace: data}\n    expect: deny\n"
	for _, name := range []string{"ward.yml", "Ward.yaml", "WARD.YML"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"apps.yaml": apps, name: cfg}, "", "")
			for _, cmd := range []string{"check", "assert"} {
				_, errOut, code := run(t, "", cmd, dir)
				if code != ExitError || !strings.Contains(errOut, filepath.Join(dir, name)+": not read") {
					t.Errorf("ward %s with %s: exit %d, want %d and the file named:\n%s", cmd, name, code, ExitError, errOut)
				}
			}
		})
	}
	// Kubernetes objects in a file so named are manifests, and
	// --config takes any name.
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"ward.yml": apps, "policy.yaml": cfg}, "", "")
	if _, errOut, code := run(t, "", "assert", dir, "--expect", filepath.Join(dir, "policy.yaml")); code != ExitFindings {
		t.Errorf("ward assert with objects in ward.yml: exit %d, want %d (the assertion fails):\n%s", code, ExitFindings, errOut)
	}
	if err := os.Remove(filepath.Join(dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "", "check", dir); code == ExitError {
		t.Errorf("ward check with objects in ward.yml: exit %d:\n%s", code, errOut)
	}
}
