package helmchart

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"

	"github.com/wardsec/ward/manifest"
)

// The differential tests of the meter: random templates (templateGen,
// which shares nothing with metered and actionEnd) and hand-made hostile
// ones are rendered by helm's engine as they are written and as Ward
// renders them, metered; any difference in the text of a template, or
// an error on one side only, means Ward would audit something other than
// what helm installs.

// diffValues is the values.yaml of the generated charts: every kind of
// value a template may print.
const diffValues = `s: "a}}b{{c"
e: ""
n: 3
f: 2.5
b: true
z: null
l: [a, "b c", 1]
m: {x: 1, "y": [1, 2], z: {k: v}}
nested: {deep: {deeper: "-}}"}}
t: "{{ .Values.s }}-{{ range .Values.l }}{{ . }}{{ end }}"
tt: "{{ tpl .Values.t . }}"
`

// renderPair renders the chart made of values and templates (name to
// source, under templates/) twice: metered as Render does (meter, then
// the engine with the budget's functions, of limit), and by helm's engine
// unmetered. A render that passes the limit is not done unmetered: ok is
// false.
func renderPair(t testing.TB, values string, templates map[string]string, limit int64) (helm map[string]string, helmErr error, ward map[string]string, wardErr error, ok bool) {
	t.Helper()
	load := func() (*chart.Chart, common.Values) {
		vals, err := common.ReadValues([]byte(values))
		if err != nil {
			t.Fatal(err)
		}
		ch := &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "gen", Version: "0.1.0"},
			Values:   vals,
		}
		for name, src := range templates {
			ch.Templates = append(ch.Templates, &common.File{Name: "templates/" + name, Data: []byte(src)})
		}
		top, err := util.ToRenderValuesWithSchemaValidation(ch, map[string]any{}, common.ReleaseOptions{
			Name: DefaultReleaseName, Namespace: "default", Revision: 1, IsInstall: true,
		}, common.DefaultCapabilities, true)
		if err != nil {
			t.Fatal(err)
		}
		return ch, top
	}
	ch, top := load()
	meter(ch)
	b := newBudget(limit)
	ward, wardErr = engine.Engine{CustomTemplateFuncs: b.funcs()}.RenderWithContext(context.Background(), ch, top)
	if b.exceeded {
		return nil, nil, nil, nil, false
	}
	ch, top = load()
	helm, helmErr = engine.Render(ch, top)
	return helm, helmErr, ward, wardErr, true
}

// sameRender fails unless helm's and Ward's renders of templates agree:
// the same text for every template, or an error on both sides.
func sameRender(t testing.TB, templates map[string]string, limit int64) {
	t.Helper()
	helm, helmErr, ward, wardErr, ok := renderPair(t, diffValues, templates, limit)
	if !ok {
		t.Skipf("past the limit of %d bytes", limit)
	}
	if (helmErr == nil) != (wardErr == nil) {
		t.Fatalf("helm's error %v, Ward's %v, for\n%s", helmErr, wardErr, showTemplates(templates))
	}
	for name, want := range helm {
		if got := ward[name]; got != want {
			t.Fatalf("%s: Ward renders %q, helm %q, for\n%s", name, got, want, showTemplates(templates))
		}
	}
	if len(ward) != len(helm) {
		t.Fatalf("Ward renders %d templates, helm %d", len(ward), len(helm))
	}
}

func showTemplates(templates map[string]string) string {
	var b strings.Builder
	for name, src := range templates {
		fmt.Fprintf(&b, "--- %s\n%q\n", name, src)
	}
	return b.String()
}

// templateGen writes random templates that parse (most of the time: a
// few pieces of text make the lexer fail, on both sides alike).
type templateGen struct {
	r       *rand.Rand
	b       strings.Builder
	vars    []string // variables in scope, innermost last
	loops   int      // enclosing ranges (break and continue allowed)
	defines []string // define and block names made so far
	depth   int
	ndef    int
}

