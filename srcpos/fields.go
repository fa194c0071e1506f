package srcpos

import (
	"reflect"
	"regexp"
	"strings"
)

var unknownField = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)

// UnknownField rewrites yaml.v3's strict-decoding message "field X not
// found in type pkg.T", which names a Go type the user never sees, as
// "field X not found (want a, b, c)", the keys the YAML mapping at that
// place takes (T's yaml tags, T being root or a type root holds), and
// suggests the key that differs only in case ("ratelimit" for
// "rateLimit"). Other messages are returned unchanged.
func UnknownField(msg string, root reflect.Type) string {
	m := unknownField.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	keys := yamlKeys(root, map[reflect.Type]bool{})[m[2]]
	if len(keys) == 0 {
		return "field " + m[1] + " not found"
	}
	for _, k := range keys {
		if strings.EqualFold(k, m[1]) {
			return "field " + m[1] + " not found: did you mean " + k + "? (keys are case-sensitive)"
		}
	}
	return "field " + m[1] + " not found (want " + strings.Join(keys, ", ") + ")"
}

// yamlKeys maps the name of every struct type reachable from t
// (reflect.Type.String, as yaml.v3 names it) to its YAML keys in order.
func yamlKeys(t reflect.Type, seen map[reflect.Type]bool) map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type) []string
	walk = func(t reflect.Type) []string {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		if seen[t] {
			return out[t.String()]
		}
		seen[t] = true
		var keys []string
		for f := range t.Fields() {
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case name == "-":
				continue
			case strings.Contains(","+opts+",", ",inline,"):
				keys = append(keys, walk(f.Type)...)
				continue
			case name == "":
				name = strings.ToLower(f.Name) // yaml.v3's default
			}
			keys = append(keys, name)
			walk(f.Type)
		}
		out[t.String()] = keys
		return keys
	}
	walk(t)
	return out
}
