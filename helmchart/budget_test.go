package helmchart

import (
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/Masterminds/sprig/v3"
	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"

	"github.com/wardsec/ward/manifest"
)

// testLimit is the size limit of the tests: small, so that a hostile
// chart shows the mechanism at a few megabytes at most, never gigabytes.
const testLimit = 64 << 10

const chartYAML = "apiVersion: v2\nname: big\nversion: 0.1.0\n"

// TestSizeLimit: a chart whose files or rendered output pass
// Options.MaxFileSize is an error matching manifest.ErrTooLarge, at the
// file (or the template and the line of the loop or action) at fault;
// the metered ones stop near the limit rather than after writing the
// whole output (16 MiB or more here, 256 times the limit).
func TestSizeLimit(t *testing.T) {
	l100 := "l: [" + strings.TrimSuffix(strings.Repeat("0,", 100), ",") + "]\n"
	big := strings.Repeat("# padding line of a template file\n", 2500) // 85 KiB
	for _, tc := range []struct {
		name  string
		files map[string]string
		file  string
		line  int
		// metered is set when the render must stop early: it allocates
		// less than a few times the limit.
		metered bool
	}{
		{"range until", map[string]string{
			"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  x: |\n{{- range until 1000000 }}\n    0123456789abcdef\n{{- end }}\n",
		}, "templates/cm.yaml", 7, true},
		{"nested ranges over values", map[string]string{
			"values.yaml": l100,
			"templates/cm.yaml": "data:\n{{- range .Values.l }}\n{{- range $.Values.l }}\n" +
				"{{- range $.Values.l }}\n  0123456789abcdef\n{{- end }}{{ end }}{{ end }}\n",
		}, "templates/cm.yaml", 4, true},
		{"repeat", map[string]string{
			"templates/cm.yaml": "data:\n  x: {{ repeat 20000000 \"a\" }}\n",
		}, "templates/cm.yaml", 2, true},
		// seq's three arguments are start, step and end.
		{"seq with a step", map[string]string{
			"templates/cm.yaml": "data:\n  x: {{ seq 1 1 2000000 }}\n",
		}, "templates/cm.yaml", 2, true},
		{"seq down", map[string]string{
			"templates/cm.yaml": "data:\n  x: {{ seq 2000000 -1 1 }}\n",
		}, "templates/cm.yaml", 2, true},
		// sprig's loop would go on past the end, the number wrapped.
		{"untilStep past the largest int", map[string]string{
			"templates/cm.yaml": "data:\n  x: {{ untilStep 9223372036854775806 9223372036854775807 2 }}\n",
		}, "templates/cm.yaml", 2, true},
		{"indent", map[string]string{
			"templates/cm.yaml": "data:\n  x: {{ indent 20000000 \"a\" }}\n",
		}, "templates/cm.yaml", 2, true},
		{"include in a loop", map[string]string{
			"templates/_helpers.tpl": "{{- define \"big.block\" }}\n" + strings.Repeat("# a line of the block\n", 50) + "{{- end }}\n",
			"templates/cm.yaml":      "data:\n{{- range until 20000 }}\n{{ include \"big.block\" $ }}\n{{- end }}\n",
		}, "templates/cm.yaml", 3, true}, // helm names the include
		// An empty define (only space) gets no tick of its own (see
		// meter): the loop that calls it is charged its text.
		{"empty define in a loop", map[string]string{
			"templates/_helpers.tpl": "{{- define \"big.blank\" }}" + strings.Repeat(" ", 32<<10) + "{{ end }}\n",
			"templates/cm.yaml":      "data:\n{{- range until 20000 }}\n{{ template \"big.blank\" }}\n{{- end }}\n",
		}, "templates/cm.yaml", 2, true},
		{"value printed in a loop", map[string]string{
			"values.yaml":       "s: " + strings.Repeat("a", 1024) + "\n",
			"templates/cm.yaml": "data:\n{{- range until 20000 }}\n  {{ $.Values.s }}\n{{- end }}\n",
		}, "templates/cm.yaml", 3, true},
		// A string given to tpl is metered as it is rendered: a loop in
		// it stops near the limit, in a tpl nested in tpl too.
		{"loop in a tpl string", map[string]string{
			"values.yaml": l100,
			"templates/cm.yaml": "data:\n  x: |\n{{ tpl \"{{ range .Values.l }}{{ range $.Values.l }}{{ range $.Values.l }}" +
				"0123456789abcdef{{ end }}{{ end }}{{ end }}\" . | indent 4 }}\n",
		}, "templates/cm.yaml", 3, true},
		{"tpl in a tpl string", map[string]string{
			"values.yaml":       l100 + "inner: \"{{ range .Values.l }}{{ range $.Values.l }}{{ range $.Values.l }}0123456789abcdef{{ end }}{{ end }}{{ end }}\"\n",
			"templates/cm.yaml": "data:\n  x: |\n{{ $ | tpl (printf \"{{ tpl .Values.inner . }}\") | indent 4 }}\n",
		}, "templates/cm.yaml", 3, true},
		{"output over several templates", map[string]string{
			"templates/a.yaml": "a: |\n" + strings.Repeat("  # forty bytes of text in the template\n", 1000),
			"templates/b.yaml": "b: |\n" + strings.Repeat("  # forty bytes of text in the template\n", 1000),
		}, "templates/b.yaml", 0, false},
		{"template file", map[string]string{"templates/cm.yaml": big}, "templates/cm.yaml", 0, false},
		{"values.yaml", map[string]string{"values.yaml": big}, "values.yaml", 0, false},
		{"file for .Files.Get", map[string]string{
			"files/data.txt":    big,
			"templates/cm.yaml": "data:\n  x: {{ .Files.Get \"files/data.txt\" | quote }}\n",
		}, "files/data.txt", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.files["Chart.yaml"] = chartYAML
			dir := write(t, tc.files)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			e := chartError(t, dir, Options{MaxFileSize: testLimit})
			runtime.ReadMemStats(&after)
			if want := filepath.Join(dir, filepath.FromSlash(tc.file)); e.File != want || e.Line != tc.line {
				t.Errorf("error at %s:%d, want %s:%d: %v", e.File, e.Line, want, tc.line, e)
			}
			if !errors.Is(e, manifest.ErrTooLarge) || !strings.Contains(e.Error(), "64 KiB") {
				t.Errorf("error %q: want manifest.ErrTooLarge and the limit", e)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; tc.metered && alloc > 8<<20 {
				t.Errorf("the render allocated %d MiB before failing: not stopped near the limit", alloc>>20)
			}
		})
	}
}