func (g *templateGen) pick(s ...string) string { return s[g.r.Intn(len(s))] }

// space is the space between the words of an action.
func (g *templateGen) space() string {
	return g.pick(" ", " ", " ", "  ", "\t", "\n", "\n  ", "\r\n", " \n\t")
}

// open and close are an action's delimiters, with or without their trim
// markers.
func (g *templateGen) open() string {
	if g.r.Intn(3) == 0 {
		return "{{-" + g.pick(" ", "\t", "\n", "\r", "\r\n", "  ")
	}
	return "{{" + g.pick("", " ", "", "\n", "\t")
}

func (g *templateGen) close() string {
	if g.r.Intn(3) == 0 {
		return g.pick(" ", "\t", "\n", "\r", "\r\n", "  ") + "-}}"
	}
	return g.pick("", " ", "", "\n", "\t ") + "}}"
}

// text is literal text: spaces to trim, and delimiter look-alikes.
func (g *templateGen) text() string {
	return g.pick("\n", "\n", "  ", "\n  ", "\t", " x ", "key: ", "}}", "-}}", " -}}", "{ ", "}", "é€", "\r\n", "a\n\n", "#{x}", "$", "- ", "-", "\v", "")
}

// str is a quoted, raw or character constant holding delimiters.
func (g *templateGen) str() string {
	return g.pick(`"a}}b"`, `"{{"`, `"-}}"`, `" -}}"`, `"\"}}"`, `"x"`, `""`, "`}}`", "`{{ . }}`", "` -}}\n`", "`a\"b`",
		`'}'`, `'\''`, `'"'`, `'{'`, `"\\"`, `"é}}"`, `"/* */"`, `"{{/* */}}"`)
}

func (g *templateGen) value() string {
	// $.Values, not .Values: dot changes in range and with.
	vs := []string{"$.Values.s", "$.Values.e", "$.Values.n", "$.Values.f", "$.Values.b", "$.Values.z", "$.Values.l", "$.Values.m",
		"$.Values.m.z", "$.Values.nested.deep", "$.Values.missing", "$.Values.m.y", "$.Release.Name", "$.Values", "$.Values.nested", "$.Capabilities.KubeVersion", "$.Chart.Name",
		"1", "-2", "0x1F", "2.5", "1e3", "true", "false", g.str(), g.str()}
	vs = append(vs, g.vars...)
	return vs[g.r.Intn(len(vs))]
}

// expr is an operand: a value or a parenthesized pipeline, maybe across
// lines.
func (g *templateGen) expr(depth int) string {
	if depth > 2 || g.r.Intn(3) > 0 {
		return g.value()
	}
	sp := g.space
	switch g.r.Intn(12) {
	case 0:
		return "(" + g.pipeline(depth+1) + ")"
	case 1:
		return "(list" + sp() + g.expr(depth+1) + sp() + g.expr(depth+1) + ")"
	case 2:
		return "(dict" + sp() + `"k"` + sp() + g.expr(depth+1) + ")"
	case 3:
		return "(printf" + sp() + `"%v-%v"` + sp() + g.expr(depth+1) + sp() + g.expr(depth+1) + ")"
	case 4:
		return "(default" + sp() + g.str() + sp() + g.expr(depth+1) + ")"
	case 5:
		if len(g.defines) > 0 {
			return "(include" + sp() + `"` + g.pick(g.defines...) + `"` + sp() + "$)"
		}
		return "(toString " + g.expr(depth+1) + ")"
	case 6:
		// The string in every form of operand: a literal, fields, a
		// variable, a parenthesized pipeline, a chain, piped in.
		switch g.r.Intn(3) {
		case 0:
			return "(tpl" + sp() + g.pick(`"{{ .Values.s }}"`, `"{{- range .Values.l }} {{ . -}} {{ end }}"`, "`{{ \"}}\" }}`", `"x"`) + sp() + "$)"
		case 1:
			return "(tpl" + sp() + g.pick(".Values.t", "$.Values.tt", "(printf \"%s\" .Values.t)", "(dict \"v\" .Values.t).v", "(.Values.t)") + sp() + "$)"
		}
		return "($" + sp() + "|" + sp() + "tpl" + sp() + g.pick(".Values.t", "$.Values.tt", "(toString .Values.t)") + ")"
	case 7:
		return "(repeat 2 (toString " + g.expr(depth+1) + "))"
	case 8:
		return "(" + g.pick("until 3", "untilStep 0 6 2", "seq 3", "seq 1 2 5") + ")"
	case 9:
		return "(eq" + sp() + "(kindOf " + g.expr(depth+1) + ")" + sp() + g.pick(`"string"`, `"map"`, `"int"`) + ")"
	case 10:
		return "(" + g.expr(depth+1) + ")"
	default:
		return "(toYaml" + sp() + g.expr(depth+1) + ")"
	}
}

