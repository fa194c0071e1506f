package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const chartDir = "helmchart/testdata/shop"

// TestHelmChartGolden: `ward check CHART` with a values override file,
// --set, a release name and a namespace: the chart and its subcharts are
// rendered and every finding names its template file and the template's
// own line.
func TestHelmChartGolden(t *testing.T) {
	args := []string{"check", chartDir, "-f", chartDir + "/values-prod.yaml", "--set", "hardened=false,image.tag=2.0", "-n", "shop", "--release-name", "prod"}
	out, errOut, code := run(t, "", args...)
	if code != ExitFindings {
		t.Errorf("exit %d, want %d; stderr: %s", code, ExitFindings, errOut)
	}
	golden(t, "check-helm.txt", out)

	out, _, _ = run(t, "", append(args, "-o", "json")...)
	res := checkOutput(t, out)
	if res.Summary.InputErrors != 0 || res.Summary.Objects != 6 {
		t.Errorf("input errors %d, objects %d; want 0 and 6", res.Summary.InputErrors, res.Summary.Objects)
	}
	seen := map[string]bool{}
	for _, f := range res.Findings {
		if f.Origin == "" || !strings.HasPrefix(f.File, chartDir+"/") || !strings.HasSuffix(f.File, strings.TrimPrefix(f.Origin, "shop/")) {
			t.Errorf("%s %s: file %s, origin %s: want the template file and helm's name for it", f.Rule, f.Object, f.File, f.Origin)
		}
		seen[f.Rule+" "+f.Object+" "+f.File+":"+strconv.Itoa(f.Line)] = true
	}
	for _, want := range []string{
		"pss/privileged shop/Deployment/prod-shop " + chartDir + "/templates/deployment.yaml:36",
		"pss/hostNamespaces shop/Deployment/prod-shop " + chartDir + "/templates/deployment.yaml:19",
		"pss/hostNamespaces shop/DaemonSet/prod-metrics " + chartDir + "/charts/metrics/templates/daemonset.yaml:15",
		"pod/exposed-unisolated shop/Service/prod-shop " + chartDir + "/templates/service.yaml:1",
	} {
		if !seen[want] {
			t.Errorf("no finding %s", want)
		}
	}
}

