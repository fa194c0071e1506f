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
	write("apps.yaml", unevaluatedApps)
	write("calico.yaml", unevaluatedCalico)
	const assertions = unevaluatedAssertions
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

// The input of the tests of policies Ward does not evaluate: web and db
// behind a Kubernetes default deny, a Calico policy that admits
// everything, and an assertion that web never reaches db.
const (
	unevaluatedApps = `apiVersion: apps/v1
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
`
	unevaluatedCalico = `# the platform team's policy, enforced by Calico
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec:
  selector: all()
  types: [Ingress]
  ingress: [{action: Allow}]
`
	unevaluatedAssertions = `assertions:
  - name: db never reachable from web
    from: {namespace: shop, selector: {app: web}}
    to: {namespace: shop, selector: {app: db}}
    expect: deny
`
)

// TestAssertWildcardIgnore: an ignore entry of a wildcard rule narrowed to
// a vendored directory ("we do not fix vendor/'s findings") silenced the
// Calico allow-all policy there, and with it the only sign that the
// assertions were judged without it: ward assert passed "db never
// reachable from web" (exit 0), and so did ward check. Only an entry for
// input/unsupported-policy itself acknowledges the policy for the
// assertions.
func TestAssertWildcardIgnore(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"apps.yaml": unevaluatedApps, "vendor/calico.yaml": unevaluatedCalico} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, ignore string
		decided      bool
	}{
		{"every rule under vendor/", `  - rule: "*"
    path: vendor/
    reason: vendored manifests, their findings are upstream's
`, false},
		{"input rules", `  - rule: "input/*"
    reason: input findings are reviewed elsewhere
`, false},
		{"the rule itself", `  - rule: input/unsupported-policy
    path: vendor/
    reason: reviewed; Calico admits only what the Kubernetes policies do
`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "ward.yaml"), []byte(unevaluatedAssertions+"ignore:\n"+tc.ignore), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := run(t, "", "assert", dir)
			switch {
			case tc.decided && (code != 0 || !strings.Contains(out, "PASS")):
				t.Errorf("ward assert: exit %d, want 0 and PASS:\n%s%s", code, out, errOut)
			case !tc.decided && (code != ExitError || strings.Contains(out, "PASS") || !strings.Contains(errOut, "vendor/calico.yaml:2")):
				t.Errorf("ward assert: exit %d, want %d, no verdict, the Calico policy named:\n%s%s", code, ExitError, out, errOut)
			}
			out, errOut, code = run(t, "", "check", dir, "-o", "json")
			undecided := false
			for _, f := range checkOutput(t, out).Findings {
				if f.Rule == "assert/undecided" && f.Suppressed == nil {
					undecided = true
					if !strings.HasSuffix(f.File, "ward.yaml") || !strings.Contains(f.Message, "NetworkPolicy.projectcalico.org/allow-all") {
						t.Errorf("assert/undecided at %s: %s; want it at ward.yaml, naming the Calico policy", f.File, f.Message)
					}
				}
			}
			if undecided == tc.decided || (!tc.decided && code != ExitFindings) {
				t.Errorf("ward check: assert/undecided %v, exit %d; want %v (and exit 1 when undecided); stderr: %s", undecided, code, !tc.decided, errOut)
			}
		})
	}
}

// TestAssertUnevaluatedOtherKinds: the same attack with the other kinds
// Ward does not evaluate (a CiliumNetworkPolicy, a cluster-wide Calico
// GlobalNetworkPolicy, an AdminNetworkPolicy), given on standard input
// with ward.yaml by --expect, and with -o json: each is undecided (exit
// 2, no verdict on stdout), never a PASS.
func TestAssertUnevaluatedOtherKinds(t *testing.T) {
	dir := t.TempDir()
	expect := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(expect, []byte(unevaluatedAssertions), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, policy := range map[string]string{
		"cilium": `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{fromEndpoints: [{}]}]
`,
		"calico global": `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-all}
spec:
  selector: all()
  ingress: [{action: Allow}]
`,
		"admin": `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-all}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]
`,
	} {
		for _, format := range []string{"text", "json"} {
			out, errOut, code := run(t, unevaluatedApps+"---\n"+policy, "assert", "-", "--expect", expect, "-o", format)
			if code != ExitError || strings.Contains(out, "PASS") || strings.Contains(out, `"failed"`) {
				t.Errorf("%s, -o %s: exit %d, want %d and no verdict:\n%s%s", name, format, code, ExitError, out, errOut)
			}
			if !strings.Contains(errOut, "cannot be decided") {
				t.Errorf("%s, -o %s: the error does not say the assertions cannot be decided:\n%s", name, format, errOut)
			}
		}
	}
}