// pipeline is an operand followed by functions it goes through.
func (g *templateGen) pipeline(depth int) string {
	p := g.expr(depth)
	for range g.r.Intn(3) {
		p += g.space() + "|" + g.space() + g.pick("quote", "toString", "toString | upper", "toYaml", "toYaml | nindent 2", "toString | indent 4", "toString | trim", "toJson | b64enc", `default "d"`, "toJson", "squote", "toString | len", "kindOf")
	}
	if g.r.Intn(10) == 0 {
		p += g.space() + "|" // a pipeline may end with its pipe
	}
	return p
}

// action writes {{ p }}.
func (g *templateGen) action(p string) {
	g.b.WriteString(g.open() + p + g.close())
}

// body writes up to n items of a block (or of the template).
func (g *templateGen) body(n int) {
	vars := len(g.vars)
	defer func() { g.vars = g.vars[:vars] }()
	g.depth++
	defer func() { g.depth-- }()
	for range g.r.Intn(n + 1) {
		g.item()
	}
}

func (g *templateGen) item() {
	k := g.r.Intn(20)
	if g.depth > 3 && k >= 8 {
		k = g.r.Intn(8)
	}
	switch k {
	case 0, 1, 2:
		g.b.WriteString(g.text())
	case 3, 4:
		g.action(g.pipeline(0))
	case 5:
		v := fmt.Sprintf("$v%d", len(g.vars))
		g.action(v + g.space() + ":=" + g.space() + g.pipeline(0))
		g.vars = append(g.vars, v)
	case 6:
		if len(g.vars) > 0 {
			g.action(g.pick(g.vars...) + g.space() + "=" + g.space() + g.pipeline(0))
		}
	case 7:
		if g.r.Intn(2) == 0 {
			// A comment starts right after the delimiter and its trim
			// marker, and ends right before the other.
			g.b.WriteString("{{-" + g.pick(" ", "\t", "\n", "\r") + "/*" + g.pick(" c ", " }} ", " -}} ", "\n{{ x }}\n", "") + "*/" + g.pick("}}", " -}}", "\t-}}", "\n-}}"))
		} else {
			g.b.WriteString("{{/*" + g.pick(" c ", " }} ", "") + "*/}}")
		}
	case 8:
		if g.loops > 0 {
			g.action(g.pick("break", "continue"))
		}
	case 9:
		if len(g.defines) > 0 {
			g.action("template" + g.space() + `"` + g.pick(g.defines...) + `"` + g.space() + "$")
		}
	case 10, 11:
		g.action("if" + g.space() + g.pipeline(0))
		g.body(3)
		for g.r.Intn(3) == 0 {
			g.action("else if" + g.space() + g.pipeline(0))
			g.body(3)
		}
		if g.r.Intn(2) == 0 {
			g.action("else")
			g.body(3)
		}
		g.action("end")
	case 12:
		g.action("with" + g.space() + g.pipeline(0))
		g.body(3)
		if g.r.Intn(3) == 0 {
			g.action("else with" + g.space() + g.pipeline(0))
			g.body(2)
		}
		if g.r.Intn(2) == 0 {
			g.action("else")
			g.body(2)
		}
		g.action("end")
	case 13, 14, 15:
		over := g.pick("$.Values.l", "$.Values.m", "$.Values.z", "$.Values.missing", "(until 3)", "$.Values.m.y", "(list)", "$.Values.n", "(list "+g.expr(1)+")")
		decl := ""
		vars := len(g.vars)
		switch g.r.Intn(3) {
		case 1:
			decl = fmt.Sprintf("$v%d", len(g.vars))
			g.vars = append(g.vars, decl)
			decl += g.space() + ":=" + g.space()
		case 2:
			i, v := fmt.Sprintf("$v%d", len(g.vars)), fmt.Sprintf("$v%d", len(g.vars)+1)
			g.vars = append(g.vars, i, v)
			decl = i + "," + g.space() + v + g.space() + ":=" + g.space()
		}
		g.action("range" + g.space() + decl + over)
		g.loops++
		g.body(4)
		g.loops--
		g.vars = g.vars[:vars]
		if g.r.Intn(3) == 0 {
			g.action("else")
			g.body(2)
		}
		g.action("end")
	case 16:
		if g.depth <= 1 { // blocks define a template: keep them shallow
			name := fmt.Sprintf("gen.b%d", g.ndef)
			g.ndef++
			g.action("block" + g.space() + `"` + name + `"` + g.space() + "$")
			loops, vars := g.loops, g.vars
			g.loops, g.vars = 0, nil
			g.body(3)
			g.loops, g.vars = loops, vars
			g.action("end")
			g.defines = append(g.defines, name)
		}
	default:
		a := []string{"$.Values.l | toYaml", "($.Values.m).x", "print nil", "default 1 nil"}
		if len(g.defines) > 0 {
			a = append(a, "include \"gen.d0\" $ | indent 2", "toYaml $.Values.m | nindent 2")
		}
		g.action(g.pick(a...))
	}
}