// TestHelmChartErrors: a chart that does not render is an input error
// (exit 2) at the template and line helm names, with helm's message; a
// missing dependency names Chart.yaml; the templates of a chart given on
// their own are not read as manifests; a bad --set is a usage error.
func TestHelmChartErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		file string
		line int
		msg  string
	}{
		{"required", []string{chartDir}, chartDir + "/templates/deployment.yaml", 26, "helm template: execution error at (shop/templates/deployment.yaml:26:24): database.host is required"},
		{"bad template", []string{"helmchart/testdata/bad-template"}, "helmchart/testdata/bad-template/templates/configmap.yaml", 6, `function "nosuchfunction" not defined`},
		{"missing dependency", []string{"helmchart/testdata/missing-dep"}, "helmchart/testdata/missing-dep/Chart.yaml", 0, `dependency "postgres" (repository https://charts.example.invalid/stable) is not in charts/ and is never downloaded`},
		{"templates dir", []string{chartDir + "/templates", "--set", "database.host=x"}, chartDir + "/templates", 0, "part of the Helm chart " + chartDir},
		{"template file", []string{chartDir + "/templates/service.yaml"}, chartDir + "/templates/service.yaml", 0, "part of the Helm chart " + chartDir},
		{"subchart templates", []string{chartDir + "/charts/redis/templates"}, chartDir + "/charts/redis/templates", 0, "part of the Helm chart " + chartDir + "/charts/redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, "", append([]string{"check", "-o", "json"}, tc.args...)...)
			if code != ExitError {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitError, errOut)
			}
			res := checkOutput(t, out)
			if len(res.Findings) != 1 {
				t.Fatalf("want one finding:\n%s", out)
			}
			f := res.Findings[0]
			if f.Rule != ruleUnreadable || f.File != tc.file || f.Line != tc.line || !strings.Contains(f.Message, tc.msg) {
				t.Errorf("got %s %s:%d %q; want %s:%d %q", f.Rule, f.File, f.Line, f.Message, tc.file, tc.line, tc.msg)
			}
		})
	}

	// A subchart given on its own is a chart: rendered with its own values.
	out, errOut, code := run(t, "", "check", "-o", "json", chartDir+"/charts/redis")
	if res := checkOutput(t, out); code != ExitFindings || res.Summary.Objects != 1 || res.Summary.InputErrors != 0 {
		t.Errorf("subchart alone: exit %d, %+v; stderr %s", code, res.Summary, errOut)
	}

	// The commands that stop at input errors name the file.
	_, errOut, code = run(t, "", "reach", chartDir)
	if code != ExitError || !strings.Contains(errOut, chartDir+"/templates/deployment.yaml:26") || !strings.Contains(errOut, "database.host is required") {
		t.Errorf("reach: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{
		{"--set", "a[x]=1"},
		{"-f", "helmchart/testdata/none.yaml"},
		{"-f", "http://127.0.0.1:1/values.yaml"},
		{"--kube-version", "one"},
		{"--release-name", "Not_A_Release"},
	} {
		out, errOut, code := run(t, "", append([]string{"check", chartDir}, args...)...)
		if code != ExitError || out != "" || errOut == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and an error only", args, code, out, errOut)
		}
	}
	out, _, code = run(t, "", "check", chartDir, "--set", "database.host=x", "--kube-version", "1.20")
	if code != ExitError || !strings.Contains(out, chartDir+"/Chart.yaml") || !strings.Contains(out, "chart requires kubeVersion: >=1.25.0-0 which is incompatible with Kubernetes v1.20") {
		t.Errorf("kube version below the chart's kubeVersion: exit %d\n%s", code, out)
	}
}

// TestHelmChartKubeVersion: charts are rendered for check's
// --pss-version unless --kube-version is given.
func TestHelmChartKubeVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--pss-version", "v1.24"}, ExitError}, // below the chart's kubeVersion: >=1.25.0-0
		{[]string{"--pss-version", "v1.24", "--kube-version", "1.30"}, ExitOK},
		{[]string{"--pss-version", "v1.30"}, ExitOK},
		{[]string{"--kube-version", "v1.24.3"}, ExitError},
	} {
		out, errOut, code := run(t, "", append([]string{"check", chartDir, "--set", "database.host=db"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, errOut)
		}
		if tc.code == ExitError && !strings.Contains(out, "incompatible with Kubernetes v1.24") {
			t.Errorf("%v: no kubeVersion error:\n%s", tc.args, out)
		}
	}
}

