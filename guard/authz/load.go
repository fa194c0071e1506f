package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/istio"
	"github.com/wardsec/ward/srcpos"
)

// Error is a problem at a line of a policy file. Err is a *PolicyError
// (ErrInvalid, ErrCustom, ErrUnsupported) or wraps ErrSyntax or
// ErrUnknownField. It is srcpos.Error, the one position error of every
// Ward loader.
type Error = srcpos.Error

var (
	// ErrSyntax is malformed YAML, or a document that is not an object.
	ErrSyntax = errors.New("syntax error")
	// ErrUnknownField is a field that AuthorizationPolicy does not have,
	// or a value of the wrong type, under spec: a misspelt field would
	// otherwise be dropped and change what the policy matches.
	ErrUnknownField = errors.New("unknown field")
)

// securityKinds are the kinds of Istio's security API group.
var securityKinds = []string{"AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"}

// topFields are the fields of an object.
var topFields = []string{"apiVersion", "kind", "metadata", "spec", "status"}

// metadataFields are the fields of Kubernetes' ObjectMeta: a policy
// exported with kubectl loads; of them, name, namespace, labels and
// annotations are read.
var metadataFields = []string{"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
	"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
	"ownerReferences", "finalizers", "managedFields"}

const (
	// maxNodes bounds the nodes a document may expand to through aliases.
	maxNodes = 1 << 20
	// maxDepth bounds the nesting of a document.
	maxDepth = 64
)

// Load decodes the AuthorizationPolicy objects of a multi-document YAML
// file (security.istio.io/v1 or v1beta1; kind List is unwrapped). Documents
// of other kinds are skipped. name is the file name for errors.
//
// Load is strict where a lenient reading would change what a policy
// matches: unknown fields and values of the wrong type under spec,
// metadata fields that Kubernetes' ObjectMeta does not have (a misspelt
// namespace moved the policy into the workload's), duplicate keys, and
// AuthorizationPolicy objects of an unknown
// security.istio.io version, or whose group is Istio's in another case
// ("Security.istio.io/v1", which Kubernetes refuses; another group is
// another product's, skipped), are errors. A policy must also pass
// istio.AuthorizationPolicy.Validate and the checks of Compile (Istio's
// validation webhook and ward's limits), and CUSTOM policies are refused.
// The error is errors.Join of *Error, each naming file:line, in line
// order; no policies are returned with it.
func Load(name string, data []byte) ([]*istio.AuthorizationPolicy, error) {
	l := &loader{file: name, data: data}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := syntaxError(err, data)
			l.errorf(line, ErrSyntax, "%s", msg)
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		budget := maxNodes
		root, nerr := resolve(doc.Content[0], &budget, nil, 0)
		if nerr != nil {
			l.errorf(nerr.node.Line, ErrSyntax, "%s", nerr.msg)
			continue
		}
		l.object(root, 0)
	}
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *Error) int { return a.Line - b.Line })
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return l.policies, nil
}

type loader struct {
	file     string
	data     []byte
	policies []*istio.AuthorizationPolicy
	errs     []*Error
	lines    map[string]int // namespace/name: line of the first definition
}

func (l *loader) errorf(line int, kind error, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Err: &kindError{kind, fmt.Sprintf(format, args...)}})
}

// kindError is a message of one of the kinds ErrSyntax, ErrUnknownField.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() error { return e.kind }

