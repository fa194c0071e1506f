package helmchart

import (
	"fmt"
	"strings"
	"testing"
)

// TestMaxSteps: a render is bounded in loop iterations and define calls,
// not only in what it writes. Before, a loop that writes nothing ran as
// long as its bound said (two nested `range until 100000` ran for hours,
// once for each render of the chart); it now stops past maxSteps with an
// error at the template and line of the loop. A chart within it renders.
func TestMaxSteps(t *testing.T) {
	defer func(n int64) { maxSteps = n }(maxSteps)
	maxSteps = 10000
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	for _, tt := range []struct {
		name, template string
		line           int // 0: renders
	}{
		{name: "within", template: "{{- range until 100 }}{{ range until 50 }}{{ end }}{{ end }}\n" + cm},
		{name: "range", template: cm + "{{- range until 1000 }}\n{{- range until 1000 }}{{ end }}{{ end }}\n", line: 5},
		{name: "define", template: "{{- define \"app.x\" }}{{ end }}\n" + cm + "{{- range until 100000 }}{{ include \"app.x\" . }}{{ end }}\n", line: 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := write(t, map[string]string{
				"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
				"templates/x.yaml": tt.template,
			})
			if tt.line == 0 {
				if _, err := Render(dir, Options{}); err != nil {
					t.Fatal(err)
				}
				return
			}
			e := chartError(t, dir, Options{})
			if !strings.HasSuffix(e.File, "templates/x.yaml") || e.Line != tt.line || !strings.Contains(e.Err.Error(), "loop iterations") {
				t.Errorf("got %s:%d: %v, want templates/x.yaml at the loop's line, about loop iterations", e.File, e.Line, e.Err)
			}
		})
	}
}

// TestChartSteps: the renders of one chart share a bound on their ticks
// (chartStepsFactor times maxSteps). Before, each variant render had
// maxSteps of its own: a chart looping just under it, with gates and
// values files, took twenty times as long. The render checked is whole;
// the variants past the bound are named with why they did not render.
func TestChartSteps(t *testing.T) {
	defer func(n int64) { maxSteps = n }(maxSteps)
	maxSteps = 10000
	const np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
	files := map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"values.yaml":      "np: true\n",
		"templates/x.yaml": "{{- range until 9000 }}{{ end }}\n{{- if and .Values.np (semverCompare \">=1.30-0\" .Capabilities.KubeVersion.Version) }}\n" + np + "{{- end }}\n",
	}
	for i := range 6 {
		files[fmt.Sprintf("ci/%d-values.yaml", i)] = "np: false\n"
	}
	c, err := Render(write(t, files), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Templates) != 1 {
		t.Errorf("templates %v, want the NetworkPolicy's", c.Templates)
	}
	var bounded, rendered int
	for _, v := range append(c.KubeVersions, c.ValuesFiles...) {
		switch {
		case v.Err != nil && strings.Contains(v.Err.Error(), "together run more than"):
			bounded++
		case v.Err == nil:
			rendered++
		default:
			t.Errorf("%s: %v", v.Name, v.Err)
		}
	}
	if bounded == 0 || rendered == 0 {
		t.Errorf("%d variants rendered, %d past the chart's bound; want some of each", rendered, bounded)
	}
}
