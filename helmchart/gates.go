package helmchart

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"github.com/Masterminds/sprig/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// Variant is one other way of rendering a chart than the one checked: at
// another Kubernetes version (Chart.KubeVersions), or with a values file
// of the chart that was not given (Chart.ValuesFiles).
type Variant struct {
	// Name is the Kubernetes version ("v1.28.0") or the values file (its
	// path, the chart directory joined).
	Name string
	// Templates are helm's names of the templates whose output differs
	// from the checked render's, sorted: one that renders nothing in
	// either is named too.
	Templates []string
	// Err is why the chart did not render so; Templates is empty then.
	Err error
	// Served is, for an API version (Chart.APIVersions), whether the
	// render served it alone besides the checked render's versions
	// (true) or left it out of them (false).
	Served bool
	// Subchart is, for a values file of a subchart (Chart.ValuesFiles),
	// the subchart's key in the values ("redis", "redis.metrics") under
	// which the file's values were given.
	Subchart string
}

// MinKubeVersion is the oldest Kubernetes minor version a chart is
// rendered for when its templates compare .Capabilities.KubeVersion with
// versions: a gate on an older one (bitnami's `semverCompare "<1.14-0"`)
// is not tried, unless Options.KubeVersion is older still. Kubernetes
// 1.25 removed PodSecurityPolicy for Pod Security admission.
const MinKubeVersion = 25

// kubeVersion is a Kubernetes version: major, minor, patch.
type kubeVersion [3]int

func (v kubeVersion) String() string { return fmt.Sprintf("v%d.%d.%d", v[0], v[1], v[2]) }

