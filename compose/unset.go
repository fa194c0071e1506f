package compose

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/finding"
)

// unsetKeys are the service fields whose value decides whether the
// container shares a namespace of the host, runs privileged or gains
// capabilities or confinement exceptions; lists are the ones docker
// compose merges across files rather than replaces.
var unsetKeys = []struct {
	key  string
	list bool
}{
	{"privileged", false}, {"network_mode", false}, {"pid", false}, {"ipc", false},
	{"uts", false}, {"userns_mode", false}, {"cgroup", false},
	{"cap_add", true}, {"security_opt", true},
}

// unsetVariables reports the security fields of the file's services
// (unsetKeys) whose value comes from a variable that env (the project's
// .env, with HOME) does not set and no default replaces (${NET},
// ${NET:?msg}, ${NET:+host}; not ${NET:-bridge}): docker compose takes
// it from the environment it runs in, warning that it is not set, so the
// value deployed (network_mode: host, for one) is not the one judged.
// A field that a later file of the project (later) sets again is that
// file's, unless it is a list, which docker compose merges.
func (a *audit) unsetVariables(env map[string]string, later []*positions) {
	names := make([]string, 0, len(a.services))
	for name := range a.services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, f := range unsetKeys {
			k, v := a.pos.field(name, f.key)
			if k == nil || v == nil {
				continue
			}
			if !f.list && slices.ContainsFunc(later, func(p *positions) bool { k, _ := p.field(name, f.key); return k != nil }) {
				continue
			}
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items = v.Content
			}
			for _, it := range items {
				if it = resolve(it); it == nil || it.Kind != yaml.ScalarNode {
					continue
				}
				vars := unsetIn(it.Value, env)
				if len(vars) == 0 {
					continue
				}
				refs := make([]string, len(vars))
				for i, n := range vars {
					refs[i] = "$" + n
				}
				what := f.key
				if v.Kind == yaml.SequenceNode {
					what = "an item of " + f.key
				}
				a.findings = append(a.findings, finding.Finding{Rule: ruleUnsetVariable, Severity: finding.High, File: a.file, Line: it.Line,
					Object: "service " + name,
					Message: fmt.Sprintf("%s is %q, and no .env of the project sets %s, nor is there a default: docker compose takes the value from the environment it runs in, so what is deployed (the host's namespace, more privileges) is not known here",
						what, it.Value, strings.Join(refs, ", ")),
					Fix: unsetFix})
			}
		}
	}
}

const unsetFix = "Set the variable in the .env beside the Compose file, or give it a safe default (`${NET:-bridge}`), so that the value checked is the value deployed."

// unsetIn returns the variables of s, text that Compose interpolates,
// that env does not set and that no default (${VAR:-word}, ${VAR-word})
// replaces, in order. Required variables (${VAR:?msg}) and those whose
// presence picks a value (${VAR:+word}) count: their value, or whether
// the word applies, is decided where docker compose runs.
func unsetIn(s string, env map[string]string) []string {
	var names []string
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	record := func(name string) (string, bool) {
		v, ok := lookup(name)
		if !ok && !slices.Contains(names, name) {
			names = append(names, name)
		}
		return v, ok
	}
	var sub func(string, template.Mapping) (string, bool, error)
	sub = func(inner string, _ template.Mapping) (string, bool, error) {
		op, at := "", len(inner)
		for _, o := range operators {
			if i := strings.Index(inner, o); i >= 0 && i < at {
				op, at = o, i
			}
		}
		if op == "" {
			return "", false, nil // a plain ${VAR}: looked up with record
		}
		name, word := inner[:at], inner[at+len(op):]
		switch op {
		case ":-", "-":
			if v, set := lookup(name); set && (op == "-" || v != "") {
				return v, true, nil
			}
			w, err := template.SubstituteWithOptions(word, record, template.WithoutLogging, template.WithSubstitutionFunction(sub))
			return w, true, err
		}
		record(name)
		return expand(inner, lookup)
	}
	_, _ = template.SubstituteWithOptions(s, record, template.WithoutLogging, template.WithSubstitutionFunction(sub))
	return names
}
