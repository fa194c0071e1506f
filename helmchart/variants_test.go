package helmchart

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// apiVariantNames lists vs as "version served|not served: templates" or
// "...: error".
func apiVariantNames(vs []Variant) []string {
	var out []string
	for _, v := range vs {
		side := " not served"
		if v.Served {
			side = " served"
		}
		if v.Err != nil {
			out = append(out, v.Name+side+": error")
			continue
		}
		out = append(out, v.Name+side+": "+strings.Join(v.Templates, ","))
	}
	return out
}

// TestAPIVersionSides: each side of each gate on an API version asked
// for by name is rendered. Before, only the render that serves every
// version asked for at once was made: a pod privileged only where
// policy/v1beta1 is not served (helm's default set holds it, clusters
// since 1.25 do not) or only where one CRD version is served and another
// is not passed as rendered offline, without a word. A GA version
// (apps/v1), one given with --api-versions and one that changes nothing
// are not named.
func TestAPIVersionSides(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: %s}}\n"
	priv := fmt.Sprintf(pod, "true")
	tests := []struct {
		name     string
		template string
		opts     Options
		want     []string
	}{
		{name: "beta not served", template: "{{- if not (.Capabilities.APIVersions.Has \"policy/v1beta1\") }}\n" + priv + "{{- end }}\n",
			want: []string{"policy/v1beta1 not served: app/templates/x.yaml"}},
		{name: "beta else branch", template: "{{- if .Capabilities.APIVersions.Has \"batch/v1beta1\" }}\n" + fmt.Sprintf(pod, "false") + "{{- else }}\n" + priv + "{{- end }}\n",
			want: []string{"batch/v1beta1 not served: app/templates/x.yaml"}},
		{name: "one served, other not", template: "{{- if and (.Capabilities.APIVersions.Has \"a.example.com/v1\") (not (.Capabilities.APIVersions.Has \"b.example.com/v1\")) }}\n" + priv + "{{- end }}\n",
			want: []string{"a.example.com/v1 served: app/templates/x.yaml"}},
		{name: "GA", template: "{{- if not (.Capabilities.APIVersions.Has \"apps/v1\") }}\n" + priv + "{{- end }}\n"},
		{name: "given", template: "{{- if not (.Capabilities.APIVersions.Has \"policy/v1beta1\") }}\n" + priv + "{{- end }}\n",
			opts: Options{APIVersions: []string{"policy/v1beta1"}}},
		{name: "same output", template: "{{- $x := .Capabilities.APIVersions.Has \"policy/v1beta1\" }}\n" + priv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Render(write(t, map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml": tt.template,
			}), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, apiVariantNames(c.APIVersions)); diff != "" {
				t.Errorf("APIVersions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKubeVersionsComputed: a gate on .Capabilities.KubeVersion whose
// version is not written in the template is tried too: one taken from
// values, directly or through tpl or a helper (semverCompare was called
// with it), or a Minor compared with a value. Before, none was rendered
// for another version, and a NetworkPolicy dropped on older clusters
// passed without a word.
func TestKubeVersionsComputed(t *testing.T) {
	const np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
	tests := []struct {
		name, template string
		want           []string
	}{
		{name: "value", template: "{{- if semverCompare .Values.minKube .Capabilities.KubeVersion.Version }}\n" + np + "{{- end }}\n",
			want: []string{"v1.29.0: app/templates/x.yaml"}},
		{name: "root value", template: "{{- if semverCompare $.Values.gate.min $.Capabilities.KubeVersion.GitVersion }}\n" + np + "{{- end }}\n",
			want: []string{"v1.30.0: app/templates/x.yaml"}},
		{name: "tpl", template: "{{- if semverCompare (tpl .Values.tplMin .) (include \"app.kube\" .) }}\n" + np + "{{- end }}\n",
			want: []string{"v1.31.0: app/templates/x.yaml"}},
		{name: "helper", template: "{{- if include \"app.gate\" . }}\n" + np + "{{- end }}\n",
			want: []string{"v1.32.0: app/templates/x.yaml"}},
		{name: "minor value", template: "{{- if ge (int .Capabilities.KubeVersion.Minor) (int .Values.minMinor) }}\n" + np + "{{- end }}\n",
			want: []string{"v1.32.0: app/templates/x.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, map[string]string{
				"Chart.yaml":          "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"values.yaml":         "minKube: \">=1.30-0\"\ngate: {min: \">=1.31-0\"}\ntplMin: '>={{ \"1.32-0\" }}'\nhelperMin: \">=1.33-0\"\nminMinor: 33\n",
				"templates/x.yaml":    tt.template,
				"templates/_kube.tpl": "{{- define \"app.kube\" }}{{ .Capabilities.KubeVersion.Version }}{{ end }}\n{{- define \"app.gate\" }}{{ if semverCompare (printf \"%s\" .Values.helperMin) (include \"app.kube\" .) }}yes{{ end }}{{ end }}\n",
			})
			c, err := Render(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, variantNames(c.KubeVersions)); diff != "" {
				t.Errorf("KubeVersions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSubchartValuesFiles: the values files of an enabled subchart
// (values-*.yaml, ci/, values/, in a directory or an archive of charts/)
// are rendered with, under the subchart's name, and named when templates
// render otherwise. Before, only the parent's were looked at: a deploy
// giving the subchart's values-prod.yaml under redis: that turns its
// NetworkPolicy off passed without a word.
func TestSubchartValuesFiles(t *testing.T) {
	const np = "{{- if .Values.networkPolicy.enabled }}\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n{{- end }}\n"
	files := map[string]string{
		"Chart.yaml":                             "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: redis, version: 1.0.0}\n",
		"values.yaml":                            "{}\n",
		"charts/redis/Chart.yaml":                "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
		"charts/redis/values.yaml":               "networkPolicy: {enabled: true}\n",
		"charts/redis/values-prod.yaml":          "networkPolicy: {enabled: false}\n",
		"charts/redis/ci/same-values.yaml":       "networkPolicy: {enabled: true}\n",
		"charts/redis/ci/bad-values.yaml":        "networkPolicy: [\n",
		"charts/redis/templates/np.yaml":         np,
		"charts/redis/templates/notes-values.md": "not a values file\n",
	}
	dir := write(t, files)
	c, err := Render(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "charts/redis/ci/bad-values.yaml") + ": error",
		filepath.Join(dir, "charts/redis/values-prod.yaml") + ": app/charts/redis/templates/np.yaml",
	}
	if diff := cmp.Diff(want, variantNames(c.ValuesFiles)); diff != "" {
		t.Errorf("ValuesFiles (-want +got):\n%s", diff)
	}
	for _, v := range c.ValuesFiles {
		if v.Subchart != "redis" {
			t.Errorf("%s: Subchart %q, want redis", v.Name, v.Subchart)
		}
	}
}

// TestMaxVariants: the variant renders are bounded by
// Options.MaxVariants (DefaultMaxVariants by default), and each variant
// not rendered is named in NotRendered. Before, every values file and
// every gate was rendered, without bound: a chart with many ci/ files
// took as many full renders.
func TestMaxVariants(t *testing.T) {
	const np = "{{- if .Values.networkPolicy.enabled }}\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n{{- end }}\n"
	files := map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"values.yaml":       "networkPolicy: {enabled: true}\n",
		"templates/np.yaml": np,
	}
	const n = 20
	for i := range n {
		files[fmt.Sprintf("ci/%02d-values.yaml", i)] = "networkPolicy: {enabled: false}\n"
	}
	dir := write(t, files)
	for _, tt := range []struct {
		max, rendered int
	}{{0, DefaultMaxVariants}, {3, 3}, {UnlimitedVariants, n}, {NoVariants, 0}} {
		c, err := Render(dir, Options{MaxVariants: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ValuesFiles) != tt.rendered {
			t.Errorf("MaxVariants %d: %d values files rendered, want %d", tt.max, len(c.ValuesFiles), tt.rendered)
		}
		var want []string
		for i := tt.rendered; i < n; i++ {
			want = append(want, "values file "+filepath.Join(dir, fmt.Sprintf("ci/%02d-values.yaml", i)))
		}
		if diff := cmp.Diff(want, c.NotRendered); diff != "" {
			t.Errorf("MaxVariants %d: NotRendered (-want +got):\n%s", tt.max, diff)
		}
	}
}

// TestTplGates: a gate on an API version written in a value given to
// tpl is rendered on both sides, as one in a template is. Before, the
// values were not looked at: a privileged pod that a values string
// renders only where a CRD version is served passed without a word.
func TestTplGates(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: true}}\n"
	c, err := Render(write(t, map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"values.yaml":      "extra: |\n  {{- if .Capabilities.APIVersions.Has \"a.example.com/v1\" }}\n" + indent(pod) + "  {{- end }}\nold: |\n  {{- if not (.Capabilities.APIVersions.Has \"policy/v1beta1\") }}\n" + indent(strings.ReplaceAll(pod, "name: p", "name: q")) + "  {{- end }}\n",
		"templates/x.yaml": "{{ tpl .Values.extra . }}\n",
		"templates/y.yaml": "{{ tpl .Values.old . }}\n",
	}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"app/templates/x.yaml"}, c.Cluster); diff != "" {
		t.Errorf("Cluster (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"policy/v1beta1 not served: app/templates/y.yaml"}, apiVariantNames(c.APIVersions)); diff != "" {
		t.Errorf("APIVersions (-want +got):\n%s", diff)
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// TestDisabledDependencyValuesFile: a subchart that its condition or its
// tags disable by default, and that a values file of the chart enables,
// is named with that file: its pods are installed by a deploy that gives
// it, and were never rendered by default.
func TestDisabledDependencyValuesFile(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: true}}\n"
	for _, tt := range []struct{ dep, values, prod string }{
		{dep: "condition: metrics.enabled", values: "metrics: {enabled: false}\n", prod: "metrics: {enabled: true}\n"},
		{dep: "tags: [extras]", values: "tags: {extras: false}\n", prod: "tags: {extras: true}\n"},
	} {
		dir := write(t, map[string]string{
			"Chart.yaml":                       "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: metrics, version: 1.0.0, " + tt.dep + "}\n",
			"values.yaml":                      tt.values,
			"values-prod.yaml":                 tt.prod,
			"templates/cm.yaml":                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			"charts/metrics/Chart.yaml":        "apiVersion: v2\nname: metrics\nversion: 1.0.0\n",
			"charts/metrics/templates/p.yaml":  pod,
			"charts/metrics/values-debug.yaml": "x: 1\n",
		})
		c, err := Render(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{filepath.Join(dir, "values-prod.yaml") + ": app/charts/metrics/templates/p.yaml"}
		if diff := cmp.Diff(want, variantNames(c.ValuesFiles)); diff != "" {
			t.Errorf("%s: ValuesFiles (-want +got):\n%s", tt.dep, diff)
		}
	}
}

// TestNamespaceGates: a template that compares .Release.Namespace with a
// namespace written out is rendered in that namespace too, and named
// when it renders otherwise there. Before, it was rendered in the default
// namespace only: a pod privileged only when installed in kube-system
// passed without a word. A namespace given (ExactNamespace) is the
// release's: no other is tried.
func TestNamespaceGates(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: %s}}\n"
	tests := []struct {
		name, template string
		opts           Options
		want           []string
	}{
		{name: "eq", template: "{{- if eq .Release.Namespace \"kube-system\" }}\n" + fmt.Sprintf(pod, "true") + "{{- end }}\n",
			want: []string{"kube-system: app/templates/x.yaml"}},
		{name: "ne in helper", template: "{{ include \"app.pod\" . }}\n",
			want: []string{"prod: app/templates/x.yaml"}},
		{name: "exact", template: "{{- if eq .Release.Namespace \"kube-system\" }}\n" + fmt.Sprintf(pod, "true") + "{{- end }}\n",
			opts: Options{Namespace: "shop", ExactNamespace: true}},
		{name: "same output", template: "{{- $x := eq .Release.Namespace \"kube-system\" }}\n" + fmt.Sprintf(pod, "false")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Render(write(t, map[string]string{
				"Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml":   tt.template,
				"templates/_pod.tpl": "{{- define \"app.pod\" }}" + fmt.Sprintf(pod, "{{ ne $.Release.Namespace \"prod\" }}") + "{{- end }}\n",
			}), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, variantNames(c.Namespaces)); diff != "" {
				t.Errorf("Namespaces (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValuesFilesNotValues: a file whose name holds "values" but that is
// a schema (values.schema.yaml, the source of values.schema.json) or
// Kubernetes objects (configmap-values.yaml, templated or not) is no
// deploy's values file. Before, each was merged as values: the schema
// made the chart fail its own values.schema.json, the manifest did not
// parse, and each was named as a values file the chart does not render
// with, in the chart and in its subcharts. A values file beside them
// still is.
func TestValuesFilesNotValues(t *testing.T) {
	const schemaJSON = `{"type": "object", "additionalProperties": false, "properties": {"np": {"type": "boolean"}, "sub": {"type": "object"}, "global": {"type": "object"}}}`
	const schemaYAML = "$schema: http://json-schema.org/draft-07/schema#\ntype: object\nadditionalProperties: false\nproperties:\n  np: {type: boolean}\n"
	const manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-values\ndata:\n  a: b\n"
	const np = "{{- if .Values.np }}\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n{{- end }}\n"
	dir := write(t, map[string]string{
		"Chart.yaml":                    "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: sub, version: 1.0.0}\n",
		"values.yaml":                   "np: true\n",
		"values.schema.json":            schemaJSON,
		"values.schema.yaml":            schemaYAML,
		"values-schema.yml":             schemaYAML,
		"configmap-values.yaml":         manifest,
		"ci/example-values-cm.yaml":     "# an example\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"values-prod.yaml":              "np: false\n",
		"templates/np.yaml":             np,
		"charts/sub/Chart.yaml":         "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
		"charts/sub/values.yaml":        "np: true\n",
		"charts/sub/values.schema.json": schemaJSON,
		"charts/sub/values.schema.yaml": schemaYAML,
		"charts/sub/secret-values.yaml": manifest,
		"charts/sub/templates/np.yaml":  strings.ReplaceAll(np, "name: deny", "name: sub"),
	})
	c, err := Render(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "values-prod.yaml") + ": app/templates/np.yaml"}
	if diff := cmp.Diff(want, variantNames(c.ValuesFiles)); diff != "" {
		t.Errorf("ValuesFiles (-want +got):\n%s", diff)
	}
}

// TestNamespaceTests: a template that tests the release's namespace
// otherwise than by eq or ne with a namespace written out (has with a
// list, hasPrefix, hasSuffix, contains, on a namespace a helper made)
// passed as rendered in the default namespace, with no word: a pod
// privileged only in kube-system. The namespaces tested against are now
// noted while rendering and rendered in. And a template that only
// writes the namespace (namespace: {{ .Release.Namespace }}) was named
// as rendering otherwise in each namespace rendered; it is not.
func TestNamespaceTests(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: {{ %s }}}}\n"
	for _, tt := range []struct{ test, ns string }{
		{`has .Release.Namespace (list "kube-system" "ops")`, "kube-system"},
		{`hasPrefix "kube-" .Release.Namespace`, "kube-x"},
		{`include "app.ns" . | hasSuffix "-system"`, "x-system"},
		{`contains "system" .Release.Namespace`, "system"},
	} {
		t.Run(tt.test, func(t *testing.T) {
			c, err := Render(write(t, map[string]string{
				"Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/_ns.tpl": "{{- define \"app.ns\" }}{{ .Release.Namespace }}{{ end }}\n",
				"templates/x.yaml":  fmt.Sprintf(pod, tt.test),
				"templates/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: {{ .Release.Namespace }}}\nsecrets: [{name: \"{{ .Release.Namespace }},{{ .Release.Namespace }}\"}]\n",
			}), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range c.Namespaces {
				if v.Name == tt.ns {
					got = v.Templates
				} else if len(v.Templates) > 0 && v.Name != "ops" {
					t.Errorf("namespace %s: %v", v.Name, v.Templates)
				}
			}
			if diff := cmp.Diff([]string{"app/templates/x.yaml"}, got); diff != "" {
				t.Errorf("namespace %s (-want +got):\n%s\nall: %v", tt.ns, diff, variantNames(c.Namespaces))
			}
		})
	}
}

// TestAPIVersionsAskedAnyhow: an API version asked for otherwise than by
// .Capabilities.APIVersions.Has with a quoted string (a raw string,
// sprig's has on the versions, a version made by print) had its sides
// left unrendered: a pod privileged only where policy/v1beta1 is not
// served (helm's default set serves it; clusters since 1.25 do not)
// passed with no word. The versions asked are now noted while
// rendering, and each side rendered.
func TestAPIVersionsAskedAnyhow(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: {{ not (%s) }}}}\n"
	for _, ask := range []string{
		".Capabilities.APIVersions.Has `policy/v1beta1`",
		`has "policy/v1beta1" .Capabilities.APIVersions`,
		`$.Capabilities.APIVersions.Has (print "policy/" "v1beta1")`,
	} {
		t.Run(ask, func(t *testing.T) {
			c, err := Render(write(t, map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml": fmt.Sprintf(pod, ask),
			}), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"policy/v1beta1 not served: app/templates/x.yaml"}, apiVariantNames(c.APIVersions)); diff != "" {
				t.Errorf("APIVersions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKubeGatesPipedAndVariables: a comparison with the cluster's
// version that takes it through a pipeline (.Minor | int | lt 30) or a
// variable ($m := .Capabilities.KubeVersion.Minor) was not seen as a
// gate: a pod privileged only before Kubernetes 1.30 passed, rendered
// for the latest version, with no word. Each is now rendered on both
// sides of the version compared with.
func TestKubeGatesPipedAndVariables(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: {{ %s }}}}\n"
	for _, gate := range []string{
		`.Capabilities.KubeVersion.Minor | int | gt 30`,
		`$m := .Capabilities.KubeVersion.Minor }}{{ lt (atoi $m) 30`,
		`$v := .Capabilities.KubeVersion }}{{ $w := $v }}{{ lt (atoi $w.Minor) 30`,
	} {
		t.Run(gate, func(t *testing.T) {
			c, err := Render(write(t, map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml": fmt.Sprintf(pod, gate),
			}), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"v1.29.0: app/templates/x.yaml"}, variantNames(c.KubeVersions)); diff != "" {
				t.Errorf("KubeVersions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNamespaceVariables: a namespace compared by eq or ne through a
// variable ($ns := .Release.Namespace, $n := $ns) or a helper that
// writes it (eq (include "app.ns" .) "kube-system") was not seen: a pod
// privileged only in kube-system passed with no word. It is now
// rendered there.
func TestNamespaceVariables(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: {{ %s }}}}\n"
	for _, gate := range []string{
		`$ns := $.Release.Namespace }}{{ $n := $ns }}{{ eq $n "kube-system"`,
		`and (eq (include "app.on" .) "true") (eq (include "app.ns" .) "kube-system")`,
	} {
		t.Run(gate, func(t *testing.T) {
			c, err := Render(write(t, map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/_h.tpl": "{{- define \"app.ns\" }}{{ .Release.Namespace | trunc 63 }}{{ end }}\n{{- define \"app.on\" }}true{{ end }}\n",
				"templates/x.yaml": fmt.Sprintf(pod, gate),
			}), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"kube-system: app/templates/x.yaml"}, variantNames(c.Namespaces)); diff != "" {
				t.Errorf("Namespaces (-want +got):\n%s", diff)
			}
		})
	}
}