// versionLiteral finds a version in a template's literal: "1.29",
// ">=1.29-0", "v1.28.3", "<1.14-0 || >=1.30".
var versionLiteral = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// kubeGates returns the Kubernetes versions the templates of srcs compare
// .Capabilities.KubeVersion with, sorted: the versions written in the
// constraints of semverCompare (the usual gate, `semverCompare ">=1.29-0"
// .Capabilities.KubeVersion.GitVersion`, or through a helper that returns
// the version), those sprig's semver parses, and those a comparison (eq, lt, ge, ...) holds beside the
// version or its Major or Minor (`ge (int .Capabilities.KubeVersion.Minor)
// 29`). reads is whether any template names KubeVersion at all: without
// it, no constraint is about the cluster's version. Templates are parsed
// with text/template/parse, functions unchecked (helm's and sprig's are
// not known to the parser); one that does not parse is skipped (the
// render reports it).
//
// A constraint that is not written out in the template is found too: one
// taken from values (`semverCompare .Values.minKube
// .Capabilities.KubeVersion.Version`, `ge (int ...Minor) (int
// .Values.minMinor)`) is read from vals, the values rendered with, and
// constraints holds those semverCompare was called with on the cluster's
// version while rendering (kubeRecorder), whatever made them.
func kubeGates(srcs map[string][]byte, vals map[string]any, constraints []string) (versions []kubeVersion, reads bool) {
	seen := map[kubeVersion]bool{}
	add := func(v kubeVersion) {
		if !seen[v] {
			seen[v] = true
			versions = append(versions, v)
		}
	}
	literal := func(s string, minorOnly bool) {
		if minorOnly {
			if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(s), "+")); err == nil && n >= 0 && n < 1000 {
				add(kubeVersion{1, n, 0})
				return
			}
		}
		for _, m := range versionLiteral.FindAllStringSubmatch(s, -1) {
			var v kubeVersion
			v[0], _ = strconv.Atoi(m[1])
			v[1], _ = strconv.Atoi(m[2])
			if m[3] != "" {
				v[2], _ = strconv.Atoi(m[3])
			}
			if v[0] == 1 && v[1] < 1000 && v[2] < 1000 {
				add(v)
			}
		}
	}
	// kubeVars and minorVars are the variables of the tree visited that
	// hold the version ($m := .Capabilities.KubeVersion.Minor).
	var kubeVars, minorVars map[string]bool
	// visitCmd reads cmd; piped is whether an earlier command of its
	// pipeline names the version (... .Minor | int | le 30), pipedMinor
	// its Minor or Major.
	visitCmd := func(cmd *parse.CommandNode, piped, pipedMinor bool) {
		if len(cmd.Args) == 0 {
			return
		}
		kube := namesKube(cmd) || piped || namesVar(cmd, kubeVars)
		if kube {
			reads = true
		}
		id, ok := cmd.Args[0].(*parse.IdentifierNode)
		if !ok {
			return
		}
		switch id.Ident {
		case "semverCompare", "semver":
			// semverCompare CONSTRAINT VERSION, and a version compared
			// with one sprig's semver parses ((semver
			// .Capabilities.KubeVersion.Version).LessThan (semver
			// "1.29.0")).
			if len(cmd.Args) > 1 {
				if s, ok := cmd.Args[1].(*parse.StringNode); ok {
					literal(s.Text, false)
				} else if kube {
					for _, v := range valueStrings(cmd.Args[1], vals) {
						literal(v, false)
					}
				}
			}
		case "eq", "ne", "lt", "le", "gt", "ge":
			if !kube {
				return
			}
			minor := namesField(cmd, "Minor") || namesField(cmd, "Major") || pipedMinor || namesVar(cmd, minorVars)
			for _, a := range cmd.Args[1:] {
				switch a := a.(type) {
				case *parse.StringNode:
					literal(a.Text, minor)
				case *parse.NumberNode:
					literal(a.Text, minor)
				default:
					for _, v := range valueStrings(a, vals) {
						literal(v, minor)
					}
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		t := parse.New(name)
		t.Mode = parse.SkipFuncCheck
		set := map[string]*parse.Tree{}
		if _, err := t.Parse(string(srcs[name]), "", "", set); err != nil {
			continue
		}
		// The file's own tree and those it defines (helpers).
		trees := []*parse.Tree{t}
		for _, n := range slices.Sorted(maps.Keys(set)) {
			if set[n] != t {
				trees = append(trees, set[n])
			}
		}
		for _, tr := range trees {
			if tr.Root == nil {
				continue
			}
			kubeVars, minorVars = map[string]bool{}, map[string]bool{}
			walkNodes(tr.Root, func(n parse.Node) {
				p, ok := n.(*parse.PipeNode)
				if !ok || len(p.Decl) == 0 {
					return
				}
				for _, c := range p.Cmds {
					if namesKube(c) || namesVar(c, kubeVars) {
						for _, d := range p.Decl {
							kubeVars[d.Ident[0]] = true
							if namesField(c, "Minor") || namesField(c, "Major") || namesVar(c, minorVars) {
								minorVars[d.Ident[0]] = true
							}
						}
					}
				}
			})
			walkNodes(tr.Root, func(n parse.Node) {
				p, ok := n.(*parse.PipeNode)
				if !ok {
					return
				}
				piped, pipedMinor := false, false
				for _, c := range p.Cmds {
					visitCmd(c, piped, pipedMinor)
					if namesKube(c) || namesVar(c, kubeVars) {
						piped = true
						pipedMinor = pipedMinor || namesField(c, "Minor") || namesField(c, "Major") || namesVar(c, minorVars)
					}
				}
			})
		}
	}
	for _, c := range constraints {
		reads = true
		literal(c, false)
	}
	slices.SortFunc(versions, func(a, b kubeVersion) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2]))
	})
	return versions, reads
}

// valueStrings returns the values of vals that the fields .Values.x.y
// (or $.Values.x.y) in n name, as text, when they are strings or numbers.
func valueStrings(n parse.Node, vals map[string]any) []string {
	var out []string
	walkNodes(n, func(n parse.Node) {
		var ids []string
		switch n := n.(type) {
		case *parse.FieldNode:
			ids = n.Ident
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				ids = n.Ident[1:]
			}
		}
		if len(ids) < 2 || ids[0] != "Values" {
			return
		}
		var cur any = vals
		for _, id := range ids[1:] {
			switch m := cur.(type) {
			case map[string]any:
				cur = m[id]
			case common.Values:
				cur = m[id]
			default:
				return
			}
		}
		switch v := cur.(type) {
		case string:
			out = append(out, v)
		case float64, int, int64, json.Number:
			out = append(out, fmt.Sprint(v))
		}
	})
	return out
}

