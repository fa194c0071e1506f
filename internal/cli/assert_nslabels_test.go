package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAssertUndeclaredNamespaceLabels: data's policy admits namespaces
// labelled team: storefront, and the input does not declare web, which
// carries that label on the cluster. Ward gave web no labels but its
// name, and `ward assert` passed "db never reachable from web" (exit 0).
// The assertion is undecided (exit 2) until web is declared; declared
// with the label, it fails.
func TestAssertUndeclaredNamespaceLabels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("apps.yaml", undeclaredWebApps)
	write("ward.yaml", `assertions:
  - name: db never reachable from web
    from: {namespace: web}
    to: {namespace: data}
    expect: deny
`)
	out, errOut, code := run(t, "", "assert", dir)
	if code != ExitError || strings.Contains(out, "PASS") {
		t.Fatalf("ward assert with web undeclared: exit %d, want %d and no PASS:\n%s%s", code, ExitError, out, errOut)
	}
	for _, want := range []string{"UNDECIDED", "namespace web is not declared", "apps.yaml:16", "{team=storefront}"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not name %q:\n%s", want, out)
		}
	}
	write("ns.yaml", `apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: storefront}}
`)
	if out, errOut, code = run(t, "", "assert", dir); code != ExitFindings || !strings.Contains(out, "FAIL") {
		t.Errorf("ward assert with web declared: exit %d, want %d and FAIL:\n%s%s", code, ExitFindings, out, errOut)
	}
}

// undeclaredWebApps is a Pod in web, which the input does not declare, and
// one in data whose policy admits namespaces labelled team: storefront
// (apps.yaml:16): whether web reaches db depends on labels of web that
// Ward cannot know.
const undeclaredWebApps = `apiVersion: v1
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
metadata: {name: db-in, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: storefront}}}]}]
`