// TestFuncsMetered: values made by template functions are metered, not
// only the text written: a string, list or map doubled in a loop, text
// inserted many times in one call, fails with the size limit at the
// template and line, having allocated a few times the limit rather than
// gigabytes. Without the meter, each renders (the smaller ones here) or
// runs out of memory.
func TestFuncsMetered(t *testing.T) {
	const s40 = `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`
	doubled := func(init, step, use string) string {
		return "{{ $x := " + init + " }}{{ range until 22 }}{{ $x = " + step + " }}{{ end }}\nx: {{ " + use + " }}\n"
	}
	for _, tc := range []struct {
		name, src string
		line      int
	}{
		// .Files.Get makes a new string on each call: kept in a map
		// or a list, each is charged.
		{"file kept in a map", "{{ $d := dict }}{{ range $i := until 2000 }}{{ $_ := set $d (toString $i) ($.Files.Get \"f.txt\") }}{{ end }}x: {{ len $d }}\n", 1},
		{"file kept in a list", "{{ $d := dict }}{{ range $i := until 2000 }}{{ $_ := set $d (toString $i) (list ($.Files.Get \"f.txt\")) }}{{ end }}x: {{ len $d }}\n", 1},
		{"print", doubled(s40, "print $x $x", "len $x"), 1},
		{"printf", doubled(s40, `printf "%s%s" $x $x`, "len $x"), 1},
		{"cat", doubled(s40, "cat $x $x", "len $x"), 1},
		{"b64enc", doubled(s40, "b64enc (print $x $x)", "len $x"), 1},
		{"list toJson", doubled("list 1", "list $x $x", "len (toJson $x)"), 2},
		{"list printed", doubled("list 1", "list $x $x", "$x"), 2},
		{"list toYaml", doubled("list 1", "list $x $x", "toYaml $x | len"), 2},
		{"list joined", doubled("list 1", "list $x $x", `join "," $x | len`), 2},
		{"list quoted", doubled("list 1", "list $x $x", "quote $x | len"), 2},
		{"list deepCopy", doubled("list 1", "list $x $x", "deepCopy $x | len"), 2},
		{"dict toPrettyJson", doubled(`dict "a" 1`, `dict "a" $x "b" $x`, "toPrettyJson $x | len"), 2},
		{"merge set", doubled(`dict "a" 1`, `merge (dict "b" $x) (dict "c" $x)`, "toString $x | len"), 2},
		{"tpl of a doubled string", doubled(`"{{ 1 }}"`, "print $x $x", "tpl $x . | len"), 1},
		{"fromYaml of a doubled string", doubled(`"[1, 2, 3, 4, 5, 6, 7, 8, 9]"`, `print $x "\n" $x`, "fromYamlArray $x | len"), 1},
		{"replace", "x: {{ replace \"\" (repeat 1000 \"a\") (repeat 1000 \"b\") | len }}\n", 1},
		{"regexReplaceAll", "x: {{ regexReplaceAll \"\" (repeat 1000 \"a\") (repeat 1000 \"b\") | len }}\n", 1},
		{"printf widths", "x: {{ printf (repeat 500 \"%999999d\") | len }}\n", 1},
		{"appended", "{{ $l := list }}{{ range until 20000 }}{{ $l = append $l 1 }}{{ end }}x: {{ len $l }}\n", 1},
		{"split", "x: {{ splitList \"\" (repeat 60000 \"a\") | len }}{{ splitList \"\" (repeat 60000 \"a\") | len }}\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, map[string]string{"Chart.yaml": chartYAML, "templates/t.yaml": tc.src, "f.txt": strings.Repeat("a", 60<<10)})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			e := chartError(t, dir, Options{MaxFileSize: testLimit})
			runtime.ReadMemStats(&after)
			if want := filepath.Join(dir, "templates", "t.yaml"); e.File != want || e.Line != tc.line {
				t.Errorf("error at %s:%d, want %s:%d: %v", e.File, e.Line, want, tc.line, e)
			}
			if !errors.Is(e, manifest.ErrTooLarge) || !strings.Contains(e.Error(), "64 KiB") {
				t.Errorf("error %q: want manifest.ErrTooLarge and the limit", e)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("the render allocated %d MiB before failing: not stopped near the limit", alloc>>20)
			}
		})
	}
}