// namespaceGates returns, sorted, the namespaces the templates of srcs
// compare .Release.Namespace with by eq or ne, written out (`eq
// .Release.Namespace "kube-system"`): a template may install otherwise
// in them than in the namespace checked.
func namespaceGates(srcs map[string][]byte) []string {
	seen := map[string]bool{}
	sets := map[string]map[string]*parse.Tree{}
	// The defines that write the namespace ({{ .Release.Namespace }}):
	// eq (include "app.ns" .) "kube-system" compares it.
	nsDefines := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		t := parse.New(name)
		t.Mode = parse.SkipFuncCheck
		set := map[string]*parse.Tree{}
		if _, err := t.Parse(string(srcs[name]), "", "", set); err != nil {
			continue
		}
		sets[name] = set
		for n, tr := range set {
			if tr.Root != nil && n != name {
				walkNodes(tr.Root, func(x parse.Node) {
					if isReleaseNamespace(x) {
						nsDefines[n] = true
					}
				})
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		set := sets[name]
		for _, tr := range set {
			if tr.Root == nil {
				continue
			}
			// The variables that hold the namespace ($ns :=
			// .Release.Namespace, $n := $ns).
			vars := map[string]bool{}
			walkNodes(tr.Root, func(n parse.Node) {
				p, ok := n.(*parse.PipeNode)
				if !ok || len(p.Decl) == 0 || len(p.Cmds) != 1 {
					return
				}
				if cmd := p.Cmds[0]; len(cmd.Args) == 1 && (isReleaseNamespace(cmd.Args[0]) || namesVar(cmd, vars)) {
					for _, d := range p.Decl {
						vars[d.Ident[0]] = true
					}
				}
			})
			walkNodes(tr.Root, func(n parse.Node) {
				cmd, ok := n.(*parse.CommandNode)
				if !ok || len(cmd.Args) < 3 {
					return
				}
				id, ok := cmd.Args[0].(*parse.IdentifierNode)
				if !ok || (id.Ident != "eq" && id.Ident != "ne") || !namesReleaseNamespace(cmd) && !argIsVar(cmd, vars) && !includes(cmd, nsDefines) {
					return
				}
				for _, a := range cmd.Args[1:] {
					if s, ok := a.(*parse.StringNode); ok && s.Text != "" && len(seen) < maxRecorded {
						seen[s.Text] = true
					}
				}
			})
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// includes reports whether cmd includes one of the defines names
// (include "app.ns" ., in a pipeline of its arguments).
func includes(cmd *parse.CommandNode, names map[string]bool) bool {
	found := false
	walkNodes(cmd, func(n parse.Node) {
		c, ok := n.(*parse.CommandNode)
		if !ok || len(c.Args) < 2 {
			return
		}
		if id, ok := c.Args[0].(*parse.IdentifierNode); ok && id.Ident == "include" {
			if s, ok := c.Args[1].(*parse.StringNode); ok && names[s.Text] {
				found = true
			}
		}
	})
	return found
}

// argIsVar reports whether an argument of cmd is one of the variables
// vars, whole ($ns, not $ns.x).
func argIsVar(cmd *parse.CommandNode, vars map[string]bool) bool {
	for _, a := range cmd.Args[1:] {
		if v, ok := a.(*parse.VariableNode); ok && len(v.Ident) == 1 && vars[v.Ident[0]] {
			return true
		}
	}
	return false
}

// namesReleaseNamespace reports whether an argument of cmd is
// .Release.Namespace ($.Release.Namespace).
func namesReleaseNamespace(cmd *parse.CommandNode) bool {
	return slices.ContainsFunc(cmd.Args[1:], isReleaseNamespace)
}

// isReleaseNamespace reports whether a is .Release.Namespace
// ($.Release.Namespace).
func isReleaseNamespace(a parse.Node) bool {
	var ids []string
	switch a := a.(type) {
	case *parse.FieldNode:
		ids = a.Ident
	case *parse.VariableNode:
		ids = a.Ident
	}
	i := slices.Index(ids, "Release")
	return i >= 0 && i+1 < len(ids) && ids[i+1] == "Namespace"
}

// kubeRecorder notes the constraints semverCompare is called with on the
// Kubernetes version rendered for: a gate whose constraint is made while
// rendering (a value passed through a helper, tpl) is seen so.
type kubeRecorder struct {
	cur         kubeVersion
	seen        map[string]bool
	constraints []string
}

// maxRecorded bounds the constraints a render notes.
const maxRecorded = 64

// sprigSemverCompare is sprig's semverCompare.
var sprigSemverCompare = sprig.TxtFuncMap()["semverCompare"].(func(string, string) (bool, error))

// funcs returns the semverCompare that notes the constraints.
func (r *kubeRecorder) funcs() template.FuncMap {
	return template.FuncMap{"semverCompare": func(constraint, version string) (bool, error) {
		if len(r.constraints) < maxRecorded && len(constraint) < 256 && versionLiteral.MatchString(version) && parseKubeVersion(version) == r.cur {
			if r.seen == nil {
				r.seen = map[string]bool{}
			}
			if !r.seen[constraint] {
				r.seen[constraint] = true
				r.constraints = append(r.constraints, constraint)
			}
		}
		return sprigSemverCompare(constraint, version)
	}}
}

// nsRecorder notes the namespaces a render compares the release's
// namespace (cur) with otherwise than namespaceGates reads in the
// templates: has (a list of namespaces), hasPrefix, hasSuffix, contains
// ("kube-" prefix, "system" in it), whatever made the namespace (a
// variable, a helper). Each is made a namespace that meets the test.
type nsRecorder struct {
	cur  string
	seen map[string]bool
	list []string
}

// dnsLabel is a namespace name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// note records ns, made a namespace name if it is not one (fill is put
// where needed: "kube-" is noted as "kube-x").
func (r *nsRecorder) note(ns string) {
	if len(r.list) >= maxRecorded || ns == r.cur {
		return
	}
	if !dnsLabel.MatchString(ns) {
		ns = strings.Trim(ns, "-")
		ns = "x-" + ns + "-x"
		if !dnsLabel.MatchString(ns) {
			return
		}
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if !r.seen[ns] {
		r.seen[ns] = true
		r.list = append(r.list, ns)
	}
}

// sprigBool are sprig's has, hasPrefix, hasSuffix and contains.
var (
	sprigHasPrefix = sprig.TxtFuncMap()["hasPrefix"].(func(string, string) bool)
	sprigHasSuffix = sprig.TxtFuncMap()["hasSuffix"].(func(string, string) bool)
	sprigContains  = sprig.TxtFuncMap()["contains"].(func(string, string) bool)
	sprigMustHas   = sprig.TxtFuncMap()["mustHas"].(func(any, any) (bool, error))
)

// funcs returns has, mustHas, hasPrefix, hasSuffix and contains noting
// what the namespace is tested against; each returns what sprig's does.
func (r *nsRecorder) funcs() template.FuncMap {
	list := func(needle, haystack any) {
		if s, ok := needle.(string); !ok || s != r.cur {
			return
		}
		v := reflect.ValueOf(haystack)
		if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
			return
		}
		for i := range min(v.Len(), maxRecorded) {
			if s, ok := v.Index(i).Interface().(string); ok {
				r.note(s)
			}
		}
	}
	return template.FuncMap{
		"has": func(needle, haystack any) bool {
			list(needle, haystack)
			if vs, ok := haystack.(recVersions); ok {
				if s, ok := needle.(string); ok {
					vs.Has(s) // noted
				}
			}
			return sprigHas(needle, haystack)
		},
		"mustHas": func(needle, haystack any) (bool, error) {
			list(needle, haystack)
			return sprigMustHas(needle, haystack)
		},
		"hasPrefix": func(prefix, s string) bool {
			if s == r.cur && strings.Trim(prefix, "-") != "" {
				r.note(strings.TrimSuffix(prefix, "-") + "-x")
			}
			return sprigHasPrefix(prefix, s)
		},
		"hasSuffix": func(suffix, s string) bool {
			if s == r.cur && strings.Trim(suffix, "-") != "" {
				r.note("x-" + strings.TrimPrefix(suffix, "-"))
			}
			return sprigHasSuffix(suffix, s)
		},
		"contains": func(sub, s string) bool {
			if s == r.cur && strings.Trim(sub, "-") != "" {
				r.note(sub)
			}
			return sprigContains(sub, s)
		},
	}
}

// apiRecorder notes the API versions a render asks
// .Capabilities.APIVersions for (Has, or sprig's has on them), however
// the version is written: askedVersions reads only those written out.
type apiRecorder struct {
	key  *string
	seen map[string]bool
	list []string
}

// apiRecorders finds the recorder of a recVersions by its first element.
var apiRecorders sync.Map // *string -> *apiRecorder

// recVersions is the capabilities' API versions, whose Has notes what
// it is asked (apiRecorders).
type recVersions []string

// Has reports whether v is served, as common.VersionSet's, and notes v.
func (vs recVersions) Has(v string) bool {
	if len(vs) > 0 {
		if r, ok := apiRecorders.Load(&vs[0]); ok {
			r.(*apiRecorder).note(v)
		}
	}
	return slices.Contains(vs, v)
}

// recCaps is .Capabilities whose APIVersions note what they are asked.
type recCaps struct {
	*common.Capabilities
	APIVersions recVersions
}

// caps returns c with APIVersions noting to r, until done.
func (r *apiRecorder) caps(c *common.Capabilities) *recCaps {
	vs := recVersions(slices.Clone(c.APIVersions))
	if len(vs) > 0 {
		r.key = &vs[0]
		apiRecorders.Store(r.key, r)
	}
	return &recCaps{Capabilities: c, APIVersions: vs}
}

// done stops r noting.
func (r *apiRecorder) done() {
	if r.key != nil {
		apiRecorders.Delete(r.key)
	}
}

func (r *apiRecorder) note(v string) {
	if len(r.list) >= maxRecorded || len(v) > 253 || !strings.Contains(v, "/") {
		return
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if !r.seen[v] {
		r.seen[v] = true
		r.list = append(r.list, v)
	}
}

// namesVar reports whether cmd, in its pipelines too, names one of the
// variables vars ($m, not $.x).
func namesVar(cmd *parse.CommandNode, vars map[string]bool) bool {
	if len(vars) == 0 {
		return false
	}
	found := false
	walkNodes(cmd, func(n parse.Node) {
		if v, ok := n.(*parse.VariableNode); ok && len(v.Ident) > 0 && vars[v.Ident[0]] {
			found = true
		}
	})
	return found
}

// namesKube reports whether the command, or a pipeline in it, names a
// field KubeVersion (.Capabilities.KubeVersion, $.Capabilities.KubeVersion,
// .KubeVersion of a .Capabilities passed on).
func namesKube(cmd *parse.CommandNode) bool { return namesField(cmd, "KubeVersion") }

// namesField reports whether a field, chain or variable of cmd's
// arguments, in its pipelines too, has the identifier field.
func namesField(cmd *parse.CommandNode, field string) bool {
	found := false
	walkNodes(cmd, func(n parse.Node) {
		var ids []string
		switch n := n.(type) {
		case *parse.FieldNode:
			ids = n.Ident
		case *parse.VariableNode:
			ids = n.Ident
		case *parse.ChainNode:
			ids = n.Field
		}
		if slices.Contains(ids, field) {
			found = true
		}
	})
	return found
}

// walkNodes calls f on n and on every node below it.
func walkNodes(n parse.Node, f func(parse.Node)) {
	if n == nil {
		return
	}
	f(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkNodes(c, f)
		}
	case *parse.ActionNode:
		walkNodes(n.Pipe, f)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkNodes(c, f)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkNodes(a, f)
		}
	case *parse.ChainNode:
		walkNodes(n.Node, f)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, f)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, f)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, f)
	case *parse.TemplateNode:
		walkNodes(n.Pipe, f)
	}
}