// object loads the object in n, or the items of a List.
func (l *loader) object(n *yaml.Node, depth int) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty document
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, ErrSyntax, "a document must be a mapping, not %s", describeNode(n))
		return
	}
	if k := duplicateKey(n); k != nil {
		l.errorf(k.Line, ErrSyntax, "mapping key %q defined twice", k.Value)
		return
	}
	apiVersion, kind := scalarValue(get(n, "apiVersion")), scalarValue(get(n, "kind"))
	if strings.HasSuffix(kind, "List") {
		if items := get(n, "items"); items != nil && items.Kind == yaml.SequenceNode && depth < 2 {
			for _, it := range items.Content {
				l.object(it, depth+1)
			}
			return
		}
	}
	group, _, _ := strings.Cut(apiVersion, "/")
	switch {
	case kind == "" && apiVersion == "":
		l.errorf(n.Line, ErrSyntax, "document has neither apiVersion nor kind")
		return
	case kind == "AuthorizationPolicy" && apiVersion == "":
		l.errorf(n.Line, ErrSyntax, "AuthorizationPolicy without apiVersion (want %s)", strings.Join(istio.Versions, " or "))
		return
	case group != istio.Group && strings.EqualFold(strings.TrimSpace(group), istio.Group):
		// "Security.istio.io/v1": Kubernetes refuses the group (groups
		// are lower case), and read as another product's policy a DENY
		// so written was dropped without a word.
		l.errorf(line(get(n, "apiVersion"), n), ErrSyntax, "apiVersion %q: API groups are lower case (want %s)", apiVersion, strings.Join(istio.Versions, " or "))
		return
	case group == istio.Group && !slices.Contains(securityKinds, kind):
		// A misspelt kind would drop the policy without a word.
		l.errorf(line(get(n, "kind"), n), ErrSyntax, "unknown kind %q in %s (want %s)", kind, istio.Group, strings.Join(securityKinds, ", "))
		return
	case kind != "AuthorizationPolicy", group != istio.Group:
		return // another kind, or another product's AuthorizationPolicy
	}
	before := len(l.errs)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(topFields, k.Value) {
			l.errorf(k.Line, ErrUnknownField, "unknown field %q (known: %s)", k.Value, strings.Join(topFields, ", "))
		}
	}
	if len(l.errs) > before {
		return
	}
	if !slices.Contains(istio.Versions, apiVersion) {
		l.errorf(line(get(n, "apiVersion"), n), ErrSyntax, "unsupported apiVersion %q for AuthorizationPolicy (want %s)", apiVersion, strings.Join(istio.Versions, " or "))
		return
	}
	l.policy(n, apiVersion)
}