// TestSizeLimitNormal: charts within the limit render, files that
// .helmignore leaves out are not looked at, and the default limit is
// manifest.DefaultMaxFileSize.
func TestSizeLimitNormal(t *testing.T) {
	if _, err := Render(shop, Options{MaxFileSize: testLimit, Set: []string{"database.host=db"}}); err != nil {
		t.Errorf("shop under %d bytes: %v", testLimit, err)
	}
	dir := write(t, map[string]string{
		"Chart.yaml":        chartYAML,
		".helmignore":       "ignored/\n",
		"ignored/big.txt":   strings.Repeat("x", testLimit+1),
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n{{- range until 100 }}\n  k{{ . }}: v\n{{- end }}\n",
	})
	c, err := Render(dir, Options{MaxFileSize: testLimit})
	if err != nil {
		t.Fatalf("a small chart with an ignored large file: %v", err)
	}
	if n := strings.Count(string(c.Templates[0].Data), "\n  k"); n != 100 {
		t.Errorf("%d keys rendered, want 100", n)
	}
	if _, err := Render(dir, Options{}); err != nil {
		t.Errorf("default limit: %v", err)
	}
}

// TestMeterKeepsOutput: the ticks inserted in range and define bodies
// change nothing in the output, whatever trims the space around them:
// the chart renders as helm's engine renders it unmetered.
func TestMeterKeepsOutput(t *testing.T) {
	dir := write(t, map[string]string{
		"Chart.yaml":  chartYAML,
		"values.yaml": "l: [a, b]\nm: {x: 1, y: 2}\nn: 3\nf: 2.5\nb: false\nz: null\n",
		"templates/_helpers.tpl": "{{- define \"big.labels\" -}}\napp: big\n{{- end }}\n" +
			"{{ define \"big.spaced\" }}  spaced: {{ . }}  {{ end }}\n" +
			"{{- define \"big.trimmed\" }}\n  {{- /* c */ -}}\n  t: 1\n{{- end }}\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    {{- include \"big.labels\" . | nindent 4 }}\ndata:\n" +
			"{{- range $i, $v := .Values.l }}\n  {{ $v }}: {{ $i | quote }}\n{{- end }}\n" +
			"{{- range $k, $v := .Values.m -}}\n  {{- $k }}-{{ $v }}\n{{ end }}\n" +
			"{{ range .Values.l }}{{ end }}{{ range .Values.l }}{{- end }}" +
			"{{ range .Values.l }}{{/* c */}}z{{ else }}none{{ end }}\n" +
			"{{ range .Values.none }}x{{ else }}  empty{{ end }}\n" +
			"{{- range .Values.l }}\n\n   {{- include \"big.spaced\" . }}{{ include \"big.trimmed\" . }}\n{{ end -}}\n" +
			"  s: {{ repeat 3 \"ab\" }}{{ until 3 }}{{ untilStep 0 6 2 }}{{ seq 3 }}{{ indent 2 \"i\" }}\n" +
			// Printed values of every kind, and delimiters in strings:
			// the | wardOut appended to each action must change nothing.
			"  v: {{ .Values.missing }}|{{ .Values.l }}|{{ .Values.m }}|{{ .Values.n }}|{{ .Values.f }}|{{ .Values.b }}|{{ .Values.z }}\n" +
			"  w: {{ 1.5 }} {{ true }} {{ .Values.z | default \"d\" }} {{ .Release.Name -}} {{- \"a}}b\" }} {{ \"}}\" | quote }} {{ '}' }} {{ `x}}y -}}` }}\n" +
			"{{- $x := 1 }}{{ $x = 2 }}{{ $x }}{{ $y := \"}}\" }}{{ $y -}}\n" +
			"  ml: {{ list\n  1\n  2 }} {{ \"q\\\"}}\" }} {{ printf \"%v\" .Values.m\t-}}\n" +
			"  t: {{ toYaml .Values.m | nindent 4 }}{{ template \"big.spaced\" 3 }}{{ (tpl \"{{ range .l }}{{ . }}{{ end }}\" .Values) }}\n",
	})
	c, err := Render(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, map[string]any{}, common.ReleaseOptions{
		Name: DefaultReleaseName, Namespace: "default", Revision: 1, IsInstall: true,
	}, common.DefaultCapabilities, true)
	if err != nil {
		t.Fatal(err)
	}
	want, err := engine.Render(ch, top)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Templates) != 1 {
		t.Fatalf("%d templates, want 1", len(c.Templates))
	}
	if diff := cmp.Diff(want["big/templates/cm.yaml"], string(c.Templates[0].Data)); diff != "" {
		t.Errorf("metered output differs from helm's (-helm +ward):\n%s", diff)
	}
}