// define writes a define of a new name at the top level.
func (g *templateGen) define() {
	name := fmt.Sprintf("gen.d%d", g.ndef)
	g.ndef++
	g.action("define" + g.space() + `"` + name + `"`)
	vars := g.vars
	g.vars = nil // a define sees no variable of the template
	g.body(5)
	g.vars = vars
	g.action("end")
	g.b.WriteString(g.pick("\n", "", "\n\n"))
	g.defines = append(g.defines, name)
}

// genChart returns the templates of one random chart: _helpers.tpl of
// defines, and a template that uses them.
func genChart(seed int64) map[string]string {
	g := &templateGen{r: rand.New(rand.NewSource(seed))}
	// gen.d0 is always there: the fixed actions include it.
	for range 1 + g.r.Intn(3) {
		g.define()
	}
	helpers := g.b.String()
	g.b.Reset()
	for range 1 + g.r.Intn(12) {
		g.item()
		if g.r.Intn(6) == 0 {
			g.define()
		}
	}
	// Definitions again, of names already defined, in files helm parses
	// before and after _helpers.tpl (it parses them by name backwards):
	// an empty one never replaces another.
	files := map[string]string{"_helpers.tpl": helpers, "cm.yaml": g.b.String()}
	for _, file := range []string{"_a.tpl", "_z.tpl"} {
		var over strings.Builder
		for _, name := range g.defines {
			if g.r.Intn(3) == 0 {
				body := g.pick("", " ", "\n  ", "{{/* c */}}", "\n{{- /* c */}}\n", "over", "{{ 1 }}", "{{- range until 2 }}{{ end }}")
				fmt.Fprintf(&over, "{{ define %q }}%s{{ end }}", name, body)
			}
		}
		files[file] = over.String()
	}
	return files
}

// TestMeterDiffGenerated: random templates render the same metered and
// unmetered.
func TestMeterDiffGenerated(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 50
	}
	for seed := range int64(n) {
		sameRender(t, genChart(seed), manifest.DefaultMaxFileSize)
	}
}