func walkBranch(b *parse.BranchNode, f func(parse.Node)) {
	walkNodes(b.Pipe, f)
	if b.List != nil {
		walkNodes(b.List, f)
	}
	if b.ElseList != nil {
		walkNodes(b.ElseList, f)
	}
}

// kubeCandidates returns the Kubernetes versions to render a chart for,
// besides cur, whose templates compare the version with gates: each
// gate, the next patch release (a gate `>1.28` holds at v1.28.1, not at
// v1.28.0) and the release before it (the previous patch, or the
// previous minor's .0), so that every side of every gate is rendered.
// Versions older than MinKubeVersion (or than cur, if older), and those
// the chart's kubeVersion constraint refuses, are left out.
func kubeCandidates(gates []kubeVersion, cur kubeVersion, constraint string) []kubeVersion {
	floor := kubeVersion{1, MinKubeVersion, 0}
	if cur[0] == 1 && cur[1] < floor[1] {
		floor = kubeVersion{1, cur[1], 0}
	}
	less := func(a, b kubeVersion) bool {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2])) < 0
	}
	seen := map[kubeVersion]bool{cur: true}
	var out []kubeVersion
	add := func(v kubeVersion) {
		if seen[v] || less(v, floor) {
			return
		}
		seen[v] = true
		if constraint != "" && !chartutil.IsCompatibleRange(constraint, v.String()) {
			return
		}
		out = append(out, v)
	}
	for _, g := range gates {
		add(g)
		add(kubeVersion{g[0], g[1], g[2] + 1})
		switch {
		case g[2] > 0:
			add(kubeVersion{g[0], g[1], g[2] - 1})
		case g[1] > 0:
			add(kubeVersion{g[0], g[1] - 1, 0})
		}
	}
	slices.SortFunc(out, func(a, b kubeVersion) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2]))
	})
	return out
}