// policy decodes one AuthorizationPolicy: strictly under spec, only the
// name, namespace, labels and annotations of metadata.
func (l *loader) policy(n *yaml.Node, apiVersion string) {
	before := len(l.errs)
	meta := get(n, "metadata")
	spec := get(n, "spec")
	var buf bytes.Buffer
	buf.WriteString(`{"apiVersion":`)
	writeJSONString(&buf, apiVersion)
	buf.WriteString(`,"kind":"AuthorizationPolicy","metadata":{`)
	first := true
	if meta != nil && meta.Kind == yaml.MappingNode {
		if k := duplicateKey(meta); k != nil {
			l.errorf(k.Line, ErrSyntax, "mapping key %q defined twice", k.Value)
		}
		for i := 0; i+1 < len(meta.Content); i += 2 {
			// A misspelt namespace (`namepsace: public`) left the
			// policy in the workload's namespace: one written to allow
			// everyone elsewhere allowed everyone here. kubectl's strict
			// validation refuses it too.
			if k := meta.Content[i]; !slices.Contains(metadataFields, k.Value) {
				l.errorf(k.Line, ErrUnknownField, "metadata: unknown field %q (known: %s)", k.Value, strings.Join(metadataFields, ", "))
			}
		}
		for _, key := range []string{"name", "namespace", "labels", "annotations"} {
			v := get(meta, key)
			if v == nil || isNull(v) {
				continue
			}
			want := reflect.TypeFor[string]()
			if key == "labels" || key == "annotations" {
				want = reflect.TypeFor[map[string]string]()
			}
			if err := l.check(v, want, "metadata."+key); err {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeJSONString(&buf, key)
			buf.WriteByte(':')
			writeJSON(&buf, v)
		}
	} else if meta != nil && !isNull(meta) {
		l.errorf(meta.Line, ErrUnknownField, "metadata: want a mapping, got %s", describeNode(meta))
	}
	buf.WriteString(`},"spec":`)
	if spec == nil || isNull(spec) {
		buf.WriteString("{}")
	} else {
		if l.check(spec, reflect.TypeFor[istio.AuthorizationPolicySpec](), "spec") {
			return
		}
		writeJSON(&buf, spec)
	}
	buf.WriteByte('}')
	if len(l.errs) > before {
		return
	}
	p := new(istio.AuthorizationPolicy)
	if err := json.Unmarshal(buf.Bytes(), p); err != nil {
		l.errorf(n.Line, ErrUnknownField, "%v", err)
		return
	}
	if p.Name == "" {
		l.errorf(lineOfPath(n, "metadata.name"), ErrSyntax, "metadata.name is required")
		return
	}
	name := p.Namespace + "/" + p.Name
	if p.Namespace == "" {
		name = p.Name
	}
	if _, problems, _ := compilePolicy(p, name); len(problems) > 0 {
		for _, pr := range problems {
			l.errs = append(l.errs, &Error{File: l.file, Line: lineOfPath(n, pr.Path), Err: pr})
		}
		return
	}
	if first, ok := l.lines[p.Namespace+"/"+p.Name]; ok {
		l.errorf(n.Line, ErrSyntax, "policy %s defined twice (first at line %d)", name, first)
		return
	}
	if l.lines == nil {
		l.lines = map[string]int{}
	}
	l.lines[p.Namespace+"/"+p.Name] = n.Line
	l.policies = append(l.policies, p)
}

// check reports (as errors) where the YAML in n does not fit type t:
// unknown fields, wrong kinds of values, null list items. It returns
// whether it found any.
func (l *loader) check(n *yaml.Node, t reflect.Type, path string) bool {
	before := len(l.errs)
	l.checkNode(n, t, path)
	return len(l.errs) > before
}

func (l *loader) checkNode(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return // the zero value, as JSON null decodes
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			l.errorf(n.Line, ErrUnknownField, "%s: want a mapping, got %s", path, describeNode(n))
			return
		}
		if k := duplicateKey(n); k != nil {
			l.errorf(k.Line, ErrSyntax, "%s: mapping key %q defined twice", path, k.Value)
			return
		}
		fields := jsonFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok || k.Kind != yaml.ScalarNode {
				l.errorf(k.Line, ErrUnknownField, "%s: unknown field %q (known: %s)", path, k.Value, strings.Join(fieldNames(fields), ", "))
				continue
			}
			l.checkNode(v, f.Type, path+"."+k.Value)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.errorf(n.Line, ErrUnknownField, "%s: want a list, got %s", path, describeNode(n))
			return
		}
		for i, it := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if isNull(it) {
				l.errorf(it.Line, ErrUnknownField, "%s: empty list item", p)
				continue
			}
			l.checkNode(it, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			l.errorf(n.Line, ErrUnknownField, "%s: want a mapping, got %s", path, describeNode(n))
			return
		}
		if k := duplicateKey(n); k != nil {
			l.errorf(k.Line, ErrSyntax, "%s: mapping key %q defined twice", path, k.Value)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				l.errorf(k.Line, ErrUnknownField, "%s: keys must be strings, got %s", path, describeNode(k))
				continue
			}
			l.checkNode(n.Content[i+1], t.Elem(), path+"."+k.Value)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(" (quote it: %q)", n.Value)
			}
			l.errorf(n.Line, ErrUnknownField, "%s: want a string, got %s%s", path, describeNode(n), hint)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			l.errorf(n.Line, ErrUnknownField, "%s: want true or false, got %s", path, describeNode(n))
		}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint32:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			l.errorf(n.Line, ErrUnknownField, "%s: want an integer, got %s", path, describeNode(n))
		}
	default:
		l.errorf(n.Line, ErrUnknownField, "%s: cannot decode into %s", path, t)
	}
}

// jsonFields returns the fields of struct type t by JSON name, descending
// into embedded structs without a name, as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

func fieldNames(fields map[string]reflect.StructField) []string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// writeJSON writes n, checked by checkNode, as JSON.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, n.Content[i].Value)
			buf.WriteByte(':')
			writeJSON(buf, n.Content[i+1])
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSON(buf, c)
		}
		buf.WriteByte(']')
	default:
		switch n.ShortTag() {
		case "!!null":
			buf.WriteString("null")
		case "!!str":
			writeJSONString(buf, n.Value)
		default:
			var v any
			if err := n.Decode(&v); err == nil {
				if b, err := json.Marshal(v); err == nil {
					buf.Write(b)
					return
				}
			}
			writeJSONString(buf, n.Value)
		}
	}
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// get returns the value of key in mapping n, nil if absent.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// line returns n's line, or the fallback's when n is nil.
func line(n, fallback *yaml.Node) int {
	if n != nil {
		return n.Line
	}
	return fallback.Line
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
}