// FuzzMeterKeepsOutput: any template renders the same metered and
// unmetered.
func FuzzMeterKeepsOutput(f *testing.F) {
	for seed := range int64(20) {
		f.Add(genChart(seed)["cm.yaml"])
	}
	for _, tc := range meterHostile {
		f.Add(tc.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			t.Skip("long")
		}
		// A small limit: helm's unmetered render of what passes it is
		// not done (it could take gigabytes).
		sameRender(t, map[string]string{"_helpers.tpl": `{{ define "gen.d0" }}d0 {{ . }}{{ end }}`, "cm.yaml": src}, testLimit)
	})
}

// meterHostile are templates made against the meter's scanner and its
// trim handling.
var meterHostile = []struct {
	name, src string
}{
	{"comment with delimiters", "{{/* }} -}} {{ */}}{{ .Values.s }}"},
	{"trimmed comment with delimiters", "a \n{{- /* }}\n -}} */ -}}\n b{{ 1 }}"},
	{"vertical tab before trim", "{{ 1\v-}}"},
	{"carriage return before trim", "{{ 1\r-}}  x"},
	{"newline before trim", "{{ 1\n-}}  x"},
	{"action at end of file", "x{{ .Values.n }}"},
	{"trimmed action at end of file", "x {{- .Values.n -}}"},
	{"unclosed action at end of file", "x{{ .Values.n"},
	{"nested parentheses with strings", "{{ (printf \"%s)}}\" (print \")\" (quote \"}}(\"))) }}"},
	{"char constants", "{{ '}' }}{{ '\\'' }}{{ '\"' }}{{ print '`' \"`\" }}"},
	{"raw string with newlines", "{{ `\n}}\n-}}` | quote }}"},
	{"braces in text", "{ {x} }} -}} {{ 1 }}{"},
	{"triple brace", "{{{ 1 }}}"},
	{"unicode", "é€{{ \"é}}€\" }}𝄞{{- \"𝄞\" -}}𝄞"},
	{"range body starts trimmed", "{{ range .Values.l }}\n  {{- . }}\n{{- end }}"},
	{"range body trimmed by the range", "{{ range .Values.l -}}\n  x{{ . }}{{ end }}"},
	{"range body a trimmed comment", "{{ range .Values.l }}  {{- /* c */}}  {{- . }}{{ end }}"},
	{"range body tab trim", "{{ range .Values.l }}\t{{-\t. }}{{ end }}"},
	{"range body CR trim", "{{ range .Values.l }}\r\n{{-\r. }}{{ end }}"},
	{"empty range bodies", "{{ range .Values.l }}{{ end }}{{ range .Values.l }}{{- end }}{{ range .Values.l -}}  {{ end }}"},
	{"define trimmed", "{{ define \"x\" -}}\n  {{- 1 }}{{ end }}{{ include \"x\" . }}"},
	{"block", "a {{- block \"bl\" . }}\n {{- .Values.n }}{{ end }}"},
	{"break and continue", "{{ range $i, $v := .Values.l }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $v }}{{ break }}{{ end }}"},
	{"else with", "{{ with .Values.missing }}{{ . }}{{ else with .Values.m }}{{ .x }}{{ else }}none{{ end }}"},
	{"range over int", "{{ range 3 }}{{ . }}{{ end }}"},
	{"missing and nil", "{{ .Values.missing }}|{{ .Values.z }}|{{ .Values.m.missing }}|{{ index .Values.m \"none\" }}"},
	{"missing chained", "{{ .Values.missing.x }}"}, // an error on both sides
	{"pipeline across lines", "{{ .Values.m\n | toYaml\n | nindent 2\n}}"},
	{"assignment not printed", "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}"},
	{"parenthesized assignment", "{{ ($x := 1) }}"},
	{"tpl", "{{ tpl \"{{ range .Values.l }}{{ . }}{{ end }}\" . }}"},
	// The string given to tpl, wrapped to be metered, in each form of
	// operand.
	{"tpl of fields", "{{ tpl .Values.t . }}|{{ tpl $.Values.t $ }}|{{ tpl .Values.tt . }}|{{ $x := .Values.t }}{{ tpl $x . }}"},
	{"tpl piped", "{{ . | tpl .Values.t }}|{{ $ | tpl (print .Values.t) | quote }}|{{ $|tpl .Values.t}}|{{ .|tpl .Values.t|}}"},
	{"tpl of a pipeline and a chain", "{{ tpl (printf \"%s)|\" .Values.t) . }}|{{ tpl ((dict \"v\" .Values.t).v) . }}|{{ tpl (dict \"v\" .Values.t).v . }}"},
	{"tpl across lines", "{{ tpl\n.Values.t\n. -}}\n|{{ tpl\t`{{ \"}}\" }}`\t. }}"},
	{"tpl in conditions and ranges", "{{ if tpl .Values.t . }}y{{ end }}{{ range (tpl .Values.t . | list) }}{{ . }}{{ end }}{{ with tpl \"x\" . }}{{ . }}{{ end }}"},
	{"tpl with one argument", "{{ tpl .Values.t }}"}, // an error on both sides
	{"tpl of a number", "{{ tpl 1 . }}"},             // an error on both sides
	{"trim marker without space", "{{ 3-}}"},
	{"double trim", "{{ 1 -}}{{- 2 -}}"},
	{"parentheses across lines", "{{ (print\n\"a)\"\n(quote\n\"}}\")\n) -}}\n x"},
	{"unicode variable", "{{ $é := \"}}\" }}{{ $é }}{{ range $ü, $ß := .Values.l }}{{ $ü }}{{ $ß -}} {{ end }}"},
	{"trim around else", "{{ range .Values.missing -}}\n  a\n{{- else -}}\n  b\n{{- end }}{{ range .Values.l -}}\n x \n{{- else -}} y {{- end -}} "},
	{"range body only a comment", "{{ range .Values.l }}{{/* }} */}}{{ end }}|{{ range .Values.l -}} {{- /* c */ -}} {{- end }}"},
	{"define body only a comment", "{{ define \"c\" }}{{/* c */}}{{ end }}[{{ include \"c\" . }}]"},
	{"nested ranges trimmed", "{{- range .Values.l }}\n{{- range $.Values.m.y }}\n  {{- . }}\n{{- end }}\n{{- end }}"},
	{"tabs and CRs", "a\t\r\n{{-\t.Values.n\t-}}\t\r\nb{{-\r.Values.n\r-}}\r"},
	// A pipeline may end with its pipe: {{ x | }} prints x.
	{"trailing pipe", "{{ .Values.n | }}|{{ .Values.s | quote |\n}}|{{ 1 |\t-}} |{{ (1 | ) }}|{{ '|' }}{{ \"|\" }}{{ `|` }}"},
	{"trailing pipe found by fuzzing", "000{{ range   $000:=  .Values.m00  }}{{range   $00, $000 0  .A0000000}}{{end}}00{{ end }}{{00|}}"},
	// The functions the meter wraps, at their edges.
	{"wrapped functions", "{{ seq 5 }}|{{ seq -2 }}|{{ seq 3 1 }}|{{ seq 1 0 3 }}|{{ seq 5 -2 1 }}|{{ seq 1 2 3 4 }}|{{ seq }}|" +
		"{{ until -3 }}{{ until 0 }}{{ untilStep 5 0 -2 }}{{ untilStep 0 5 0 }}|{{ seq 9223372036854775807 }}|{{ seq -9223372036854775808 }}|" +
		"{{ repeat 0 \"x\" }}{{ indent 0 \"a\\nb\" }}{{ nindent 1 \"\" }}"},
	// Every function is wrapped to charge what it makes: the same
	// results, the doubling loops made short.
	{"doubled string", "{{ $x := \"ab\" }}{{ range until 5 }}{{ $x = print $x $x }}{{ end }}{{ $x }}|{{ printf \"%s%5d%-3s%.2f%*d\" $x 1 \"y\" 2.5 4 7 }}|{{ cat $x $x 1 }}"},
	{"doubled list", "{{ $l := list 1 \"a\" }}{{ range until 4 }}{{ $l = list $l $l }}{{ end }}{{ $l }}|{{ toJson $l }}|{{ toYaml $l }}|{{ toPrettyJson $l }}|{{ join \",\" $l }}|{{ quote $l }}|{{ deepCopy $l }}"},
	{"doubled dict", "{{ $d := dict \"a\" 1 }}{{ range until 3 }}{{ $d = dict \"a\" $d \"b\" (list $d) }}{{ end }}{{ $d }}|{{ toYamlPretty $d }}|{{ toToml $d }}|{{ toRawJson $d }}|{{ toString $d }}"},
	{"maps changed", "{{ $d := dict }}{{ $_ := set $d \"x\" 1 }}{{ $_ = merge $d (dict \"y\" 2) (dict \"x\" 3) }}{{ $_ = mergeOverwrite $d (dict \"z\" 4) }}{{ $_ = unset $d \"y\" }}{{ $d }}|{{ get $d \"z\" }}|{{ default 5 $d.none }}|{{ pick $d \"x\" }}|{{ omit $d \"x\" }}"},
	{"lists made", "{{ $l := list 3 1 2 }}{{ append $l 4 }}{{ prepend $l 0 }}{{ concat $l $l }}{{ rest $l }}{{ initial $l }}{{ reverse $l }}{{ uniq (concat $l $l) }}{{ chunk 2 $l }}{{ without $l 1 }}{{ compact (list 0 \"\" 1) }}{{ sortAlpha $l }}{{ toStrings $l }}{{ slice $l 1 }}{{ first $l }}{{ last $l }}"},
	{"strings inserted", "{{ replace \"\" \"-\" \"abc\" }}|{{ replace \"b\" \"xyz\" \"abcb\" }}|{{ regexReplaceAll \"(b)\" \"abcb\" \"[$1$1]\" }}|{{ regexReplaceAllLiteral \"\" \"ab\" \"$1\" }}|{{ wrapWith 2 \"<>\" \"abcdef\" }}|{{ wrap 3 \"abc def ghi\" }}"},
	{"strings split and parsed", "{{ split \",\" \"a,b\" }}{{ splitList \"\" \"abc\" }}{{ splitn \",\" 2 \"a,b,c\" }}{{ regexSplit \",\" \"a,b\" -1 }}{{ fromYaml \"a: [1, 2]\" }}{{ fromYamlArray \"[1, x]\" }}{{ fromJson \"{\\\"a\\\": 1}\" }}{{ fromJsonArray \"[1]\" }}{{ fromToml \"a = 1\" }}{{ fromYaml \": x\" }}"},
	{"encoded", "{{ b64enc \"abc\" }}{{ b64dec \"YWJj\" }}{{ b32enc \"abc\" }}{{ html \"<a>\" }}{{ js \"'\" }}{{ urlquery \"a b\" 1 }}{{ println \"x\" 1 }}{{ sha256sum \"a\" }}{{ upper \"a\" }}{{ trunc 2 \"abc\" }}{{ indent 2 \"a\" }}"},
	{"repeat negative", "{{ repeat -1 \"x\" }}"},
	{"indent negative", "{{ indent -1 \"x\" }}"},
	// The metering functions are Ward's: helm does not know them.
	{"chart calls the tick", "{{ wardTick 1 }}"},
	{"chart calls the out", "{{ wardOut \"x\" }}"},
	{"tpl calls the out", "{{ tpl \"{{ wardOut 1 }}\" . }}"},
}