// TestHelmChartInTree: a chart found while walking a directory is
// rendered (its templates never read as manifests) beside the tree's
// plain manifests, and other commands read charts too.
func TestHelmChartInTree(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join(root, chartDir), filepath.Join(dir, "charts", "shop"))
	if err := os.WriteFile(filepath.Join(dir, "namespace.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "", "check", dir, "-o", "json", "-n", "shop", "--set", "database.host=db")
	if code != ExitOK { // hardened: nothing high
		t.Errorf("exit %d; stderr %s", code, errOut)
	}
	res := checkOutput(t, out)
	if res.Summary.InputErrors != 0 || res.Summary.Objects != 6 {
		t.Errorf("input errors %d, objects %d; want 0 and 6 (the namespace and the chart's five; its Secret is skipped):\n%s", res.Summary.InputErrors, res.Summary.Objects, out)
	}
	out, errOut, code = run(t, "", "reach", dir, "-n", "shop", "--set", "database.host=db")
	if code != ExitOK || !strings.Contains(out, "shop/Deployment/release-name-shop") || !strings.Contains(out, "shop/StatefulSet/release-name-redis") {
		t.Errorf("reach: exit %d\n%s\n%s", code, out, errOut)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o750)
		}
		data, err := os.ReadFile(p) // #nosec G304 -- test data
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHelmChartOtherFiles: below a chart, outside templates/, charts/ and
// crds/, a kustomization or another chart is rendered (it is deployed on
// its own), and a file holding Kubernetes objects, which helm does not
// install, is announced on stderr as not read; values files are not.
func TestHelmChartOtherFiles(t *testing.T) {
	const privileged = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  containers:\n  - {name: c, image: x, securityContext: {privileged: true}}\n"
	chart := map[string]string{
		"app/Chart.yaml":          "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"app/values.yaml":         "replicas: 1\n",
		"app/values-prod.yaml":    "replicas: 3\n",
		"app/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
		"app/templates/note.yaml": "# kind: Pod\n",
	}
	tests := []struct {
		name   string
		files  map[string]string
		path   string // given to ward check, in the tree
		object string // the object that must get pss/privileged, or ""
		warn   string // what stderr must say, or ""
	}{
		{
			name:  "manifest beside the templates",
			files: map[string]string{"app/extra/pod.yaml": strings.Replace(privileged, "%s", "extra", 1)},
			path:  "app", warn: "app/extra/pod.yaml: not read: it holds Kubernetes objects but lies in the Helm chart",
		},
		{
			name:  "manifest beside the templates, tree walked",
			files: map[string]string{"app/extra/pod.json": `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}`},
			path:  ".", warn: "app/extra/pod.json: not read",
		},
		{
			name: "kustomization below the chart",
			files: map[string]string{
				"app/deploy/kustomization.yaml": "resources:\n- pod.yaml\n",
				"app/deploy/pod.yaml":           strings.Replace(privileged, "%s", "kustomized", 1),
			},
			path: "app", object: "default/Pod/kustomized",
		},
		// A chart that is a kustomization too: kubectl apply -k and Flux
		// build the kustomization (before: only the chart was rendered,
		// and the privileged pod it lists passed clean).
		{
			name: "chart that is a kustomization",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- pod.yaml\n",
				"app/pod.yaml":           strings.Replace(privileged, "%s", "kustomized", 1),
			},
			path: "app", object: "default/Pod/kustomized", warn: "app: both a Helm chart and a kustomization",
		},
		{
			name: "chart that is a kustomization, tree walked",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- pod.yaml\n",
				"app/pod.yaml":           strings.Replace(privileged, "%s", "kustomized", 1),
			},
			path: ".", object: "default/Pod/kustomized", warn: "app: both a Helm chart and a kustomization",
		},
		// Both emit the same pod: two environments, never one cluster's
		// duplicate objects.
		{
			name: "chart that is a kustomization of the same pod",
			files: map[string]string{
				"app/templates/pod.yaml": strings.Replace(privileged, "%s", "same", 1),
				"app/kustomization.yaml": "resources:\n- pod.yaml\n",
				"app/pod.yaml":           strings.Replace(privileged, "%s", "same", 1),
			},
			path: "app", object: "default/Pod/same", warn: "app: both a Helm chart and a kustomization",
		},
		{
			name: "chart below the chart",
			files: map[string]string{
				"app/examples/agent/Chart.yaml":         "apiVersion: v2\nname: agent\nversion: 0.1.0\n",
				"app/examples/agent/templates/pod.yaml": strings.Replace(privileged, "%s", "agent", 1),
			},
			path: ".", object: "default/Pod/agent",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := t.TempDir()
			writeTree(t, tree, chart, "", "")
			writeTree(t, tree, tt.files, "", "")
			out, errOut, code := run(t, "", "check", filepath.Join(tree, tt.path), "-o", "json")
			res := checkOutput(t, out)
			if res.Summary.InputErrors != 0 {
				t.Errorf("input errors %d, want 0:\n%s", res.Summary.InputErrors, out)
			}
			if tt.warn != "" && !strings.Contains(errOut, "ward: warning: "+filepath.Join(tree, tt.warn)) {
				t.Errorf("stderr = %q, want a warning %q", errOut, tt.warn)
			}
			if tt.warn == "" && strings.Contains(errOut, "not read") || strings.Contains(errOut, "values") {
				t.Errorf("stderr = %q: a warning about a file without objects", errOut)
			}
			if tt.object == "" {
				return
			}
			found := false
			for _, f := range res.Findings {
				found = found || f.Rule == "pss/privileged" && f.Object == tt.object
			}
			if !found || code != ExitFindings {
				t.Errorf("exit %d, pss/privileged on %s: %v; want exit %d and the finding:\n%s", code, tt.object, found, ExitFindings, out)
			}
		})
	}
}

