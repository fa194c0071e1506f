package manifest

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	networkingv1 "k8s.io/api/networking/v1"
)

// unknownField is a mapping key that the object's type does not define.
type unknownField struct {
	path  string // the key's field path, in the Policy.Lines format
	line  int    // the key's line in its document
	known []string
}

// strictKind reports whether obj is a kind whose unknown fields are
// errors: the security policies Ward evaluates. kubectl apply refuses an
// unknown field (strict field validation, its default since 1.27), and so
// does istiod's validation for Istio's objects; a client that skips
// validation has the API server drop it, so that the policy in force is
// not the one written ("ingres:" for "ingress:" leaves a deny-all). Either
// way the policy Ward would evaluate is not what runs, so Ward refuses
// the document instead of reading it one way or the other.
//
// Other kinds keep the API server's default of dropping unknown fields:
// what Ward audits of them (a pod's securityContext, say) is then what
// runs, and a field a newer cluster knows must not fail the run.
func strictKind(obj any) bool {
	switch obj.(type) {
	case *networkingv1.NetworkPolicy, *peerAuthentication, *authorizationPolicy:
		return true
	}
	return false
}

// unknownFields returns the keys of n, an object of type t, that t's JSON
// form does not define, walking into every known field as encoding/json
// would decode it. A top-level status is allowed (dumps of older
// clusters carry a NetworkPolicy status, and Istio writes one); a type
// with its own JSON decoding (IntOrString, Time) is not walked into.
func unknownFields(n *yaml.Node, t reflect.Type) []unknownField {
	var out []unknownField
	var walk func(n *yaml.Node, t reflect.Type, path string)
	walk = func(n *yaml.Node, t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if n == nil || n.Kind == yaml.ScalarNode || n.Kind == yaml.AliasNode || reflect.PointerTo(t).Implements(unmarshalerType) {
			return // a scalar has no fields; a wrong type is typeCheck's
		}
		switch t.Kind() {
		case reflect.Struct:
			if n.Kind != yaml.MappingNode {
				return
			}
			fields := jsonFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				ft, ok := fields[k.Value]
				if !ok {
					if path == "" && k.Value == "status" {
						continue
					}
					known := make([]string, 0, len(fields))
					for name := range fields {
						known = append(known, name)
					}
					slices.Sort(known)
					out = append(out, unknownField{path: join(path, k.Value), line: k.Line, known: known})
					continue
				}
				walk(n.Content[i+1], ft, join(path, k.Value))
			}
		case reflect.Map:
			if n.Kind != yaml.MappingNode {
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
			}
		case reflect.Slice, reflect.Array:
			if n.Kind != yaml.SequenceNode {
				return
			}
			for i, e := range n.Content {
				walk(e, t.Elem(), path+"["+strconv.Itoa(i)+"]")
			}
		}
	}
	walk(n, t, "")
	return out
}

// unknownFieldError is the FieldError of an unknown field of a strict kind.
func unknownFieldError(kind string, u unknownField) FieldError {
	known := strings.Join(u.known, ", ")
	if i := strings.LastIndex(known[:min(len(known), 200)], ","); len(known) > 200 && i > 0 {
		known = known[:i] + ", ..."
	}
	validator := "kubectl apply refuses it (strict field validation)"
	if kind != "NetworkPolicy" {
		validator = "kubectl apply and istiod's validation refuse it"
	}
	return FieldError{Path: u.path, Msg: "unknown field (known here: " + known + "): " + validator +
		", and where validation is off the API server drops it, so the " + kind + " in force is not the one written (misspelt?)"}
}

// nullItems returns the items of n's lists, anywhere in it, that are
// null (~, null, or nothing after "- "). Istio's validation refuses them
// ("rules: [null]": a rule must not be nil), and its CRD schema types
// them as objects or strings, while decoding reads one as an empty rule
// (a DENY of every request) or an empty string: such an Istio object is
// read neither way.
func nullItems(n *yaml.Node) []unknownField {
	var out []unknownField
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch {
		case n == nil:
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], join(path, n.Content[i].Value))
			}
		case n.Kind == yaml.SequenceNode:
			for i, e := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				if e.Kind == yaml.ScalarNode && e.ShortTag() == "!!null" {
					out = append(out, unknownField{path: p, line: e.Line})
					continue
				}
				walk(e, p)
			}
		}
	}
	walk(n, "")
	return out
}