// TestMeterHostile: templates made against the meter render the same
// metered and unmetered.
func TestMeterHostile(t *testing.T) {
	for _, tc := range meterHostile {
		t.Run(tc.name, func(t *testing.T) {
			sameRender(t, map[string]string{"_helpers.tpl": `{{ define "gen.d0" }}d0 {{ . }}{{ end }}`, "cm.yaml": tc.src}, manifest.DefaultMaxFileSize)
		})
	}
}

// TestMeterEmptyDefines: a define (or block) whose body is only space
// and comments is empty to text/template: it never replaces a
// definition of the same name parsed before it (helm parses the files
// deepest first, then by name backwards), while a tick would make it
// non-empty and let it win.
func TestMeterEmptyDefines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"empty after real", map[string]string{
			"_z.tpl": `{{ define "x" }}real{{ end }}`, "_a.tpl": `{{ define "x" }}{{ end }}`,
			"cm.yaml": `v: {{ include "x" . }}{{ template "x" . }}`,
		}},
		{"spaces and comments after real", map[string]string{
			"_z.tpl": `{{ define "x" }}real{{ end }}`, "_a.tpl": "{{- define \"x\" }}\n  {{/* c */}}\n{{- end }}",
			"cm.yaml": `v: {{ include "x" . }}`,
		}},
		{"real after empty", map[string]string{
			"_z.tpl": `{{ define "x" }} {{ end }}`, "_a.tpl": `{{ define "x" }}real{{ end }}`,
			"cm.yaml": `v: {{ include "x" . }}`,
		}},
		{"two empty", map[string]string{
			"_z.tpl": "{{ define \"x\" }}\n{{ end }}", "_a.tpl": `{{ define "x" }}  {{ end }}`,
			"cm.yaml": `v: {{ include "x" . | quote }}`,
		}},
		{"empty block after real", map[string]string{
			"_z.tpl": `{{ define "x" }}real{{ end }}`, "_a.tpl": `{{ block "x" . }}  {{ end }}`,
			"cm.yaml": `v: {{ include "x" . }}`,
		}},
		{"empty in a subfolder after real", map[string]string{
			"sub/_a.tpl": `{{ define "x" }}real{{ end }}`, "_a.tpl": `{{ define "x" }}{{ end }}`,
			"cm.yaml": `v: {{ include "x" . }}`,
		}},
		{"empty define used", map[string]string{
			"_a.tpl": "{{ define \"x\" }}\n  {{ end }}", "cm.yaml": `v: {{ include "x" . | quote }}{{ range until 2 }}{{ template "x" }}{{ end }}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sameRender(t, tc.files, manifest.DefaultMaxFileSize)
		})
	}
}

// TestMeterStringers: a value printed through a pointer to its struct
// is addressable, and text/template prints it by the String method of
// its pointer (.Capabilities.KubeVersion prints v1.x.y); passed to a
// function, it is a copy that has none.
func TestMeterStringers(t *testing.T) {
	for _, src := range []string{
		"{{ .Capabilities.KubeVersion }}",
		"{{ .Capabilities.KubeVersion -}}",
		"{{ $.Capabilities.KubeVersion }}",
		"{{ with .Capabilities }}{{ .KubeVersion }}{{ end }}",
		"{{ (.Capabilities).KubeVersion }}",
		"{{ .Capabilities.HelmVersion }}",
		"{{ .Capabilities.KubeVersion | print }}",
		"{{ .Capabilities.KubeVersion.Version }}",
		"{{ .Capabilities.APIVersions }}",
		"{{ .Release }}{{ .Chart }}{{ .Template }}{{ .Capabilities }}{{ .Files }}",
		"{{ range $k, $v := .Capabilities }}{{ $v }}{{ end }}",
		"{{ .Capabilities.KubeVersion | quote }}{{ printf \"%s\" .Capabilities.KubeVersion }}",
		"{{ $k := .Capabilities.KubeVersion }}{{ $k }}",
	} {
		t.Run(src, func(t *testing.T) {
			sameRender(t, map[string]string{"cm.yaml": src}, manifest.DefaultMaxFileSize)
		})
	}
}