// TestHelmChartAskCluster: a template gated on the cluster's API versions
// renders nothing offline, which is said on stderr; --api-versions serves
// the version, and the template's privileged pod is checked.
func TestHelmChartAskCluster(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
		"templates/pod.yaml": "{{- if .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" }}\n" +
			"apiVersion: v1\nkind: Pod\nmetadata: {name: exporter}\nspec:\n  containers:\n  - {name: c, image: x, securityContext: {privileged: true}}\n{{- end }}\n",
	}, "", "")
	tests := []struct {
		name  string
		args  []string
		code  int
		warn  bool
		found bool
	}{
		{name: "offline", code: ExitOK, warn: true},
		{name: "api versions given", args: []string{"--api-versions", "monitoring.coreos.com/v1"}, code: ExitFindings, found: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, "", append([]string{"check", dir, "-o", "json"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			want := "ward: warning: " + dir + ": the template app/templates/pod.yaml rendered nothing, but it asks the cluster"
			if got := strings.Contains(errOut, want); got != tt.warn {
				t.Errorf("stderr = %q; warning %q: %v, want %v", errOut, want, got, tt.warn)
			}
			found := false
			for _, f := range checkOutput(t, out).Findings {
				found = found || f.Rule == "pss/privileged" && f.Object == "default/Pod/exporter"
			}
			if found != tt.found {
				t.Errorf("pss/privileged on default/Pod/exporter: %v, want %v:\n%s", found, tt.found, out)
			}
		})
	}
}

