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
// container shares a namespace of the host, runs privileged or as root,
// gains capabilities, devices or confinement exceptions, or mounts a
// path of the host; lists are the ones docker compose merges across
// files rather than replaces. Of a list item that is a mapping (the long
// syntax of volumes and devices, a lifecycle hook) the keys sub are
// judged; of a scalar item, the part part returns (a volume's source).
var unsetKeys = []struct {
	key  string
	list bool
	sub  []string
	part func(string) string
}{
	{key: "privileged"}, {key: "network_mode"}, {key: "pid"}, {key: "ipc"},
	{key: "uts"}, {key: "userns_mode"}, {key: "cgroup"}, {key: "user"},
	{key: "cap_add", list: true}, {key: "security_opt", list: true},
	{key: "devices", list: true, sub: []string{"source"}},
	{key: "volumes", list: true, sub: []string{"source"}, part: volumeSource},
	{key: "post_start", list: true, sub: []string{"privileged", "user"}},
	{key: "pre_stop", list: true, sub: []string{"privileged", "user"}},
}

// volumeSource is the source of a short-syntax volume (SOURCE:TARGET:MODE):
// the text before the first colon that is not inside ${...}, as a
// default (${HOST_DIR:-/srv}) may hold colons. A volume with no colon
// (an anonymous volume) has no source.
func volumeSource(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '$':
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == ':' && depth == 0:
			return s[:i]
		}
	}
	return ""
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
			for i, it := range items {
				it = resolve(it)
				if it == nil {
					continue
				}
				what := f.key
				if v.Kind == yaml.SequenceNode {
					what = "an item of " + f.key
				}
				var judged []*yaml.Node
				var whats []string
				switch {
				case it.Kind == yaml.ScalarNode:
					judged, whats = append(judged, it), append(whats, what)
				case it.Kind == yaml.MappingNode && v.Kind == yaml.SequenceNode:
					for _, key := range f.sub {
						if _, sv := lookup(it, key, 0); sv != nil && sv.Kind == yaml.ScalarNode {
							judged, whats = append(judged, sv), append(whats, fmt.Sprintf("%s of item %d of %s", key, i+1, f.key))
						}
					}
				}
				for j, n := range judged {
					text, what := n.Value, whats[j]
					if f.part != nil && n.Kind == yaml.ScalarNode && it.Kind == yaml.ScalarNode {
						text, what = f.part(text), "the source of "+what
					}
					a.reportUnset(name, n, what, text, env)
				}
			}
		}
	}
}

// reportUnset reports the variables of text, the part of node n that
// is judged, that env does not set and no default replaces.
func (a *audit) reportUnset(service string, n *yaml.Node, what, text string, env map[string]string) {
	vars := unsetIn(text, env)
	if len(vars) == 0 {
		return
	}
	refs := make([]string, len(vars))
	for i, v := range vars {
		refs[i] = "$" + v
	}
	a.findings = append(a.findings, finding.Finding{Rule: ruleUnsetVariable, Severity: finding.High, File: a.file, Line: n.Line,
		Object: "service " + service,
		Message: fmt.Sprintf("%s is %q, and no .env of the project sets %s, nor is there a default: docker compose takes the value from the environment it runs in, so what is deployed (the host's namespace, more privileges, a path of the host) is not known here",
			what, n.Value, strings.Join(refs, ", ")),
		Fix: unsetFix})
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
