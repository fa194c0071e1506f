package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAssertUnevaluatedPolicies: a Calico policy that admits everything
// next to a Kubernetes default deny. Ward evaluates only the default
// deny, so `ward assert` passed "db never reachable from web" (exit 0)
// while Calico lets web reach db. The assertions cannot be decided until
// ward.yaml acknowledges the Calico policy; with the acknowledgement they
// are checked without it.
func TestAssertUnevaluatedPolicies(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("apps.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.example.com/web@sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "registry.example.com/db@sha256:0000000000000000000000000000000000000000000000000000000000000000", ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
`)
	write("calico.yaml", `# the platform team's policy, enforced by Calico
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec:
  selector: all()
  types: [Ingress]
  ingress: [{action: Allow}]
`)
	const assertions = `assertions:
  - name: db never reachable from web
    from: {namespace: shop, selector: {app: web}}
    to: {namespace: shop, selector: {app: db}}
    expect: deny
`
	write("ward.yaml", assertions)
	out, errOut, code := run(t, "", "assert", dir)
	if code != ExitError || strings.Contains(out, "PASS") {
		t.Fatalf("ward assert with an unacknowledged Calico policy: exit %d, want %d and no verdict:\n%s%s", code, ExitError, out, errOut)
	}
	for _, want := range []string{"cannot be decided", "calico.yaml:2", "NetworkPolicy.projectcalico.org/allow-all", "input/unsupported-policy"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error does not name %q:\n%s", want, errOut)
		}
	}

	// Acknowledged in ward.yaml: checked without it, as ward check does.
	write("ward.yaml", assertions+`ignore:
  - rule: input/unsupported-policy
    object: shop/NetworkPolicy.projectcalico.org/allow-all
    reason: reviewed; Calico admits only what the Kubernetes policies do
`)
	out, errOut, code = run(t, "", "assert", dir)
	if code != 0 || !strings.Contains(out, "PASS") {
		t.Errorf("ward assert with the Calico policy acknowledged: exit %d, want 0 and PASS:\n%s%s", code, out, errOut)
	}
	// An acknowledgement of another object does not cover it.
	write("ward.yaml", assertions+`ignore:
  - rule: input/unsupported-policy
    object: other/*
    reason: the other namespace's Calico policies are reviewed
`)
	if _, errOut, code = run(t, "", "assert", dir); code != ExitError {
		t.Errorf("ward assert with another object acknowledged: exit %d, want %d:\n%s", code, ExitError, errOut)
	}
}