// TestHelmChartClusterVersions: a template that asks whether the cluster
// serves an API version by name renders, offline, as for a cluster that
// does not; a pod privileged only where cert-manager.io/v1 is served
// passed the gate in silence. It is now named on stderr, unless the
// version is given with --api-versions (and then checked as rendered).
func TestHelmChartClusterVersions(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: x, securityContext: {privileged: {{ .Capabilities.APIVersions.Has \"cert-manager.io/v1\" }}}}\n"
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n", "templates/pod.yaml": pod}, "", "")
	_, errOut, _ := run(t, "", "check", dir, "-o", "json")
	if want := "ward: warning: " + dir + ": the template app/templates/pod.yaml renders otherwise on a cluster that serves cert-manager.io/v1"; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	out, errOut, code := run(t, "", "check", dir, "-o", "json", "--api-versions", "cert-manager.io/v1")
	if code != ExitFindings || !strings.Contains(out, "pss/privileged") || strings.Contains(errOut, "renders otherwise") {
		t.Errorf("with --api-versions: exit %d, want %d, pss/privileged and no warning; stderr: %s", code, ExitFindings, errOut)
	}
}

// TestHelmChartUpgrade: helm upgrade renders with .Release.IsUpgrade set
// (IsInstall unset, a later Revision); Ward renders as helm template does,
// as an install. A pod that turns privileged on every upgrade passed the
// gate in silence; the template is now named on stderr. A template that
// reads the release's state but renders the same, or a chart that does
// not, gets no warning; a chart that fails to render on upgrade (such as
// one asking for the current passwords, which lookup cannot find
// offline) is named too.
func TestHelmChartUpgrade(t *testing.T) {
	const chartYAML = "apiVersion: v2\nname: app\nversion: 0.1.0\n"
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {rev: \"{{ .Release.Revision }}\"}}\nspec:\n  containers:\n  - {name: c, image: x, securityContext: {privileged: %s}}\n"
	tests := []struct {
		name, template, want string
	}{
		{"privileged on upgrade", fmt.Sprintf(pod, "{{ .Release.IsUpgrade }}"), "the template app/templates/pod.yaml renders otherwise on helm upgrade"},
		{"revision in a label", fmt.Sprintf(pod, "false"), "the template app/templates/pod.yaml renders otherwise on helm upgrade"},
		{"the same on upgrade", fmt.Sprintf(strings.Replace(pod, "{{ .Release.Revision }}", "{{ if .Release.IsInstall }}1{{ else }}1{{ end }}", 1), "false"), ""},
		{"fails on upgrade", "{{ if .Release.IsUpgrade }}{{ fail \"give the current password\" }}{{ end }}" + fmt.Sprintf(pod, "false"), "the chart reads the release's state (.Release.IsUpgrade, IsInstall or Revision) but does not render as helm upgrade renders it"},
		{"no release state", strings.Replace(fmt.Sprintf(pod, "false"), "{{ .Release.Revision }}", "1", 1), ""},
		// .Release taken whole: no field named, the upgrade told apart all
		// the same (before: no second render, the gate passed in silence).
		{"whole release", strings.Replace(fmt.Sprintf(pod, `{{ regexMatch "Upg[a-z]+:true" (printf "%v" .Release) }}`), "{{ .Release.Revision }}", "1", 1), "the template app/templates/pod.yaml renders otherwise on helm upgrade"},
		// A random password beside: only the state's difference counts
		// (before: every template with randAlphaNum was named).
		{"random beside", strings.Replace(fmt.Sprintf(pod, "false"), "{{ .Release.Revision }}", "{{ randAlphaNum 8 }}{{ if .Release.IsInstall }}1{{ else }}1{{ end }}", 1), ""},
		{"release name only", strings.Replace(fmt.Sprintf(pod, "false"), "{{ .Release.Revision }}", "{{ .Release.Name }}-{{ $.Release.Namespace }}", 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"Chart.yaml": chartYAML, "templates/pod.yaml": tt.template}, "", "")
			_, errOut, code := run(t, "", "check", dir, "-o", "json")
			if code != ExitOK {
				t.Errorf("exit %d, want %d (the install renders an unprivileged pod); stderr: %s", code, ExitOK, errOut)
			}
			if tt.want == "" {
				if strings.Contains(errOut, "upgrade") {
					t.Errorf("stderr = %q: want no warning", errOut)
				}
				return
			}
			if want := "ward: warning: " + dir + ": " + tt.want; !strings.Contains(errOut, want) {
				t.Errorf("stderr = %q, want %q", errOut, want)
			}
		})
	}
}

// TestHelmChartClusterState: a pod privileged only where lookup finds an
// object (through a helper), or where the cluster serves an API version
// the chart computes, passed clean, rendered offline unprivileged; the
// template is now named on stderr.
func TestHelmChartClusterState(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: x, securityContext: {privileged: %s}}\n"
	tests := []struct {
		name, helper, want string
	}{
		{"lookup", `{{ define "app.on" }}{{ if lookup "v1" "Namespace" "" "kube-system" }}true{{ else }}false{{ end }}{{ end }}`,
			"the template app/templates/pod.yaml renders otherwise when lookup finds the objects it asks the cluster for"},
		{"computed version", `{{ define "app.on" }}{{ .Capabilities.APIVersions.Has (printf "%s/v1" "monitoring.coreos.com") }}{{ end }}`,
			"the template app/templates/pod.yaml renders otherwise on a cluster that serves the API versions it asks .Capabilities.APIVersions for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{
				"Chart.yaml":            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/_helper.tpl": tt.helper,
				"templates/pod.yaml":    fmt.Sprintf(pod, `{{ include "app.on" . }}`),
			}, "", "")
			_, errOut, _ := run(t, "", "check", dir, "-o", "json")
			if want := "ward: warning: " + dir + ": " + tt.want; !strings.Contains(errOut, want) {
				t.Errorf("stderr = %q, want %q", errOut, want)
			}
		})
	}
}

