package suppress

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/wardsec/ward/finding"
	"github.com/wardsec/ward/manifest"
)

// AnnotationPrefix starts the annotation that silences a rule on a
// Kubernetes object: ignore.ward.dev/<rule-id>: "<reason>". Because an
// annotation name may not contain "/", the rule id's "/" may be written as
// "." (ignore.ward.dev/pod.writable-root-fs); both forms are accepted.
const AnnotationPrefix = "ignore.ward.dev/"

// RuleBadSuppression is reported for a suppression annotation without a
// reason: it silences nothing.
const RuleBadSuppression = "input/bad-suppression"

// Rules describes the findings Apply itself reports.
var Rules = []finding.Rule{{
	ID:        RuleBadSuppression,
	Severity:  finding.Low,
	Summary:   "A suppression annotation has no reason, so it silences nothing.",
	Rationale: "Every suppression must say why the finding does not apply, so that reviewers can judge it later. An empty reason is treated as a mistake, not as consent.",
	Fix:       `Write the reason as the annotation's value: ignore.ward.dev/<rule-id>: "tmpfs is mounted at /tmp; nothing else is written".`,
}}

// Ignore is one entry of ward.yaml's ignore list. Rule is required; Path
// and Object narrow it; Reason is required.
type Ignore struct {
	// Rule is a rule id or a wildcard pattern over rule ids ("pss/*"):
	// "*" matches any run of characters, "/" included, "?" one character.
	Rule string
	// Path, when set, is a path.Match glob matched, from its start,
	// against the finding's file relative to the directory of File (the
	// ward.yaml), or as Ward prints it; a pattern ending in "/" matches
	// every file under that directory, and one starting with "**/" at
	// any depth. A pattern that matched any trailing part of the file
	// let an entry for a vendored directory silence a directory of that
	// name added anywhere in the tree.
	Path string
	// Object, when set, is the finding's object ("namespace/Kind/name",
	// "service db", ...) or a wildcard pattern over it, as for Rule.
	Object string
	Reason string
	// File and Line locate the entry in ward.yaml.
	File string
	Line int
	// Rules, set by Resolve when Rule is a peer auditor's check id (such
	// as KSV-0014), are the Ward rules the entry silences instead of
	// those Rule matches as a pattern.
	Rules []string
}

// Validate checks the entry's fields: a rule and a reason, and globs that
// path.Match accepts.
func (ig *Ignore) Validate() error {
	switch {
	case ig.Rule == "":
		return fmt.Errorf("ignore needs a rule (a rule id such as pod/writable-root-fs, or a glob such as pss/*)")
	case strings.TrimSpace(ig.Reason) == "":
		return fmt.Errorf("ignore of %s needs a reason", ig.Rule)
	}
	if _, err := path.Match(ig.Path, ""); err != nil {
		return fmt.Errorf("ignore of %s: bad path pattern %q: %v", ig.Rule, ig.Path, err)
	}
	if strings.Contains(strings.TrimPrefix(ig.Path, "**/"), "**") {
		return fmt.Errorf("ignore of %s: path %q: \"**\" is only taken as a leading \"**/\" (any depth)", ig.Rule, ig.Path)
	}
	return nil
}

// Matches reports whether the entry silences f.
func (ig *Ignore) Matches(f finding.Finding) bool {
	ruleOK := wildcard(ig.Rule, f.Rule)
	if ig.Rules != nil {
		ruleOK = slices.Contains(ig.Rules, f.Rule)
	}
	return ruleOK &&
		(ig.Object == "" || wildcard(ig.Object, f.Object)) &&
		(ig.Path == "" || ig.matchesFile(f.File))
}

