package cli

import (
	"cmp"
	"slices"
	"strings"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/helmchart"
	"github.com/wardsec/ward/manifest"
)

// Environments.
//
// A repository often holds one application several times: kustomize
// overlays (overlays/staging, overlays/prod) built on one base, or one
// chart rendered per cluster. Each renders the same objects, and one
// cluster never holds both: modelled together they are duplicate objects.
// So when kustomizations or charts that `ward check` renders emit the same
// workload (kind, namespace and name), each of them is an environment of its
// own: it is checked with the rest of the input that collides with none
// of them (plain manifests, other kustomizations and charts), as one
// cluster (a chart directory that is a kustomization too is two: the
// chart, and DIR (kustomization)); the findings of all environments are merged, and a finding that
// does not hold in every environment names those it holds in. An object
// of a plain manifest file that a kustomization or a chart emits too is
// still a duplicate (an input error): it is one cluster's input twice; so
// is any other object (a Namespace, a policy) that two kustomizations or
// charts emit when no workload they share makes environments of them
// (see environments).
//
// What is given up: the environments are not combined with one another,
// so two applications with overlays each (app1/overlays/prod and
// app2/overlays/prod) are checked one overlay at a time, not as the prod
// cluster that holds both; give `ward check` one cluster's overlays to
// model them together.

// An environment is one part of the input checked as one cluster.
type environment struct {
	name string // the kustomization or chart directory; "" for the whole input
	in   *inputs
}

// environments returns the environments of in: in itself when no two
// kustomizations or charts it renders emit the same workload.
func (e *env) environments(in *inputs) []environment {
	// The rendered streams by directory: a chart renders one stream per
	// template, a kustomization one.
	var dirs []string
	byDir := map[string][]manifest.Rendered{}
	for _, r := range in.rendered {
		dir := r.Dir
		if r.Origin == "" && helmchart.IsChart(dir) {
			// The kustomization of a chart directory: helm installs
			// the chart, kubectl apply -k the kustomization, never both.
			dir += " (kustomization)"
		}
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], r)
	}
	whole := []environment{{in: in}}
	if len(dirs) < 2 {
		return whole
	}
	// The workloads each directory emits, read on their own (errors are
	// reported by the load of each environment).
	emits := map[manifest.Ref][]int{}
	for i, d := range dirs {
		set, _ := manifest.Load(manifest.Options{DefaultNamespace: e.namespace, Rendered: byDir[d], MaxFileSize: e.maxInput, SelectorKeys: e.selectorKeys})
		if set == nil {
			continue
		}
		// Only workloads make environments: overlays of one application
		// each emit its workloads, while unrelated kustomizations and
		// charts often emit the same Namespace, ClusterRole or policy
		// (a component each includes). Counted, those would be checked
		// apart, never as the one cluster they are: a policy of one that
		// opens the other's database would go unseen. Left out, such a
		// shared object stays a duplicate-object input error, as it was.
		seen := map[manifest.Ref]bool{}
		for _, w := range set.Workloads {
			ref := manifest.Ref{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
			if !seen[ref] {
				seen[ref] = true
				emits[ref] = append(emits[ref], i)
			}
		}
	}
	apart := make([]bool, len(dirs))
	for _, ds := range emits {
		if len(ds) > 1 {
			for _, i := range ds {
				apart[i] = true
			}
		}
	}
	if !slices.Contains(apart, true) {
		return whole
	}
	var common []manifest.Rendered
	for i, d := range dirs {
		if !apart[i] {
			common = append(common, byDir[d]...)
		}
	}
	var envs []environment
	for i, d := range dirs {
		if !apart[i] {
			continue
		}
		part := *in
		part.rendered = slices.Concat(common, byDir[d])
		envs = append(envs, environment{name: d, in: &part})
	}
	return envs
}

// mergeEnvironments merges the findings of each environment (fss[i] of
// envs[i]): a finding that all give is kept once, as it is; one that only
// some give is kept once, naming them (Finding.Environments).
func mergeEnvironments(envs []environment, fss [][]finding.Finding) []finding.Finding {
	if len(envs) == 1 {
		return fss[0]
	}
	// The severity is part of a finding: one graver in some environments
	// is not the same finding, and kept once as in all it would carry the
	// severity of the first environment, which --fail-on may pass.
	type key struct {
		rule, file, object, message, origin string
		line                                int
		severity                            finding.Severity
		suppressed                          bool
	}
	keyOf := func(f finding.Finding) key {
		return key{f.Rule, f.File, f.Object, f.Message, f.Origin, f.Line, f.Severity, f.Suppressed != nil}
	}
	in := map[key][]string{}
	var order []finding.Finding
	for i, fs := range fss {
		for _, f := range fs {
			k := keyOf(f)
			if names := in[k]; len(names) > 0 && names[len(names)-1] == envs[i].name {
				continue // twice in one environment: named once, kept once
			}
			if len(in[k]) == 0 {
				order = append(order, f)
			}
			in[k] = append(in[k], envs[i].name)
		}
	}
	out := make([]finding.Finding, 0, len(order))
	for _, f := range order {
		if names := in[keyOf(f)]; len(names) < len(envs) {
			f.Environments = slices.Compact(slices.Sorted(slices.Values(names)))
		}
		out = append(out, f)
	}
	return out
}

// environmentNames lists the environments for a message.
func environmentNames(envs []environment) string {
	names := make([]string, len(envs))
	for i, env := range envs {
		names[i] = env.name
	}
	slices.SortFunc(names, cmp.Compare)
	return strings.Join(names, ", ")
}