// TestHelmChartHookPolicies: a NetworkPolicy that is a Helm hook is in the
// network model only when helm install creates it and leaves it there (a
// pre-install or post-install hook not deleted on success); any other is
// input/unsupported-policy, left out of the model. A default deny that
// helm creates only for helm test isolated every pod in Ward's model.
func TestHelmChartHookPolicies(t *testing.T) {
	const chart = "internal/cli/testdata/helm-hooks"
	for _, tc := range []struct {
		name     string
		set      []string
		modelled bool   // the default deny isolates the pods
		reason   string // in the input/unsupported-policy message, when not modelled
	}{
		{"not a hook", nil, true, ""},
		{"test hook", []string{"hook=test"}, false, "Helm hook (test) that helm install does not create"},
		{"upgrade hook", []string{"hook=pre-upgrade"}, false, "Helm hook (pre-upgrade) that helm install does not create"},
		{"deleted on success", []string{"hook=post-install", "deletePolicy=hook-succeeded"}, false, "helm deletes once created"},
		{"install hook kept", []string{"hook=pre-install", "deletePolicy=before-hook-creation"}, true, ""},
		// Helm reads both annotations in any case, and skips an object
		// with a hook it does not know.
		{"install hook in capitals kept", []string{"hook=Pre-Install"}, true, ""},
		{"deleted on success in capitals", []string{"hook=pre-install", "deletePolicy=Hook-Succeeded"}, false, "helm deletes once created"},
		{"unknown hook skipped", []string{`hook=pre-install\,post-instal`}, false, "a hook Helm does not know"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"check", chart, "-o", "json"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, errOut, code := run(t, "", args...)
			res := checkOutput(t, out)
			var unsupported, noDeny bool
			for _, f := range res.Findings {
				switch {
				case f.Rule == "input/unsupported-policy" && f.Object == "default/NetworkPolicy/deny-all":
					unsupported = true
					if !strings.Contains(f.Message, tc.reason) {
						t.Errorf("message %q lacks %q", f.Message, tc.reason)
					}
				case f.Rule == "netpol/no-default-deny-ingress":
					noDeny = true
				}
			}
			if unsupported == tc.modelled {
				t.Errorf("input/unsupported-policy reported: %v, want %v; stderr: %s", unsupported, !tc.modelled, errOut)
			}
			if noDeny != !tc.modelled {
				t.Errorf("netpol/no-default-deny-ingress reported: %v, want %v (the policy is modelled: %v)", noDeny, !tc.modelled, tc.modelled)
			}
			if !tc.modelled && code != ExitFindings {
				t.Errorf("exit %d, want %d: the policy Ward leaves out fails the run", code, ExitFindings)
			}
		})
	}
}

// TestHelmChartHookMeshPolicies: Istio's PeerAuthentication and
// AuthorizationPolicy that are Helm hooks helm install does not create are
// reported as not evaluated, as NetworkPolicies are, and left out of the
// mesh audit: a STRICT PeerAuthentication and an allow-nothing
// AuthorizationPolicy created only by helm test made the namespace look
// strict and baselined, with no finding.
func TestHelmChartHookMeshPolicies(t *testing.T) {
	const chart = "internal/cli/testdata/helm-hooks-mesh"
	objs := []string{"default/PeerAuthentication/strict", "default/AuthorizationPolicy/allow-nothing"}
	for _, tc := range []struct {
		name     string
		set      []string
		modelled bool
	}{
		{"not a hook", nil, true},
		{"install hook kept", []string{"hook=post-install"}, true},
		{"test hook", []string{"hook=test"}, false},
		{"test hook in capitals", []string{"hook=Test"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"check", chart, "-o", "json"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, errOut, _ := run(t, "", args...)
			res := checkOutput(t, out)
			for _, obj := range objs {
				unsupported := false
				for _, f := range res.Findings {
					if f.Rule == "input/unsupported-policy" && f.Object == obj {
						unsupported = true
						if !strings.Contains(f.Message, "Helm hook") {
							t.Errorf("message %q does not say it is a Helm hook", f.Message)
						}
					}
				}
				if unsupported == tc.modelled {
					t.Errorf("%s: input/unsupported-policy reported: %v, want %v; stderr: %s", obj, unsupported, !tc.modelled, errOut)
				}
			}
		})
	}
}