// parseKubeVersion reads the version helm's capabilities hold
// ("v1.37.0") as a kubeVersion.
func parseKubeVersion(s string) kubeVersion {
	var v kubeVersion
	if m := versionLiteral.FindStringSubmatch(s); m != nil {
		v[0], _ = strconv.Atoi(m[1])
		v[1], _ = strconv.Atoi(m[2])
		if m[3] != "" {
			v[2], _ = strconv.Atoi(m[3])
		}
	}
	return v
}

// otherValuesFiles returns the values files the chart directory holds
// besides values.yaml, that a deploy may give with -f: those whose name
// holds "values" (values-prod.yaml, prod-values.yaml) at the top, and every .yaml or .yml
// of values/ and ci/ (chart-testing's ci/*-values.yaml), sorted. given
// (the files of Options.ValueFiles) are left out.
func otherValuesFiles(dir string, given []string) []string {
	skip := map[string]bool{}
	for _, g := range given {
		if abs, err := filepath.Abs(g); err == nil {
			skip[abs] = true
		}
	}
	yamlFile := func(n string) bool {
		return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")
	}
	var out []string
	keep := func(p string) {
		if abs, err := filepath.Abs(p); err == nil && !skip[abs] {
			out = append(out, p)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if p := filepath.Join(dir, n); e.Type().IsRegular() && valuesFileName(n) && !notValues(n, head(p)) {
			keep(p)
		}
	}
	for _, sub := range []string{"values", "ci"} {
		root := filepath.Join(dir, sub)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // an unreadable directory holds no file to name
			}
			if d.Type().IsRegular() && yamlFile(d.Name()) && !notValues(d.Name(), head(p)) {
				keep(p)
			}
			return nil
		})
	}
	slices.Sort(out)
	return out
}

