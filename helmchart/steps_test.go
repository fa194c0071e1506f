package helmchart

import (
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