// TestHelmTemplateOutputHooks: helm template's output checked as a file
// (helm template shop ./chart > all.yaml; ward check all.yaml) holds the
// chart's hooks, test hooks included, as plain objects. The default deny
// helm creates only for helm test was in force in Ward's model, so the
// chart's open database passed; read as the chart itself is, it is
// reported as not evaluated.
func TestHelmTemplateOutputHooks(t *testing.T) {
	file := filepath.Join(t.TempDir(), "all.yaml")
	const rendered = `---
# Source: shop/templates/app.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres@sha256:0000000000000000000000000000000000000000000000000000000000000000
        ports: [{containerPort: 5432, name: pg}]
---
# Source: shop/templates/tests/deny.yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: shop
  annotations:
    "helm.sh/hook": test
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`
	if err := os.WriteFile(file, []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "", "check", file, "-o", "json")
	var unsupported, open bool
	for _, f := range checkOutput(t, out).Findings {
		switch {
		case f.Rule == "input/unsupported-policy" && f.Object == "shop/NetworkPolicy/deny-all":
			unsupported = strings.Contains(f.Message, "Helm hook (test)")
		case f.Rule == "netpol/datastore-open":
			open = true
		}
	}
	if !unsupported || !open || code != ExitFindings {
		t.Errorf("test hook reported as not evaluated: %v, open database reported: %v, exit %d (want true, true, %d); stderr: %s",
			unsupported, open, code, ExitFindings, errOut)
	}
}

// TestHelmChartVariants: a chart whose NetworkPolicy is rendered only
// from Kubernetes 1.29 on, or that a values file of its own turns off,
// passed clean for the default version and values without a word; each
// is now named on stderr, unless the version is given with
// --kube-version, or the file with -f (and then checked as rendered).
func TestHelmChartVariants(t *testing.T) {
	const np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"values.yaml":       "networkPolicy: true\n",
		"values-prod.yaml":  "networkPolicy: false\n",
		"templates/np.yaml": "{{- if and .Values.networkPolicy (semverCompare \">=1.29-0\" .Capabilities.KubeVersion.GitVersion) }}\n" + np + "{{- end }}\n",
	}, "", "")
	kube := "ward: warning: " + dir + ": the template app/templates/np.yaml renders otherwise for Kubernetes v1.28.0 (.Capabilities.KubeVersion) than checked here"
	values := "ward: warning: " + dir + ": the chart's values file " + filepath.Join(dir, "values-prod.yaml") + " is not given (--values), and with it the template app/templates/np.yaml renders otherwise"
	for _, tc := range []struct {
		args       []string
		kube, vals bool
	}{
		{nil, true, true},
		{[]string{"--kube-version", "1.37"}, false, true},
		{[]string{"-f", filepath.Join(dir, "values-prod.yaml")}, false, false}, // no policy rendered: nothing gated differs
		{[]string{"--pss-version", "v1.30"}, true, true},
	} {
		_, errOut, _ := run(t, "", append([]string{"check", dir, "-o", "json"}, tc.args...)...)
		if got := strings.Contains(errOut, kube); got != tc.kube {
			t.Errorf("%v: kube version warning %v, want %v; stderr: %s", tc.args, got, tc.kube, errOut)
		}
		if got := strings.Contains(errOut, values); got != tc.vals {
			t.Errorf("%v: values file warning %v, want %v; stderr: %s", tc.args, got, tc.vals, errOut)
		}
	}
}