// TestUntilSteps: untilSteps counts the numbers sprig's untilStep makes,
// and refuses the steps after which sprig's loop would not stop.
func TestUntilSteps(t *testing.T) {
	untilStep := sprig.TxtFuncMap()["untilStep"].(func(int, int, int) []int)
	for start := -5; start <= 5; start++ {
		for stop := -5; stop <= 5; stop++ {
			for step := -3; step <= 3; step++ {
				n, ok := untilSteps(start, stop, step)
				if want := len(untilStep(start, stop, step)); !ok || n != uint64(want) {
					t.Errorf("untilSteps(%d, %d, %d) = %d, %v; want %d, true", start, stop, step, n, ok, want)
				}
			}
		}
	}
	for _, tc := range []struct {
		start, stop, step int
		n                 uint64
		ok                bool
	}{
		{math.MaxInt - 1, math.MaxInt, 2, 1, false},
		{math.MaxInt - 2, math.MaxInt, 2, 1, true},
		{math.MinInt + 1, math.MinInt, -2, 1, false},
		{math.MinInt, math.MaxInt, 1, math.MaxUint64, true},
		{math.MaxInt, math.MinInt, -1, math.MaxUint64, true},
		{0, math.MinInt, math.MinInt, 1, true},
		{math.MaxInt, math.MinInt, math.MinInt, 2, false}, // MaxInt, -1, then MaxInt again
		{math.MinInt, math.MaxInt, math.MaxInt, 3, false},
	} {
		if n, ok := untilSteps(tc.start, tc.stop, tc.step); n != tc.n || ok != tc.ok {
			t.Errorf("untilSteps(%d, %d, %d) = %d, %v; want %d, %v", tc.start, tc.stop, tc.step, n, ok, tc.n, tc.ok)
		}
	}
}

// TestRenderIsHelms: what Render returns is helm's render of the
// templates as written, not the metered one, which only bounds the work:
// a metered render that differed (here made to, on purpose) changes
// nothing in the output.
func TestRenderIsHelms(t *testing.T) {
	dir := write(t, map[string]string{
		"Chart.yaml": chartYAML,
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n" +
			"{{- range $i, $v := list \"a\" \"b\" }}\n  {{ $v }}: {{ $i | quote }}\n{{- end }}\n",
	})
	want, err := Render(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func(f func(string) string) { meteredSource = f }(meteredSource)
	meteredSource = func(src string) string { return strings.ReplaceAll(src, "data:", "data:\n  injected: \"1\"") }
	got, err := Render(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Templates) != 1 || string(got.Templates[0].Data) != string(want.Templates[0].Data) || strings.Contains(string(got.Templates[0].Data), "injected") {
		t.Errorf("with a metered render that differs, Render returned:\n%s\nwant helm's:\n%s", got.Templates[0].Data, want.Templates[0].Data)
	}
}
