package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardsec/ward/finding"
)

// environmentTree is a repository with one application in two overlays
// of one base (staging and prod, both in namespace shop), a NetworkPolicy
// file beside them that both clusters get, and a ward.yaml whose
// assertion prod breaks (it lets every pod reach the database).
var environmentTree = map[string]string{
	"app/base/kustomization.yaml": "resources: [deployment.yaml, db.yaml]\n",
	"app/base/deployment.yaml":    kustomizeDeployment,
	"app/base/db.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
`,
	"app/overlays/staging/kustomization.yaml": "namespace: shop\nresources: [../../base]\n",
	"app/overlays/prod/kustomization.yaml":    "namespace: shop\nresources: [../../base, open-db.yaml]\npatches: [{path: privileged.yaml}]\n",
	"app/overlays/prod/privileged.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: web, securityContext: {privileged: true}}]
`,
	"app/overlays/prod/open-db.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open-db}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]
`,
	"app/policies/deny.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
`,
	"app/ward.yaml": `assertions:
  - name: web never reaches db
    from: {namespace: shop, selector: {app: web}}
    to: {namespace: shop, selector: {app: db}}
    expect: deny
`,
}

// TestCheckEnvironments: kustomizations that emit the same objects are
// environments, each checked as one cluster with the input they share;
// what holds in all is reported once, what holds in some names them; a
// plain manifest that an overlay emits too is still a duplicate.
func TestCheckEnvironments(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, environmentTree, "", "")
	app := filepath.Join(dir, "app")
	prod, staging := filepath.Join(app, "overlays", "prod"), filepath.Join(app, "overlays", "staging")

	out, errOut, code := run(t, "", "check", app, "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d (prod's privileged container); stderr: %s\n%s", code, ExitFindings, errOut, out)
	}
	if !strings.Contains(errOut, "2 kustomizations or charts emit the same objects") || !strings.Contains(errOut, prod+", "+staging) {
		t.Errorf("stderr does not announce the two environments: %s", errOut)
	}
	res := checkOutput(t, out)
	envsOf := map[string][]string{} // rule object -> environments
	for _, f := range res.Findings {
		if f.Rule == ruleInvalid || f.Rule == ruleUnreadable {
			t.Errorf("input error: %+v", f)
		}
		envsOf[f.Rule+" "+f.Object] = f.Environments
	}
	for _, c := range []struct {
		key  string
		want []string // nil: in both, so named in neither
	}{
		{"pss/privileged shop/Deployment/web", []string{prod}},
		{"assert/failed web never reaches db", []string{prod}},
		{"netpol/allow-all shop/NetworkPolicy/open-db", []string{prod}},
		{"pod/image-not-pinned shop/Deployment/db", nil},
		{"pss/runAsNonRoot shop/Deployment/db", nil},
	} {
		got, ok := envsOf[c.key]
		if !ok {
			t.Errorf("no finding %s; findings: %v", c.key, keys(envsOf))
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: environments %v, want %v", c.key, got, c.want)
		}
	}
	// The assertion's trace says which port it explains, and where the
	// rule is (kustomize gives the file of a resource, not its line).
	for _, f := range res.Findings {
		if f.Rule == "assert/failed" && (!strings.Contains(f.Message, ": all (explained for 1/TCP)") || strings.Contains(f.Message, ".yaml:0)")) {
			t.Errorf("assertion message:\n%s", f.Message)
		}
	}
	if res.Summary.InputErrors != 0 {
		t.Errorf("input errors: %d", res.Summary.InputErrors)
	}

	// The text report names the environment of a finding.
	text, _, _ := run(t, "", "check", app)
	if !regexp.MustCompile(`(?m)^  HIGH .* pss/privileged  shop/Deployment/web .*\[in ` + regexp.QuoteMeta(prod) + `\]$`).MatchString(text) {
		t.Errorf("text report does not name the environment:\n%s", text)
	}

	// Staging alone is clean of prod's findings, and one environment.
	out, errOut, _ = run(t, "", "check", staging, filepath.Join(app, "policies"), "--config", filepath.Join(app, "ward.yaml"), "-o", "json")
	for _, f := range checkOutput(t, out).Findings {
		if f.Rule == "pss/privileged" || f.Rule == "assert/failed" || len(f.Environments) > 0 {
			t.Errorf("staging alone: %+v", f)
		}
	}
	if strings.Contains(errOut, "environment") {
		t.Errorf("staging alone announced environments: %s", errOut)
	}

	// Standard input is read once and checked in every environment; a
	// warning about what they share is said once.
	writeTree(t, dir, map[string]string{"app/overlays/staging/stray.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray}\n"}, "", "")
	const piped = "apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: tools}\nspec: {hostNetwork: true, containers: [{name: c, image: busybox}]}\n"
	out, errOut, code = run(t, piped, "check", "-", app, "-o", "json")
	if code != ExitFindings {
		t.Errorf("standard input and two environments: exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	piped1 := false
	for _, f := range checkOutput(t, out).Findings {
		if f.Rule == ruleInvalid || f.Rule == ruleUnreadable {
			t.Errorf("standard input and two environments: input error %+v", f)
		}
		if f.Rule == "pss/hostNamespaces" && f.Object == "tools/Pod/debug" {
			piped1 = len(f.Environments) == 0
		}
	}
	if !piped1 {
		t.Errorf("the piped Pod's pss/hostNamespaces is missing or not in both environments:\n%s", out)
	}
	if n := strings.Count(errOut, "stray.yaml"); n != 1 {
		t.Errorf("the warning about stray.yaml is said %d times, want once:\n%s", n, errOut)
	}

	// Commands that answer about one cluster ask for one environment.
	_, errOut, code = run(t, "", "reach", app)
	if code != ExitError || !strings.Contains(errOut, prod+", "+staging+" emit the same objects") {
		t.Errorf("ward reach on two environments: exit %d, want %d naming them; stderr: %s", code, ExitError, errOut)
	}

	// An overlay that only lists its base is read as written: with an
	// overlay that kustomize builds, the base is read twice, which the
	// error says.
	plain := t.TempDir()
	writeTree(t, plain, map[string]string{
		"base/kustomization.yaml":             "resources: [deployment.yaml]\n",
		"base/deployment.yaml":                kustomizeDeployment,
		"overlays/staging/kustomization.yaml": "resources: [../../base]\n",
		"overlays/prod/kustomization.yaml":    "resources: [../../base]\nimages: [{name: nginx, newTag: \"1.27\"}]\n",
	}, "", "")
	out, _, code = run(t, "", "check", plain, "-o", "json")
	dup := false
	for _, f := range checkOutput(t, out).Findings {
		dup = dup || f.Rule == ruleInvalid && strings.Contains(f.Message, "deployment.yaml is read twice, as written and through a kustomize build") && strings.Contains(f.Fix, "one of them at a time")
	}
	if code != ExitError || !dup {
		t.Errorf("an overlay listing its base and one building it: exit %d, want %d with the duplicate explained:\n%s", code, ExitError, out)
	}

	// A plain manifest that an overlay emits too is one cluster's input
	// twice: a duplicate object, as before.
	writeTree(t, dir, map[string]string{"app/policies/web.yaml": kustomizeDeployment}, "", "")
	out, _, code = run(t, "", "check", app, "-o", "json")
	if code != ExitError || !strings.Contains(out, "duplicate object") {
		t.Errorf("plain manifest and overlays emitting shop/Deployment/web: exit %d, want %d with a duplicate object:\n%s", code, ExitError, out)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// environmentCases are trees that `ward check` must not pass on: what
// one cluster holds is never split into environments that each look
// clean.
var environmentCases = []struct {
	name string
	tree map[string]string
	// code is the exit of `ward check` on the tree with --fail-on
	// critical; out must occur in its JSON output.
	code int
	out  string
}{{
	// Two kustomizations of one namespace each emit its Namespace: the
	// application's overlays, and another one whose policy opens the
	// database to every address. They are one cluster (a Namespace is
	// not an environment's): checked apart, each looked clean.
	name: "shared Namespace",
	tree: map[string]string{
		"base/kustomization.yaml": "resources: [ns.yaml, db.yaml]\n",
		"base/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
		"base/db.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16", ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
`,
		"overlays/prod/kustomization.yaml":    "namespace: shop\nresources: [../../base]\n",
		"overlays/staging/kustomization.yaml": "namespace: shop\nresources: [../../base]\n",
		"metrics/kustomization.yaml":          "namespace: shop\nresources: [ns.yaml, open.yaml]\n",
		"metrics/ns.yaml":                     "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
		"metrics/open.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: metrics}
spec:
  podSelector: {}
  ingress: [{}]
`,
	},
	code: ExitError,
	out:  "duplicate object",
}, {
	// Two applications of one namespace include the same component, a
	// default-deny policy; the second's policy opens every pod of the
	// namespace, the first's database among them. They share no
	// workload: one cluster, not environments.
	name: "shared component policy",
	tree: map[string]string{
		"components/deny/kustomization.yaml": "resources: [deny.yaml]\n",
		"components/deny/deny.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
`,
		"db/kustomization.yaml": "namespace: shop\nresources: [../components/deny, db.yaml]\n",
		"db/db.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16", ports: [{containerPort: 5432}]}]}
`,
		"metrics/kustomization.yaml": "namespace: shop\nresources: [../components/deny, open.yaml]\n",
		"metrics/open.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: metrics}
spec:
  podSelector: {}
  ingress: [{}]
`,
	},
	code: ExitError,
	out:  "duplicate object",
}}

// TestCheckEnvironmentsCases: input that one cluster holds is checked as
// one, not as environments that each pass.
func TestCheckEnvironmentsCases(t *testing.T) {
	for _, c := range environmentCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, c.tree, "", "")
			out, errOut, code := run(t, "", "check", dir, "--fail-on", "critical", "-o", "json")
			if code != c.code || !strings.Contains(out, c.out) {
				t.Errorf("exit %d, want %d with %q; stderr: %s\n%s", code, c.code, c.out, errOut, out)
			}
		})
	}
}

// TestCheckEnvironmentsSARIFFingerprints: a finding suppressed in one
// environment (an annotation staging's patch adds) and not in another is
// two SARIF results with fingerprints of their own: code scanning takes
// results of one fingerprint as one alert, which the suppressed result
// would close, hiding prod's.
func TestCheckEnvironmentsSARIFFingerprints(t *testing.T) {
	tree := maps.Clone(environmentTree)
	tree["app/overlays/staging/kustomization.yaml"] = "namespace: shop\nresources: [../../base]\npatches: [{path: ignore.yaml}]\n"
	tree["app/overlays/staging/ignore.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop, annotations: {ignore.ward.dev/pod.image-not-pinned: "staging pulls by tag"}}
`
	dir := t.TempDir()
	writeTree(t, dir, tree, "", "")
	out, errOut, _ := run(t, "", "check", filepath.Join(dir, "app"), "-o", "sarif")
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID              string            `json:"ruleId"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Suppressions        []any             `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil || len(log.Runs) != 1 {
		t.Fatalf("%v; stderr: %s\n%s", err, errOut, out)
	}
	seen := map[string]bool{}
	suppressed := 0
	for _, r := range log.Runs[0].Results {
		fp := r.PartialFingerprints["wardFinding/v1"]
		if seen[fp] {
			t.Errorf("%s: two results with fingerprint %s", r.RuleID, fp)
		}
		seen[fp] = true
		if r.RuleID == "pod/image-not-pinned" && len(r.Suppressions) > 0 {
			suppressed++
		}
	}
	if suppressed != 1 {
		t.Errorf("%d suppressed pod/image-not-pinned results, want 1 (staging's)", suppressed)
	}
}

// TestCheckEnvironmentsStdin: standard input, as PATH or --workloads, is
// part of every environment, though it can be read only once: no
// environment finds it empty, and the default-deny policy given on it
// isolates the database in staging too.
func TestCheckEnvironmentsStdin(t *testing.T) {
	deny := environmentTree["app/policies/deny.yaml"]
	for _, c := range []struct {
		name, stdin string
		args        []string // after "check" and the app directory
		drop        string   // a file of environmentTree left out
	}{
		{name: "PATH", stdin: deny, args: []string{"-"}, drop: "app/policies/deny.yaml"},
		{name: "--workloads", stdin: strings.ReplaceAll(kustomizeDeployment, "web", "extra"), args: []string{"--workloads", "-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tree := maps.Clone(environmentTree)
			delete(tree, c.drop)
			dir := t.TempDir()
			writeTree(t, dir, tree, "", "")
			app := filepath.Join(dir, "app")
			prod := filepath.Join(app, "overlays", "prod")
			out, errOut, code := run(t, c.stdin, slices.Concat([]string{"check", app}, c.args, []string{"-o", "json"})...)
			if code != ExitFindings {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
			}
			res := checkOutput(t, out)
			if res.Summary.InputErrors != 0 {
				t.Errorf("%d input errors", res.Summary.InputErrors)
			}
			for _, f := range res.Findings {
				switch {
				case f.Rule == ruleUnreadable || f.Rule == ruleInvalid:
					t.Errorf("input error: %+v", f)
				case f.Rule == "assert/failed" && !slices.Equal(f.Environments, []string{prod}):
					t.Errorf("assertion failed in %v, want %s only (staging's database is isolated)", f.Environments, prod)
				}
			}
		})
	}
}

// TestCheckEnvironmentsMerge: findings are merged across environments
// only when they are the same, severity included: kept once as holding in
// all, a finding graver in prod would carry staging's severity, which
// --fail-on may pass.
func TestCheckEnvironmentsMerge(t *testing.T) {
	envs := []environment{{name: "prod"}, {name: "staging"}}
	f := finding.Finding{Rule: "pod/x", File: "base/web.yaml", Line: 3, Object: "shop/Deployment/web", Message: "m"}
	at := func(sev finding.Severity) finding.Finding { g := f; g.Severity = sev; return g }
	for _, c := range []struct {
		name string
		fss  [][]finding.Finding
		want []string // severity [environments] of each finding merged
	}{
		{"same in both", [][]finding.Finding{{at(finding.High)}, {at(finding.High)}}, []string{"high []"}},
		{"graver in prod", [][]finding.Finding{{at(finding.Critical)}, {at(finding.High)}}, []string{"critical [prod]", "high [staging]"}},
		{"graver in staging", [][]finding.Finding{{at(finding.Low)}, {at(finding.High)}}, []string{"low [prod]", "high [staging]"}},
		{"twice in one", [][]finding.Finding{{at(finding.High), at(finding.High)}, {}}, []string{"high [prod]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, m := range mergeEnvironments(envs, c.fss) {
				got = append(got, fmt.Sprintf("%s %v", m.Severity, m.Environments))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("merged %v, want %v", got, c.want)
			}
		})
	}
}