// duplicateKey returns the second occurrence of a key of mapping n.
func duplicateKey(n *yaml.Node) *yaml.Node {
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if seen[k] {
			return n.Content[i]
		}
		seen[k] = true
	}
	return nil
}

// lineOfPath returns the line of the field at path ("spec.rules[0].to[1]
// .operation.ports[2]") in the object n, or of the deepest part of it that
// exists.
func lineOfPath(n *yaml.Node, path string) int {
	cur, best := n, n.Line
	for part := range strings.SplitSeq(path, ".") {
		key, idx, _ := strings.Cut(part, "[")
		if key != "" {
			k, v := getKey(cur, key)
			if v == nil {
				return best
			}
			best, cur = k.Line, v
		}
		for idx != "" {
			num, rest, _ := strings.Cut(idx, "]")
			i, err := strconv.Atoi(num)
			if err != nil || cur.Kind != yaml.SequenceNode || i < 0 || i >= len(cur.Content) {
				return best
			}
			cur = cur.Content[i]
			best = cur.Line
			idx = strings.TrimPrefix(rest, "[")
		}
	}
	return best
}

func getKey(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// nodeError is a problem found while resolving aliases.
type nodeError struct {
	node *yaml.Node
	msg  string
}

// resolve returns n with aliases expanded and merge keys ("<<") applied,
// so that the other walkers see plain trees. budget bounds the expansion
// (billion laughs); active holds the aliases being expanded, to refuse
// cycles.
func resolve(n *yaml.Node, budget *int, active []*yaml.Node, depth int) (*yaml.Node, *nodeError) {
	if *budget--; *budget < 0 {
		return nil, &nodeError{n, "document expands too many aliases"}
	}
	if depth > maxDepth {
		return nil, &nodeError{n, "document nests too deeply"}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil || slices.Contains(active, n.Alias) {
			return nil, &nodeError{n, fmt.Sprintf("alias *%s refers to itself or to nothing", n.Value)}
		}
		return resolve(n.Alias, budget, append(active, n.Alias), depth+1)
	case yaml.SequenceNode:
		c := *n
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, it := range n.Content {
			r, err := resolve(it, budget, active, depth+1)
			if err != nil {
				return nil, err
			}
			c.Content[i] = r
		}
		return &c, nil
	case yaml.MappingNode:
		var own, merged []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			v, err := resolve(n.Content[i+1], budget, active, depth+1)
			if err != nil {
				return nil, err
			}
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				sources := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					sources = v.Content
				}
				for _, s := range sources {
					if s.Kind != yaml.MappingNode {
						return nil, &nodeError{k, "merge key value must be a mapping or a list of mappings"}
					}
					merged = append(merged, s.Content...)
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, &nodeError{k, "mapping keys must be scalars"}
			}
			own = append(own, k, v)
		}
		// Keys of the mapping itself win over merged ones, and earlier
		// merged mappings over later ones.
		have := make(map[string]bool, len(own)/2)
		for i := 0; i < len(own); i += 2 {
			have[own[i].Value] = true
		}
		for i := 0; i+1 < len(merged); i += 2 {
			if k := merged[i]; !have[k.Value] {
				have[k.Value] = true
				own = append(own, k, merged[i+1])
			}
		}
		c := *n
		c.Content = own
		return &c, nil
	}
	return n, nil
}

var syntaxLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the yaml.v3 parser (not scanner) errors, for which it
// reports the 0-based line of the construct.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// syntaxError returns the 1-based line and the message of a yaml.v3 error.
func syntaxError(err error, data []byte) (int, string) {
	msg := err.Error()
	lines := bytes.Count(data, []byte("\n")) + 1
	if m := syntaxLineRE.FindStringSubmatch(msg); m != nil {
		l, _ := strconv.Atoi(m[1])
		if parserProblems[m[2]] {
			l++
		}
		return min(max(l, 1), lines), m[2]
	}
	return 1, strings.TrimPrefix(msg, "yaml: ")
}