// changed returns, sorted, the templates whose output in got differs from
// the one in off, whichever holds them: a template of a subchart that
// one of them disables renders nothing there. NOTES.txt (helm install
// drops it) is left out, and whitespace around the output does not count.
func changed(got, off map[string]string) []string {
	names := map[string]bool{}
	for n := range got {
		names[n] = true
	}
	for n := range off {
		names[n] = true
	}
	var out []string
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(got[n]) == strings.TrimSpace(off[n]) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// variantDiff renders the chart in dir for o, random functions made
// deterministic, and returns the templates whose output differs from the
// checked render's, made so too (offline).
func variantDiff(dir string, o Options, res resolver, limit int64, offline func() (map[string]string, error)) ([]string, error) {
	vals, err := o.Values()
	if err != nil {
		return nil, err
	}
	l, err := load(dir, o, vals)
	if err != nil {
		return nil, err
	}
	got, err := render(l.ch, l.top, dir, res, limit, offlineLookup(nil), deterministic())
	if err != nil {
		return nil, err
	}
	if o.checkedNS != "" {
		// A template that only writes the release's namespace
		// (namespace: {{ .Release.Namespace }}) renders the same
		// there: only a template that renders otherwise is named.
		word := regexp.MustCompile(`(^|[^-a-z0-9])` + regexp.QuoteMeta(o.Namespace) + `($|[^-a-z0-9])`)
		for n, text := range got {
			for range 2 { // "ns,ns": a match takes the comma
				text = word.ReplaceAllString(text, "${1}"+o.checkedNS+"${2}")
			}
			got[n] = text
		}
	}
	off, err := offline()
	if err != nil {
		return nil, err
	}
	return changed(got, off), nil
}

// DefaultMaxVariants is how many other renders of a chart Render makes
// at most, by default, for the Kubernetes versions, API versions and
// values files it was not given (Options.MaxVariants): each is a full
// render, and a chart with many gates or values files would otherwise
// take as many times as long. Those past it are named in
// Chart.NotRendered, never left out silently.
const DefaultMaxVariants = 16

// UnlimitedVariants and NoVariants are Options.MaxVariants for no bound
// on the other renders of a chart, and for none (each variant is named
// in Chart.NotRendered).
const (
	UnlimitedVariants = -1
	NoVariants        = -2
)

// variantCap counts the variant renders against Options.MaxVariants.
type variantCap struct {
	left  int // UnlimitedVariants: no cap
	out   *Chart
	res   resolver
	limit int64
}

// try renders the variant named name (o), unless the cap is reached,
// where it is named in NotRendered, and returns the templates that
// render otherwise than offline and the error; ok is false when it was
// not rendered.
func (vc *variantCap) try(name, dir string, o Options, offline func() (map[string]string, error)) (ts []string, ok bool, err error) {
	if vc.left != UnlimitedVariants {
		if vc.left <= 0 {
			vc.out.NotRendered = append(vc.out.NotRendered, name)
			return nil, false, nil
		}
		vc.left--
	}
	ts, err = variantDiff(dir, o, vc.res, vc.limit, offline)
	return ts, true, err
}

// betaVersion finds an alpha or beta API version: helm's default set
// holds many (policy/v1beta1, batch/v1beta1, extensions/v1beta1) that
// clusters of today do not serve.
var betaVersion = regexp.MustCompile(`^[^/]+/v\d+(alpha|beta)\d*(/|$)`)

// variants renders the chart in dir for the Kubernetes versions its
// templates compare .Capabilities.KubeVersion with (kubeGates, with the
// constraints semverCompare was called with, kubeCandidates), for each
// API version its templates ask for by name served alone or, for an
// alpha or beta one of helm's default set, not served, and with each
// values file of the chart that opts does not give (otherValuesFiles,
// merged after opts.ValueFiles) and of its enabled subcharts (under the
// subchart's name), and sets out.KubeVersions, out.APIVersions and
// out.ValuesFiles to those that render otherwise. At most
// opts.MaxVariants are rendered; the rest are named in out.NotRendered.
func variants(out *Chart, dir string, opts Options, l *loaded, srcs map[string][]byte, constraints, namespaces, apis []string, res resolver, limit int64, offline func() (map[string]string, error)) {
	vc := &variantCap{left: opts.MaxVariants, out: out, res: res, limit: limit}
	if vc.left == 0 {
		vc.left = DefaultMaxVariants
	}
	// The chart's own values files first: a deploy's, most likely;
	// then the gates, then the subcharts' values files.
	for _, f := range otherValuesFiles(dir, opts.ValueFiles) {
		o := opts
		o.ValueFiles = append(slices.Clone(opts.ValueFiles), f)
		ts, ok, err := vc.try("values file "+f, dir, o, offline)
		if ok && (len(ts) > 0 || err != nil) {
			out.ValuesFiles = append(out.ValuesFiles, Variant{Name: f, Templates: ts, Err: err})
		}
	}
	// Each side of each gate on an API version asked for by name: the
	// Cluster render serves every one at once, which shows neither a
	// template that needs one served and another not, nor what a
	// version helm's default set serves, and clusters do not, gates.
	given := map[string]bool{}
	for _, v := range slices.Concat(opts.APIVersions, crdVersions(l.ch)) {
		given[v] = true
	}
	var on, off []string
	asked := askedVersions(srcs, nil)
	for _, v := range apis {
		if !slices.Contains(asked, v) {
			asked = append(asked, v)
		}
	}
	slices.Sort(asked)
	for _, v := range asked {
		switch {
		case given[v]:
		case slices.Contains(l.caps.APIVersions, v):
			if betaVersion.MatchString(v) {
				off = append(off, v)
			}
		default:
			on = append(on, v)
		}
	}
	for _, v := range off {
		o := opts
		o.without = append(slices.Clone(opts.without), v)
		if ts, ok, err := vc.try("API version "+v+" not served", dir, o, offline); ok && (len(ts) > 0 || err != nil) {
			out.APIVersions = append(out.APIVersions, Variant{Name: v, Templates: ts, Err: err})
		}
	}
	if len(on) > 1 {
		for _, v := range on {
			o := opts
			o.APIVersions = append(slices.Clone(opts.APIVersions), v)
			ts, ok, err := vc.try("API version "+v+" served alone", dir, o, offline)
			ts = slices.DeleteFunc(ts, func(n string) bool { return slices.Contains(out.Cluster, n) })
			if ok && (len(ts) > 0 || err != nil) {
				out.APIVersions = append(out.APIVersions, Variant{Name: v, Served: true, Templates: ts, Err: err})
			}
		}
	}
	if gates, reads := kubeGates(srcs, l.coalesced, constraints); reads && len(gates) > 0 && !opts.ExactKubeVersion {
		cur := parseKubeVersion(l.caps.KubeVersion.Version)
		for _, v := range kubeCandidates(gates, cur, l.ch.Metadata.KubeVersion) {
			o := opts
			o.KubeVersion = v.String()
			ts, ok, err := vc.try("Kubernetes "+v.String(), dir, o, offline)
			if ok && (len(ts) > 0 || err != nil) {
				out.KubeVersions = append(out.KubeVersions, Variant{Name: v.String(), Templates: ts, Err: err})
			}
		}
	}
	if !opts.ExactNamespace {
		cur := opts.Namespace
		if cur == "" {
			cur = "default"
		}
		seen := map[string]bool{}
		for _, ns := range slices.Concat(namespaceGates(srcs), namespaces) {
			if seen[ns] {
				continue
			}
			seen[ns] = true
			if ns == cur {
				continue
			}
			o := opts
			o.Namespace, o.checkedNS = ns, cur
			ts, ok, err := vc.try("namespace "+ns, dir, o, offline)
			if ok && (len(ts) > 0 || err != nil) {
				out.Namespaces = append(out.Namespaces, Variant{Name: ns, Templates: ts, Err: err})
			}
		}
	}
	for _, sv := range subchartValuesFiles(l.ch, res) {
		o := opts
		o.extra = append(slices.Clone(opts.extra), sv.values)
		var ts []string
		var err error
		ok := true
		if sv.err != nil {
			err = sv.err
		} else {
			ts, ok, err = vc.try("values file "+sv.file, dir, o, offline)
		}
		if ok && (len(ts) > 0 || err != nil) {
			out.ValuesFiles = append(out.ValuesFiles, Variant{Name: sv.file, Subchart: sv.sub, Templates: ts, Err: err})
		}
	}
}

// subValues is a values file of a subchart, its values under the
// subchart's name in the parent's (and its parents').
type subValues struct {
	file, sub string
	values    map[string]any
	err       error
}

// subchartValuesFiles returns the values files of the enabled subcharts
// of c, at any depth, as otherValuesFiles finds them in a chart directory
// (*values*.yaml beside values.yaml, values/ and ci/), read from the
// loaded chart (a directory or an archive in charts/): a deploy of the
// parent may give one under the subchart's name, as chart-testing
// checks the subchart with it. file is where it is on disk (res).
func subchartValuesFiles(c *chart.Chart, res resolver) []subValues {
	var out []subValues
	var walk func(c *chart.Chart, keys []string)
	walk = func(c *chart.Chart, keys []string) {
		for _, sc := range c.Dependencies() {
			k := append(slices.Clone(keys), sc.Name())
			var names []string
			for _, f := range sc.Raw {
				if f != nil && valuesFileName(f.Name) && !notValues(path.Base(f.Name), f.Data[:min(len(f.Data), 64<<10)]) {
					names = append(names, f.Name)
				}
			}
			slices.Sort(names)
			for _, n := range names {
				var data []byte
				for _, f := range sc.Raw {
					if f != nil && f.Name == n {
						data = f.Data
					}
				}
				sv := subValues{file: res.file(path.Join(sc.ChartFullPath(), n)), sub: strings.Join(k, ".")}
				m, err := loader.LoadValues(bytes.NewReader(data))
				if err != nil {
					sv.err = &Error{File: sv.file, Err: err}
				} else {
					nested := map[string]any(m)
					for i := len(k) - 1; i >= 0; i-- {
						nested = map[string]any{k[i]: nested}
					}
					sv.values = nested
				}
				out = append(out, sv)
			}
			walk(sc, k)
		}
	}
	walk(c, nil)
	return out
}

// objectKeys find the top-level apiVersion and kind of a Kubernetes
// object, templated or not.
var (
	objectAPIVersion = regexp.MustCompile(`(?m)^apiVersion:[ \t]*\S`)
	objectKind       = regexp.MustCompile(`(?m)^kind:[ \t]*\S`)
)

// notValues reports whether a file whose name says values (name, the
// base name) is something else: a schema (values.schema.yaml,
// values-schema.yaml, the source of values.schema.json), or Kubernetes
// objects (configmap-values.yaml, a manifest kept beside the chart,
// which helm does not install either), templated or not, from data, the
// file's head. Merged as values, either made a chart fail its schema or
// render otherwise, named as a deploy's values file that is none.
func notValues(name string, data []byte) bool {
	return strings.Contains(strings.ToLower(name), "schema") || objectAPIVersion.Match(data) && objectKind.Match(data)
}

// head returns the first 64 KiB of the file p (what notValues reads).
func head(p string) []byte {
	f, err := os.Open(p) // #nosec G304 -- a file of the chart the user named
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	return b
}

// valuesFileName reports whether name, a path in a chart, is a values
// file otherValuesFiles would find: a .yaml or .yml at the top whose
// name holds "values" (values-prod.yaml, prod-values.yaml,
// prod.values.yml) besides values.yaml, or any .yaml or .yml below
// values/ or ci/.
func valuesFileName(name string) bool {
	if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") {
		return false
	}
	if strings.HasPrefix(name, "values/") || strings.HasPrefix(name, "ci/") {
		return true
	}
	return !strings.Contains(name, "/") && strings.Contains(strings.ToLower(name), "values") && name != "values.yaml" && name != "values.yml"
}
