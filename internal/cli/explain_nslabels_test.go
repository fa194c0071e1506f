package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainUndeclaredNamespaceLabels: ward explain and ward reach warn
// when a verdict may rest on labels of a namespace the input does not
// declare. The flow web -> data/db is DENIED here, where web carries
// kubernetes.io/metadata.name alone, and allowed on a cluster whose web
// namespace is labelled team=storefront; explain said DENIED with no
// caveat. With the Namespace object given, no warning.
func TestExplainUndeclaredNamespaceLabels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("apps.yaml", undeclaredWebApps)
	for _, args := range [][]string{{"explain", dir, "--from", "web/web", "--to", "data/db"}, {"reach", dir}} {
		out, errOut, code := run(t, "", args...)
		if code != ExitOK {
			t.Fatalf("%s: exit %d:\n%s%s", args[0], code, out, errOut)
		}
		for _, want := range []string{"warning: verdicts may differ on the cluster", "data/db-in (", "apps.yaml:"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s with web undeclared: stderr lacks %q:\n%s", args[0], want, errOut)
			}
		}
	}
	write("ns.yaml", `apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: storefront}}
---
apiVersion: v1
kind: Namespace
metadata: {name: data}
`)
	out, errOut, code := run(t, "", "explain", dir, "--from", "web/web", "--to", "data/db")
	if code != ExitOK || strings.Contains(errOut, "verdicts may differ") || !strings.Contains(out, "ALLOWED") {
		t.Errorf("explain with the namespaces declared: exit %d, want ALLOWED and no warning:\n%s%s", code, out, errOut)
	}
}
