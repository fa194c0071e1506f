package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelmChartGateSides: gates Ward did not render each side of passed
// clean with no word on stderr: a pod privileged only on clusters that
// do not serve policy/v1beta1 (helm's default set, which Ward renders
// with, holds it; clusters since 1.25 do not), a NetworkPolicy dropped
// before a Kubernetes version taken from values, a subchart's values
// file that turns its NetworkPolicy off. Each is now named on stderr,
// as is what --max-chart-renders left unrendered.
func TestHelmChartGateSides(t *testing.T) {
	const np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: true}}\n"
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml":                     "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: redis, version: 1.0.0}\n",
		"values.yaml":                    "minKube: \">=1.30-0\"\n",
		"templates/pod.yaml":             "{{- if not (.Capabilities.APIVersions.Has \"policy/v1beta1\") }}\n" + pod + "{{- end }}\n",
		"templates/np.yaml":              "{{- if semverCompare .Values.minKube .Capabilities.KubeVersion.Version }}\n" + np + "{{- end }}\n",
		"charts/redis/Chart.yaml":        "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
		"charts/redis/values.yaml":       "networkPolicy: true\n",
		"charts/redis/values-prod.yaml":  "networkPolicy: false\n",
		"charts/redis/templates/np.yaml": "{{- if .Values.networkPolicy }}\n" + strings.ReplaceAll(np, "name: deny", "name: redis") + "{{- end }}\n",
	}
	for i := range 5 {
		files[fmt.Sprintf("ci/%d-values.yaml", i)] = "minKube: \">=1.2-0\"\n"
	}
	writeTree(t, dir, files, "", "")
	api := "ward: warning: " + dir + ": the template app/templates/pod.yaml renders otherwise on a cluster that does not serve policy/v1beta1"
	kube := "ward: warning: " + dir + ": the template app/templates/np.yaml renders otherwise for Kubernetes v1.29.0"
	sub := "ward: warning: " + dir + ": the chart's values file " + filepath.Join(dir, "charts/redis/values-prod.yaml") + " is not given (--values), and with it the template app/charts/redis/templates/np.yaml renders otherwise than checked here: what a deploy with the subchart's values file " + filepath.Join(dir, "charts/redis/values-prod.yaml") + " under redis: installs"
	// The chart's own values files first: two of the five rendered.
	capped := "ward: warning: " + dir + ": the chart has 8 more variants than the 2 other renders Ward makes (--max-chart-renders); not rendered, so what the chart installs with them is not checked nor compared: values file " + filepath.Join(dir, "ci/2-values.yaml") + "; "
	for _, tc := range []struct {
		args                     []string
		api, kube, sub, notRendr bool
	}{
		{nil, true, true, true, false},
		{[]string{"--api-versions", "policy/v1beta1", "--kube-version", "1.37"}, false, false, true, false},
		{[]string{"--max-chart-renders", "2"}, false, false, false, true},
	} {
		_, errOut, _ := run(t, "", append([]string{"check", dir, "-o", "json"}, tc.args...)...)
		for _, w := range []struct {
			name, text string
			want       bool
		}{{"API version", api, tc.api}, {"kube version", kube, tc.kube}, {"subchart values", sub, tc.sub}, {"not rendered", capped, tc.notRendr}} {
			if got := strings.Contains(errOut, w.text); got != w.want {
				t.Errorf("%v: %s warning %v, want %v; stderr: %s", tc.args, w.name, got, w.want, errOut)
			}
		}
	}
}

// TestHelmChartNamespaceGate: a pod privileged only when the chart is
// installed in kube-system passed clean, rendered in the default
// namespace, with no word; it is now named on stderr, unless --namespace
// gives the release's namespace (and then checked as rendered there).
func TestHelmChartNamespaceGate(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: {{ eq .Release.Namespace \"kube-system\" }}}}\n",
	}, "", "")
	warn := "ward: warning: " + dir + ": the template app/templates/pod.yaml renders otherwise when installed in namespace kube-system (.Release.Namespace)"
	out, errOut, _ := run(t, "", "check", dir, "-o", "json")
	if !strings.Contains(errOut, warn) || strings.Contains(out, "privileged") {
		t.Errorf("default namespace: warning %v, privileged reported %v; want true, false; stderr: %s", strings.Contains(errOut, warn), strings.Contains(out, "privileged"), errOut)
	}
	out, errOut, _ = run(t, "", "check", dir, "-o", "json", "-n", "kube-system")
	if strings.Contains(errOut, warn) || !strings.Contains(out, "privileged") {
		t.Errorf("-n kube-system: warning %v, privileged reported %v; want false, true; stderr: %s", strings.Contains(errOut, warn), strings.Contains(out, "privileged"), errOut)
	}
}

// TestMaxChartRendersZero: --max-chart-renders 0 asked for no other
// render of a chart but made the default sixteen (the library's 0 is its
// default). It now renders none and names each variant as not rendered;
// a count below -1 (no limit) is a usage error, where it was no limit.
func TestMaxChartRendersZero(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"values.yaml":        "priv: false\n",
		"values-prod.yaml":   "priv: true\n",
		"templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: {{ .Values.priv }}}}\n",
	}, "", "")
	prod := filepath.Join(dir, "values-prod.yaml")
	rendered := "ward: warning: " + dir + ": the chart's values file " + prod + " is not given (--values), and with it the template app/templates/pod.yaml renders otherwise"
	skipped := "ward: warning: " + dir + ": the chart has 1 more variants than the 0 other renders Ward makes (--max-chart-renders); not rendered, so what the chart installs with them is not checked nor compared: values file " + prod + "\n"
	_, errOut, code := run(t, "", "check", dir, "-o", "json", "--max-chart-renders", "0")
	if strings.Contains(errOut, rendered) || !strings.Contains(errOut, skipped) || code == ExitError {
		t.Errorf("--max-chart-renders 0: exit %d, rendered %v, named as not rendered %v; want no render, named; stderr: %s", code, strings.Contains(errOut, rendered), strings.Contains(errOut, skipped), errOut)
	}
	_, errOut, _ = run(t, "", "check", dir, "-o", "json", "--max-chart-renders", "-1")
	if !strings.Contains(errOut, rendered) {
		t.Errorf("--max-chart-renders -1: values-prod.yaml not rendered; stderr: %s", errOut)
	}
	out, errOut, code := run(t, "", "check", dir, "-o", "json", "--max-chart-renders", "-2")
	if code != ExitError || out != "" || !strings.Contains(errOut, "--max-chart-renders -2") {
		t.Errorf("--max-chart-renders -2: exit %d, stdout %q, stderr %q; want a usage error, exit %d", code, out, errOut, ExitError)
	}
}