// matchesFile matches the entry's Path against file relative to the
// ward.yaml's directory, or as printed.
func (ig *Ignore) matchesFile(file string) bool {
	if file == "" {
		return false
	}
	if matchPath(ig.Path, file) {
		return true
	}
	if ig.File == "" || ig.File == "-" {
		return false
	}
	base, err := filepath.Abs(filepath.Dir(ig.File))
	if err != nil {
		return false
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	return matchPath(ig.Path, rel)
}

func glob(pattern, s string) bool {
	if pattern == s {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// wildcard matches s against pattern, where "*" matches any run of
// characters and "?" any one byte. It is written here because path.Match
// stops "*" at "/", and rule ids and object names contain "/".
func wildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchPath matches pattern against file from its start: a pattern
// ending in "/" is a directory and matches the files under it; one
// starting with "**/" matches file or any trailing part of it after a
// "/".
func matchPath(pattern, file string) bool {
	if file == "" {
		return false
	}
	file = path.Clean(strings.ReplaceAll(file, "\\", "/"))
	pattern, anyDepth := strings.CutPrefix(pattern, "**/")
	dir, isDir := strings.CutSuffix(pattern, "/")
	if isDir {
		dir = strings.TrimPrefix(path.Clean(dir), "/")
	} else {
		pattern = strings.TrimPrefix(path.Clean(pattern), "/")
	}
	match := func(file string) bool {
		if isDir {
			return dir == "" || dir == "." || file == dir || strings.HasPrefix(file, dir+"/")
		}
		return glob(pattern, file)
	}
	if match(file) {
		return true
	}
	for i := 0; anyDepth && i < len(file); i++ {
		if file[i] == '/' && match(file[i+1:]) {
			return true
		}
	}
	return false
}

// annotated maps an object, as findings name it, to its annotations.
func annotated(set *manifest.Set) map[string][]map[string]string {
	m := map[string][]map[string]string{}
	add := func(obj string, as ...map[string]string) {
		for _, a := range as {
			if len(a) > 0 {
				m[obj] = append(m[obj], a)
			}
		}
	}
	if set == nil {
		return m
	}
	for _, w := range set.Workloads {
		var tmpl map[string]string
		if w.Template != nil {
			tmpl = w.Template.Annotations
		}
		add(w.ID(), w.Annotations, tmpl)
	}
	for _, s := range set.Skipped {
		// The pod specs of a custom resource: its annotations and those
		// of the pod template around each.
		for _, w := range s.Pods {
			add(w.ID(), w.Annotations, w.Template.Annotations)
		}
	}
	for _, s := range set.Services {
		add(s.Namespace+"/Service/"+s.Name, s.Annotations)
	}
	for _, p := range set.Policies {
		add(p.Namespace+"/NetworkPolicy/"+p.Name, p.Annotations)
	}
	for _, o := range set.Objects {
		switch v := o.Obj.(type) {
		case *networkingv1.Ingress:
			add(manifest.Ref{Kind: "Ingress", Namespace: v.Namespace, Name: v.Name}.String(), v.Annotations)
		case *corev1.ConfigMap:
			add(manifest.Ref{Kind: "ConfigMap", Namespace: v.Namespace, Name: v.Name}.String(), v.Annotations)
		}
	}
	for _, n := range set.Namespaces {
		add(manifest.Ref{Kind: "Namespace", Name: n.Name}.String(), n.Annotations)
	}
	return m
}

// annotationReason returns the reason an annotation set gives for rule,
// and whether it names the rule at all.
func annotationReason(as []map[string]string, rule string) (reason string, found bool) {
	keys := []string{AnnotationPrefix + rule, AnnotationPrefix + strings.ReplaceAll(rule, "/", ".")}
	for _, a := range as {
		for _, k := range keys {
			if r, ok := a[k]; ok {
				if strings.TrimSpace(r) != "" {
					return r, true
				}
				found = true
			}
		}
	}
	return "", found
}

// Apply marks the findings that an object's ignore.ward.dev annotation
// or a ward.yaml ignore entry silences, and reports annotations without a
// reason (RuleBadSuppression). Findings already suppressed (by a comment
// in a Dockerfile or Compose file) keep their suppression. Suppressed
// findings stay in the result: reports count them and list them on
// request. It returns the findings and the ignore entries that matched
// nothing, which callers should report as stale.
func Apply(fs []finding.Finding, set *manifest.Set, ignores []Ignore) ([]finding.Finding, []Ignore) {
	ann := annotated(set)
	used := make([]bool, len(ignores))
	var extra []finding.Finding
	reported := map[string]bool{}
	for i := range fs {
		f := &fs[i]
		if f.Suppressed != nil {
			for j := range ignores {
				if ignores[j].Matches(*f) {
					used[j] = true // also covered: the entry is not stale
				}
			}
			continue
		}
		if as, ok := ann[f.Object]; ok {
			reason, found := annotationReason(as, f.Rule)
			switch {
			case reason != "":
				f.Suppressed = &finding.Suppression{By: "annotation", Reason: reason}
				continue
			case found && !reported[f.Object+"\x00"+f.Rule]:
				reported[f.Object+"\x00"+f.Rule] = true
				extra = append(extra, finding.Finding{
					Rule: RuleBadSuppression, Severity: finding.Low, File: f.File, Line: f.Line, Object: f.Object,
					Message: fmt.Sprintf("annotation %s%s has no reason, so %s is not suppressed", AnnotationPrefix, f.Rule, f.Rule),
					Fix:     Rules[0].Fix,
				})
			}
		}
		for j := range ignores {
			if ignores[j].Matches(*f) {
				used[j] = true
				f.Suppressed = &finding.Suppression{By: "config", Reason: ignores[j].Reason, Line: ignores[j].Line}
				break
			}
		}
	}
	var stale []Ignore
	for j, u := range used {
		if !u {
			stale = append(stale, ignores[j])
		}
	}
	return slices.Concat(fs, extra), stale
}
