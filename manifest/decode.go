package manifest

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	sigsjson "sigs.k8s.io/json"

	yaml2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/internal/fastyaml"
)

// A unit is a piece of a file that parses on its own: a whole document, or
// one item or the header of a large List document cut by splitList.
type unit struct {
	text []byte
	line int // file line of text's first line
	mode unitMode
	list typeMeta // for an item: what its List gives items without their own
	// doc and idx locate the unit in its file for slimRef: the index of
	// its document and its own in the document (-1: the whole document).
	doc, idx int
}

// typeMeta is an apiVersion and a kind. The items of a typed List, such as
// a PodList from the API server, carry none: they take the List's
// apiVersion and its kind without "List".
type typeMeta struct{ apiVersion, kind string }

// itemType returns what a List of kind gives its items.
func itemType(apiVersion, kind string) typeMeta {
	if kind == "List" {
		return typeMeta{} // items of a plain List say what they are
	}
	return typeMeta{apiVersion, strings.TrimSuffix(kind, "List")}
}

type unitMode uint8

const (
	wholeDocument unitMode = iota
	yamlItem               // "- item" text: a one-element sequence
	jsonItem               // an element of a JSON array
	listHeader             // a List document without its items
)

// decoded is what a unit yields, in input order within each slice.
type decoded struct {
	objs        []object
	skipped     []Skipped
	unsupported []Unsupported
	errs        []error
	seen        int // objects with an apiVersion and a kind
	// retry is set when a cut-out List piece does not parse on its own:
	// the loader then decodes the whole document instead.
	retry bool
}

// A decoder turns units into typed objects. Each worker goroutine has its
// own, for its scratch buffer.
type decoder struct {
	file             string
	defaultNamespace string
	fieldLines       bool              // Options.FieldLines
	buf              []byte            // JSON of the object being decoded
	scratch          []byte            // JSON of a scalar, for fits
	strs             map[string]string // short strings already decoded (str)
	arena            fastyaml.Arena    // the nodes of the document being decoded
	// reread, when set, is the file being decoded, which can be read
	// again: owned Pods are then decoded slim (see slimRef).
	reread *rereadable
	// unitDoc and unitIdx are the doc and idx of the unit being decoded.
	unitDoc, unitIdx int
	lines            linesBuilder
}

// decode decodes one unit of the document that starts with origin.
func (d *decoder) decode(u unit, origin string, out *decoded) {
	d.unitDoc, d.unitIdx = u.doc, u.idx
	doc, fast, err := d.parseDocument(u.text)
	if err != nil {
		if u.mode != wholeDocument {
			out.retry = true
			return
		}
		line, msg := syntaxError(err, u.text)
		out.errs = append(out.errs, &Error{File: d.file, Line: u.line + line - 1, Err: fmt.Errorf("%w: %s", ErrSyntax, msg)})
		return
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return // empty
	}
	root := doc.Content[0]
	base := u.line - 1
	if !fast {
		ne := yaml11Tags(root)
		if ne == nil {
			ne = yaml11Keys(root)
		}
		if ne != nil {
			if u.mode != wholeDocument {
				out.retry = true
				return
			}
			out.errs = append(out.errs, &Error{File: d.file, Line: ne.node.Line + base, Err: fmt.Errorf("%w: %s", ErrSyntax, ne.message(base))})
			return
		}
	}
	if needsResolve(u.text) {
		budget := 16*len(u.text) + 1024
		r, ne := resolveNode(root, &budget, nil)
		if ne != nil {
			if u.mode != wholeDocument {
				out.retry = true
				return
			}
			out.errs = append(out.errs, &Error{File: d.file, Line: ne.node.Line + base, Err: fmt.Errorf("%w: %s", ErrSyntax, ne.message(base))})
			return
		}
		root = r
	}
	switch u.mode {
	case yamlItem:
		if root.Kind != yaml.SequenceNode || len(root.Content) != 1 {
			out.retry = true
			return
		}
		root = root.Content[0]
	case listHeader:
		// The header must lead object to the same List branch as the
		// whole document would, with the items cut out.
		items := mapGet(root, "items")
		emptied := items != nil && (scalar(items) == "" && items.Kind == yaml.ScalarNode || items.Kind == yaml.SequenceNode && len(items.Content) == 0)
		if root.Kind != yaml.MappingNode || scalar(mapGet(root, "apiVersion")) == "" ||
			!strings.HasSuffix(scalar(mapGet(root, "kind")), "List") || !emptied || duplicateKey(root) != nil {
			out.retry = true
		}
		out.seen++
		if !out.retry {
			listHook(root, d.file, u.line, out)
		}
		return
	}
	depth := 0
	if u.mode == yamlItem || u.mode == jsonItem {
		depth = 1 // an item cut out of a List
	}
	d.object(root, base, origin, out, depth, u.list)
}

// parseDocument parses the text of one document into a node tree. It is
// the only call to the YAML parser; the trees it returns are dropped once
// their objects are decoded.
//
// The fast path parses the subset of YAML that manifests use about seven
// times faster than yaml.v3 and yields the same tree; anything outside it
// (anchors, block scalars, syntax errors, ...) goes to yaml.v3, which also
// writes the error messages. internal/fastyaml is fuzzed against yaml.v3.
// The fast path checks metadata.managedFields but does not build it (a
// null in the tree): appendMetadata leaves it out anyway.
//
// The fast path's trees live in the decoder's arena: each is dead once
// the next document is parsed, and its strings are the text's bytes, so
// whatever the decoder keeps it copies (str, strings.Clone).
func (d *decoder) parseDocument(text []byte) (doc *yaml.Node, fast bool, err error) {
	if doc, err := fastyaml.ParseObjectIn(&d.arena, text); err == nil {
		return doc, true, nil
	}
	// yaml.Unmarshal would read the root value and drop what follows it
	// in the document (`{...} garbage`, a JSON line with more after it):
	// the decoder is asked for the rest, which must be nothing, so that
	// the parser reports it.
	doc = new(yaml.Node)
	dec := yaml.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(doc); err != nil {
		if errors.Is(err, io.EOF) {
			return doc, false, nil // no value: an empty document
		}
		return nil, false, err
	}
	var rest yaml.Node
	switch err := dec.Decode(&rest); {
	case errors.Is(err, io.EOF):
		return doc, false, nil
	case err != nil:
		return nil, false, err
	default: // documents are cut at "---" and "...": not expected
		return nil, false, fmt.Errorf("yaml: line %d: more than one document", rest.Line)
	}
}

// object decodes the object in mapping n, or the items of a List.
// Items of a typed List without apiVersion and kind take what list
// gives.
func (d *decoder) object(n *yaml.Node, base int, origin string, out *decoded, depth int, list typeMeta) {
	src := Source{File: d.file, Line: n.Line + base, Origin: origin}
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return // an empty document
		}
		if depth > 0 {
			// kubectl and helm fail on such an item of a List.
			out.errs = append(out.errs, &Error{File: d.file, Line: src.Line, Err: fmt.Errorf("%w: an item of a List that is not a mapping: kubectl fails on it", ErrType)})
			return
		}
		if n.Kind == yaml.SequenceNode && slices.ContainsFunc(n.Content, func(c *yaml.Node) bool {
			return scalar(mapGet(c, "apiVersion")) != "" && scalar(mapGet(c, "kind")) != ""
		}) {
			// Other YAML may be a list (an Ansible playbook), but a
			// list of objects is meant to be applied: kubectl and helm
			// fail on it, and apply none of them.
			out.errs = append(out.errs, &Error{File: d.file, Line: src.Line, Err: fmt.Errorf("%w: a list of objects, which kubectl fails on: write them as documents separated by ---, or as the items of a kind: List", ErrType)})
			return
		}
		out.skipped = append(out.skipped, Skipped{Source: src, Reason: "not a Kubernetes object: not a mapping"})
		return
	}
	// kubectl keeps the last of keys written twice: a second kind, or a
	// List's second items, is what it applies. Checked here for every
	// object, Lists and kinds Ward does not model included, before the
	// first apiVersion, kind and items are read.
	if ne := duplicateKey(n); ne != nil {
		out.errs = append(out.errs, &Error{File: d.file, Line: ne.node.Line + base, Err: fmt.Errorf("%w: %s", ErrSyntax, ne.message(base))})
		return
	}
	// A document without both keys is no Kubernetes object, whatever
	// they hold: a Grafana provisioning file has apiVersion: 1 and no
	// kind. kubectl fails on it ("Object 'Kind' is missing") as on any
	// YAML that is not an object, which Ward skips below; an item of a
	// List is meant as one.
	typed := depth > 0 || mapGet(n, "apiVersion") != nil && mapGet(n, "kind") != nil
	for _, key := range []string{"apiVersion", "kind"} {
		if v := mapGet(n, key); typed && (v != nil && v.Kind == yaml.ScalarNode && jsonKind(v) != 's' && jsonKind(v) != '0' || v != nil && v.Kind != yaml.ScalarNode) {
			// apimachinery reads them as strings only: kubectl fails
			// on the object (Object 'Kind' is missing), and the file.
			out.errs = append(out.errs, &Error{File: d.file, Line: v.Line + base, Err: fmt.Errorf("%w: %s is not a string: kubectl fails on it (quote it)", ErrType, key)})
			return
		}
	}
	apiVersion, kind := scalar(mapGet(n, "apiVersion")), scalar(mapGet(n, "kind"))
	if apiVersion == "" && kind == "" {
		// apimachinery gives an item the List's only when it has
		// neither: an item with a kind and no apiVersion, or the
		// reverse, has none, and kubectl fails on it.
		apiVersion, kind = list.apiVersion, list.kind
	}
	if (apiVersion == "" || kind == "") && depth > 0 {
		// A document without them may be any YAML, but an item of a List
		// is meant as an object: kubectl and helm fail on it ("Object
		// 'Kind' is missing"), and nothing of it is applied.
		out.errs = append(out.errs, &Error{File: d.file, Line: src.Line,
			Err: fmt.Errorf("%w: an item of a List without apiVersion or kind: kubectl fails on it", ErrType)})
		return
	}
	if apiVersion == "" || kind == "" {
		out.skipped = append(out.skipped, Skipped{Source: src, Kind: strings.Clone(kind), Reason: "not a Kubernetes object: no apiVersion or kind"})
		return
	}
	if strings.Count(apiVersion, "/") > 1 {
		// apimachinery's ParseGroupVersion refuses it: kubectl and helm
		// fail on the object ("Object 'Kind' is missing"), and on the
		// whole stream with it.
		out.errs = append(out.errs, &Error{File: d.file, Line: src.Line, Err: fmt.Errorf("%w: apiVersion %q is not a group/version: kubectl fails on it", ErrType, apiVersion)})
		return
	}
	out.seen++
	items := mapGet(n, "items")
	if strings.HasSuffix(kind, "List") && items != nil && (items.Kind == yaml.SequenceNode || items.ShortTag() == "!!null") {
		if depth >= maxListDepth {
			out.errs = append(out.errs, &Error{File: d.file, Line: src.Line, Err: fmt.Errorf("%w: %s %s nested in more than %d Lists: its items are not read", ErrSyntax, apiVersion, kind, maxListDepth)})
			return
		}
		if depth == 0 {
			listHook(n, d.file, src.Line, out)
		}
		for _, item := range items.Content {
			d.object(item, base, origin, out, depth+1, itemType(apiVersion, kind))
		}
		return
	}
	if apiVersion == "v1" && kind == "List" {
		// What kubectl reads the objects of: never a document skipped with
		// its items unread.
		out.errs = append(out.errs, &Error{File: d.file, Line: src.Line, Err: fmt.Errorf("%w: v1 List without a list of items: items %s", ErrType, missingOr(items))})
		return
	}
	if items != nil {
		// kubectl and helm decode any object with a top-level items
		// field as a List (apimachinery's unstructured decoder), whatever
		// its kind: they apply its items and never the object itself, and
		// fail on items that are not a list (a List kind's list of items
		// was read above).
		if items.Kind != yaml.SequenceNode && items.ShortTag() != "!!null" {
			line := items.Line
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i+1] == items {
					line = n.Content[i].Line // the key's
				}
			}
			out.errs = append(out.errs, &Error{File: d.file, Line: line + base, Err: fmt.Errorf("%w: %s %s has a top-level items field that is not a list: kubectl reads an object with items as a List, and fails on it", ErrType, apiVersion, kind)})
			return
		}
		md := mapGet(n, "metadata")
		out.skipped = append(out.skipped, Skipped{Source: src, Kind: strings.Clone(kind),
			Reason:     fmt.Sprintf("%s %s has a top-level items field: kubectl and helm read it as a List and apply its items, never the %s itself", apiVersion, kind, kind),
			APIVersion: strings.Clone(apiVersion), Namespace: strings.Clone(scalar(mapGet(md, "namespace"))), Name: strings.Clone(scalar(mapGet(md, "name")))})
		if depth >= maxListDepth {
			out.errs = append(out.errs, &Error{File: d.file, Line: src.Line, Err: fmt.Errorf("%w: %s %s nested in more than %d Lists: its items are not read", ErrSyntax, apiVersion, kind, maxListDepth)})
			return
		}
		for _, item := range items.Content {
			d.object(item, base, origin, out, depth+1, itemType(apiVersion, kind))
		}
		return
	}
	if is, namespaced := unsupported(apiVersion, kind); is {
		md := mapGet(n, "metadata")
		ns := scalar(mapGet(md, "namespace"))
		if ns == "" && namespaced {
			ns = d.defaultNamespace
		}
		// Values are cloned so that kept results never pin a parser's buffers.
		out.unsupported = append(out.unsupported, Unsupported{Source: src, APIVersion: strings.Clone(apiVersion),
			Kind: strings.Clone(kind), Namespace: strings.Clone(ns), Name: strings.Clone(scalar(mapGet(md, "name"))),
			Audited: known(apiVersion, kind) != nil, Digest: digest(n)})
		if known(apiVersion, kind) == nil {
			return
		}
		// Istio's security objects are also decoded for the mesh audit.
	}
	obj := known(apiVersion, kind)
	if served := foldedKind(apiVersion, kind); obj == nil && served != "" {
		// Kinds are case-sensitive: kubectl finds no resource for
		// kind: networkpolicy and fails on the file, applying nothing.
		out.errs = append(out.errs, &Error{File: d.file, Line: keyLine(n, "kind", src.Line, base),
			Err: fmt.Errorf("%w: %s has no kind %s, kinds are case-sensitive (want %s): kubectl fails on it", ErrInvalid, strings.Clone(apiVersion), strings.Clone(kind), served)})
		return
	}
	if want := servedAs(kind); obj == nil && want != "" && builtinGroup(apiVersion) {
		// A kind Ward models under a built-in apiVersion that never served
		// it: the API server rejects the object, so nothing it declares is
		// in force. Custom resources of the same name live in other groups.
		m := mapGet(n, "metadata")
		ref := Ref{Kind: kind, Name: scalar(mapGet(m, "name"))}
		if !clusterScoped(kind) {
			ref.Namespace = cmp.Or(scalar(mapGet(m, "namespace")), d.defaultNamespace)
		}
		out.errs = append(out.errs, &Error{File: d.file, Line: keyLine(n, "apiVersion", src.Line, base), Object: strings.Clone(ref.String()),
			Err: fmt.Errorf("%w: apiVersion %s has no kind %s (want %s)", ErrInvalid, strings.Clone(apiVersion), strings.Clone(kind), want)})
		return
	}
	if obj == nil {
		md := mapGet(n, "metadata")
		sk := Skipped{Source: src, Kind: strings.Clone(kind), Reason: fmt.Sprintf("%s %s is not modeled", apiVersion, kind),
			APIVersion: strings.Clone(apiVersion), Namespace: strings.Clone(scalar(mapGet(md, "namespace"))), Name: strings.Clone(scalar(mapGet(md, "name")))}
		// Custom resources of a *.k8s.io group too (the Spark operator's
		// sparkoperator.k8s.io): no kind of the API's own that Ward skips
		// carries a pod spec outside the core group. In the core group,
		// a PodTemplate carries one (template.spec) for the controllers
		// that create pods from it; the rest carry none.
		if group, _, ok := strings.Cut(apiVersion, "/"); (ok && strings.Contains(group, ".")) || (apiVersion == "v1" && kind == "PodTemplate") {
			d.embeddedPods(n, base, &sk)
		}
		if apiVersion == "v1" && kind == "PersistentVolume" {
			if spec := mapGet(n, "spec"); spec != nil && spec.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(spec.Content); i += 2 {
					if k := spec.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "hostPath" {
						// Without a path the API server rejects it:
						// reported all the same, never a pass.
						sk.HostPath = cmp.Or(strings.Clone(scalar(mapGet(spec.Content[i+1], "path"))), "(no path)")
						sk.HostPathLine = k.Line + base
					}
				}
			}
		}
		out.skipped = append(out.skipped, sk)
		return
	}
	// The kind Ward names the object by: the same as written but for a
	// Knative Service (KnativeServiceKind). fresh is a new object of the
	// kind as written, for the decodes that start again.
	written := kind
	fresh := func() any { return known(apiVersion, written) }
	kind = kindOf(obj)

	name := func() string {
		md := mapGet(n, "metadata")
		m := Ref{Kind: kind, Name: scalar(mapGet(md, "name"))}
		if !clusterScoped(kind) {
			if m.Namespace = scalar(mapGet(md, "namespace")); m.Namespace == "" {
				m.Namespace = d.defaultNamespace
			}
		}
		if m.Name == "" {
			return strings.TrimSuffix(m.String(), "/")
		}
		return m.String()
	}
	fail := func(line int, err error) {
		out.errs = append(out.errs, &Error{File: d.file, Line: line, Object: name(), Err: err})
	}
	d.buf = d.buf[:0]
	var slim *slimRef
	if ti, pod := slimInfo(obj); d.reread != nil && ti != nil && owned(n) && d.fits(n, ti, true) {
		ok := fillDecode && d.fillSlim(n, obj, pod)
		if !ok {
			obj = fresh() // never expected: fits says it decodes
			d.appendSlim(n, pod)
			ok = sigsjson.UnmarshalCaseSensitivePreserveInts(d.buf, obj) == nil
		}
		if ok {
			slim = &slimRef{file: d.reread, doc: d.unitDoc, unit: d.unitIdx, obj: len(out.objs)}
		} else {
			obj = fresh() // never expected: fits says it decodes
			d.buf = d.buf[:0]
		}
	}
	filled := slim == nil && fillDecode && d.fillObject(n, obj)
	if !filled && slim == nil {
		obj = fresh() // fill may have written part of it
		d.buf = d.buf[:0]
	}
	if slim != nil || filled {
		// decoded
	} else if ne := d.appendJSON(n, true); ne != nil {
		fail(ne.node.Line+base, fmt.Errorf("%w: %s", ErrSyntax, ne.message(base)))
		return
	} else if err := sigsjson.UnmarshalCaseSensitivePreserveInts(d.buf, obj); err != nil {
		if bad := typeCheck(n, obj); bad != nil {
			fail(bad.node.Line+base, fmt.Errorf("%w: %s: %s", ErrType, bad.path, bad.msg))
		} else {
			fail(src.Line, fmt.Errorf("%w: %v", ErrType, err))
		}
		return
	}
	if cap(d.buf) > 1<<20 {
		d.buf = nil // do not keep a huge buffer for small objects
	}
	dropLastApplied(obj)
	if strictKind(obj) {
		if unknown := unknownFields(n, reflect.TypeOf(obj).Elem()); len(unknown) > 0 {
			for _, u := range unknown {
				out.errs = append(out.errs, &Error{File: d.file, Line: u.line + base, Object: name(), Err: unknownFieldError(kind, u)})
			}
			return
		}
	}
	switch obj.(type) {
	case *peerAuthentication, *authorizationPolicy:
		if nulls := nullItems(n); len(nulls) > 0 {
			for _, u := range nulls {
				out.errs = append(out.errs, &Error{File: d.file, Line: u.line + base, Object: name(),
					Err: FieldError{Path: u.path, Msg: "a null list item: Istio's validation refuses it (a rule, source or value must not be nil), so the " + kind + " is not in force"}})
			}
			return
		}
	}
	if fes := checkInput(obj); len(fes) > 0 {
		lines := d.lines.fieldLines(n, base, false)
		out.errs = append(out.errs, fieldErrors(src, name(), fes, func(path string) int {
			for ; path != ""; path = parentPath(path) {
				if l, ok := lines.Get(path); ok {
					return l
				}
			}
			return 0
		})...)
		if !auditable(obj, fes) {
			return
		}
	}
	// kind is a substring of the parsed document: keeping it would keep
	// the whole document's text (and, with the fast parser, its nodes).
	if k := kindOf(obj); k == kind {
		kind = k
	} else {
		kind = strings.Clone(kind)
	}
	o := object{obj: obj, kind: kind, src: src, slim: slim, print: printObject(n, obj)}
	if slim != nil {
		// No field lines: a slim Pod that becomes a workload is decoded
		// again, whole, with them.
	} else if _, ok := obj.(*networkingv1.NetworkPolicy); ok {
		o.lines = d.lines.fieldLines(n, base, true)
	} else if d.fieldLines {
		switch obj.(type) {
		case *corev1.Service, *networkingv1.Ingress, *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding, *corev1.ConfigMap:
			// For the findings of the exposure, RBAC and ConfigMap audits.
			o.lines = d.lines.fieldLines(n, base, false)
		default:
			if _, tp := podTemplate(obj); tp != "" {
				o.lines = d.lines.fieldLines(n, base, false)
			}
		}
	}
	out.objs = append(out.objs, o)
}

// keyLine is the file line of key's value in mapping n, or def when n has
// no such key (an item of a typed List, which takes the List's).
func keyLine(n *yaml.Node, key string, def, base int) int {
	if v := mapGet(n, key); v != nil {
		return v.Line + base
	}
	return def
}

// auditable reports whether an object with field errors fes is still kept,
// for the audits to read what they can: a workload whose only errors are
// in its containers' ports or its metadata (name, namespace, labels). Its
// bad ports are left out of the network model (Workload.Ports); the error
// is reported all the same.
func auditable(obj any, fes []FieldError) bool {
	if _, spec := podTemplate(obj); spec == "" {
		return false
	}
	for _, fe := range fes {
		if strings.HasPrefix(fe.Path, "metadata.") && meta(obj).GetName() != "" {
			continue // named or labelled invalidly, not unnamed
		}
		if !strings.Contains(fe.Path, "ontainers[") || !strings.Contains(fe.Path, "].ports[") {
			return false
		}
	}
	return true
}

// maxListDepth is how deep Lists nest in Lists, at most, for their items
// to be read.
const maxListDepth = 8

// missingOr describes n, a value of the wrong type, or its absence.
func missingOr(n *yaml.Node) string {
	switch {
	case n == nil:
		return "missing"
	case n.Kind == yaml.MappingNode:
		return "is a mapping"
	case n.Kind == yaml.ScalarNode:
		return "is a scalar"
	}
	return "is not a list"
}

// mapGet returns the value of key in mapping n, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalar returns the value of a non-null scalar node, or "".
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return ""
	}
	return n.Value
}

var (
	syntaxLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	anchorRE     = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// parserProblems are the yaml.v3 parser (not scanner) errors. For them
// yaml.v3 reports the 0-based line where the enclosing construct or the
// offending token starts.
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

// syntaxError returns the 1-based line within text and the message of a
// yaml.v3 parse error.
func syntaxError(err error, text []byte) (int, string) {
	msg := err.Error()
	if strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8") {
		// yaml.v3 gives no line for these: find the byte.
		if line, what := badByte(text); line > 0 {
			return line, strings.TrimPrefix(msg, "yaml: ") + ": " + what
		}
	}
	if m := syntaxLineRE.FindStringSubmatch(msg); m != nil {
		l, _ := strconv.Atoi(m[1])
		if parserProblems[m[2]] {
			l++
		}
		// At the end of the input the parser may count one line too many.
		return min(max(l, 1), bytes.Count(text, []byte("\n"))+1), m[2]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if parserProblems[msg] {
		return 1, msg
	}
	if m := anchorRE.FindStringSubmatch(err.Error()); m != nil {
		// No line given: find the alias in the text.
		if i := bytes.Index(text, []byte("*"+m[1])); i >= 0 {
			return 1 + bytes.Count(text[:i], []byte("\n")), msg
		}
	}
	return 1, msg
}

// badByte returns the 1-based line and a description of the first byte of
// text that YAML does not allow: invalid UTF-8 or a control character.
func badByte(text []byte) (int, string) {
	line := 1
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		switch {
		case r == '\n':
			line++
		case r == utf8.RuneError && size <= 1:
			return line, fmt.Sprintf("byte 0x%02X is not valid UTF-8", text[i])
		case r == '\t' || r == '\r' || r == 0x85:
		case r < 0x20 || r == 0x7F || 0x80 <= r && r <= 0x9F || r == 0xFFFE || r == 0xFFFF:
			return line, fmt.Sprintf("control character U+%04X", r)
		}
		i += size
	}
	return 0, ""
}

// nodeError is a problem with a node, located by its line.
type nodeError struct {
	node  *yaml.Node
	msg   string
	first *yaml.Node // for a duplicate key: the first definition
}

func (e *nodeError) Error() string { return e.message(0) }

// message returns the message with lines shifted by base into the file.
func (e *nodeError) message(base int) string {
	if e.first != nil {
		return fmt.Sprintf("%s already defined at line %d", e.msg, e.first.Line+base)
	}
	return e.msg
}

// needsResolve reports whether text may hold aliases, merge keys or
// !!binary scalars.
func needsResolve(text []byte) bool {
	return bytes.IndexByte(text, '*') >= 0 || bytes.Contains(text, []byte("<<")) || bytes.Contains(text, []byte("!!merge")) || bytes.Contains(text, []byte("binary"))
}

// resolveNode returns n with aliases expanded and merge keys ("<<")
// applied, so that the other walkers see plain trees. Nodes without either
// are returned as they are. budget bounds the expansion (billion laughs);
// active holds the aliases being expanded, to refuse cycles.
func resolveNode(n *yaml.Node, budget *int, active []*yaml.Node) (*yaml.Node, *nodeError) {
	if *budget--; *budget < 0 {
		return nil, &nodeError{node: n, msg: "document expands too many aliases"}
	}
	switch n.Kind {
	case yaml.AliasNode:
		for _, a := range active {
			if a == n.Alias {
				return nil, &nodeError{node: n, msg: fmt.Sprintf("alias *%s refers to itself", n.Value)}
			}
		}
		if n.Alias == nil {
			return nil, &nodeError{node: n, msg: "unknown alias"}
		}
		return resolveNode(n.Alias, budget, append(active, n.Alias))
	case yaml.SequenceNode, yaml.DocumentNode:
		var content []*yaml.Node
		for i, c := range n.Content {
			r, err := resolveNode(c, budget, active)
			if err != nil {
				return nil, err
			}
			if r != c && content == nil {
				content = append(make([]*yaml.Node, 0, len(n.Content)), n.Content[:i]...)
			}
			if content != nil {
				content = append(content, r)
			}
		}
		if content == nil {
			return n, nil
		}
		c := *n
		c.Content = content
		return &c, nil
	case yaml.MappingNode:
		return resolveMapping(n, budget, active)
	case yaml.ScalarNode:
		if n.ShortTag() != "!!binary" {
			return n, nil
		}
		// kubectl and helm (sigs.k8s.io/yaml) decode a !!binary scalar
		// to the string of its bytes: label: !!binary d2Vi is "web".
		b, err := base64.StdEncoding.DecodeString(n.Value)
		if err != nil {
			return nil, &nodeError{node: n, msg: "!!binary value contains invalid base64 data"}
		}
		c := *n
		c.Value, c.Tag, c.Style = string(b), "!!str", yaml.DoubleQuotedStyle
		return &c, nil
	}
	return n, nil
}

func resolveMapping(n *yaml.Node, budget *int, active []*yaml.Node) (*yaml.Node, *nodeError) {
	changed := false
	// kubectl and helm read merge keys as yaml.v2 does: in the order of
	// the text, each key, written or merged, sets its value over what
	// came before, and the mappings of a merged list are merged from the
	// last to the first (the first wins). A key written after a merge
	// overrides the merged value; a merge after a key overrides the key
	// (privileged: false then <<: {privileged: true} is privileged, where
	// yaml.v3 keeps the written key). A key written twice stays twice, for
	// duplicateKey to report.
	var own []*yaml.Node
	type entry struct {
		at     int  // index of the key in own
		merged bool // last set by a merge
	}
	var index map[string]entry // only for a mapping with merge keys
	set := func(k, v *yaml.Node, byMerge bool) {
		if index == nil {
			own = append(own, k, v)
			return
		}
		if e, ok := index[k.Value]; ok && (byMerge || e.merged) {
			own[e.at], own[e.at+1] = k, v
			index[k.Value] = entry{e.at, byMerge}
			return
		}
		if _, ok := index[k.Value]; !ok {
			index[k.Value] = entry{len(own), byMerge}
		}
		own = append(own, k, v)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if mergeKey(n.Content[i]) {
			index = make(map[string]entry, len(n.Content)/2)
			break
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode || k.Kind == yaml.ScalarNode && k.ShortTag() == "!!binary" {
			// A key is read as a value is: kubectl reads the key
			// !!binary aG9zdE5ldHdvcms= as hostNetwork, and *k as
			// the key its anchor names.
			rk, err := resolveNode(k, budget, active)
			if err != nil {
				return nil, err
			}
			c := *rk
			c.Line, c.Column = k.Line, k.Column // errors point at this key
			k, changed = &c, true
		}
		rv, err := resolveNode(v, budget, active)
		if err != nil {
			return nil, err
		}
		if mergeKey(k) {
			changed = true
			var sources []*yaml.Node
			switch rv.Kind {
			case yaml.MappingNode:
				sources = []*yaml.Node{rv}
			case yaml.SequenceNode:
				sources = rv.Content
			}
			if len(sources) == 0 {
				return nil, &nodeError{node: v, msg: "merge key value must be a mapping or a list of mappings"}
			}
			for _, s := range sources {
				if s.Kind != yaml.MappingNode {
					return nil, &nodeError{node: v, msg: "merge key value must be a mapping or a list of mappings"}
				}
			}
			for j := len(sources) - 1; j >= 0; j-- {
				c := sources[j].Content
				for m := 0; m+1 < len(c); m += 2 {
					set(c[m], c[m+1], true)
				}
			}
			continue
		}
		if rv != v {
			changed = true
		}
		set(k, rv, false)
	}
	if !changed {
		return n, nil
	}
	c := *n
	c.Content = own
	return &c, nil
}

// mergeKey reports whether k is a merge key as kubectl and helm read it:
// yaml.v2 takes a key for one only when it is "<<", plain or tagged
// !!merge. yaml.v3 makes any key tagged !!merge one: kubectl reads
// !!merge x: {hostNetwork: false} as a field x, which the API server
// drops, and not as a merge.
func mergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" && k.Value == "<<"
}

// yaml11Keys rewrites the plain mapping keys of the tree at n that are
// not strings to yaml.v3 (null, booleans, numbers) or that YAML 1.1 reads
// as booleans into the strings kubectl and helm make of them:
// sigs.k8s.io/yaml reads YAML 1.1 and writes a boolean key as "true" or
// "false", an integer in decimal and a float as Go's shortest form, so
// matchLabels: {on: x} selects the label true=x, not on=x, and 0x1: is
// "1". A null key, and one that sigs.k8s.io/yaml cannot turn into a
// string (an integer beyond 64 bits, an infinity), is an error, as kubectl
// refuses it. Aliases are not followed: their anchors are rewritten where
// they are defined.
func yaml11Keys(n *yaml.Node) *nodeError {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if err := yaml11Keys(c); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Style == 0 {
				if err := yaml11Key(k); err != nil {
					return err
				}
			} else if k.Kind == yaml.MappingNode || k.Kind == yaml.SequenceNode {
				// Anywhere, managedFields included, which Ward does
				// not read: sigs.k8s.io/yaml fails on the file.
				return &nodeError{node: k, msg: "mapping key is a list or a mapping, which kubectl cannot read as a key (invalid map key)"}
			}
			if err := yaml11Keys(n.Content[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// yaml11Tags checks the scalars of the tree at n (keys and values) that
// carry an explicit tag of a type (!!bool, !!int, !!float, !!null,
// !!timestamp) as kubectl and helm read them: sigs.k8s.io/yaml resolves
// such a scalar with yaml.v2, which refuses a value that is not of the
// tag's type (name: !!int deny, !!null kind: NetworkPolicy), failing the
// whole stream, where yaml.v3's tree keeps the text as a string, and
// which reads !!int 0x10 as 16. A scalar kubectl refuses is an error; one
// it reads is rewritten as the plain scalar of the value it reads, so
// that the walkers after this (yaml11Keys, appendJSON) read it as kubectl
// does. A float infinity or NaN (.inf, .nan), which sigs.k8s.io/yaml
// cannot write as JSON, is an error wherever it is, under a field the
// API server drops or in managedFields too: kubectl fails on the file.
// (fastyaml refuses them, so that they are looked for here.) Aliases are
// not followed: their anchors are checked where they are defined.
func yaml11Tags(n *yaml.Node) *nodeError {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			if err := yaml11Tags(c); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!float" && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 && fastyaml.InfNaN(n.Value) {
			return &nodeError{node: n, msg: fmt.Sprintf("%s is not a number JSON can hold: kubectl fails on the file (quote it for a string)", n.Value)}
		}
		if n.Style&yaml.TaggedStyle == 0 {
			return nil
		}
		switch n.ShortTag() {
		case "!!bool", "!!int", "!!float", "!!null", "!!timestamp":
		default:
			return nil
		}
		var v any
		text := appendJSONString([]byte(n.ShortTag()+" "), n.Value)
		if err := yaml2.Unmarshal(text, &v); err != nil {
			return &nodeError{node: n, msg: fmt.Sprintf("%s %q: kubectl refuses the file (%s)", n.ShortTag(), n.Value, strings.TrimPrefix(err.Error(), "yaml: "))}
		}
		var value, tag string
		switch x := v.(type) {
		case nil:
			value, tag = "null", "!!null"
		case bool:
			value, tag = strconv.FormatBool(x), "!!bool"
		case int:
			value, tag = strconv.Itoa(x), "!!int"
		case int64:
			value, tag = strconv.FormatInt(x, 10), "!!int"
		case uint64:
			value, tag = strconv.FormatUint(x, 10), "!!int"
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return &nodeError{node: n, msg: fmt.Sprintf("%s %q is not a number JSON can hold: kubectl fails on the file", n.ShortTag(), n.Value)}
			}
			value, tag = strconv.FormatFloat(x, 'g', -1, 64), "!!float"
		default:
			return nil // a timestamp: read as yaml.v3 reads it
		}
		n.Value, n.Tag, n.Style = value, tag, 0
	}
	return nil
}

// yaml11Key rewrites the plain scalar key k as sigs.k8s.io/yaml reads it.
func yaml11Key(k *yaml.Node) *nodeError {
	var v string
	switch k.ShortTag() {
	case "!!str":
		b, ok := yaml11Bool(k.Value)
		if !ok {
			return nil
		}
		v = strconv.FormatBool(b)
	case "!!bool":
		v = strconv.FormatBool(boolValue(k))
	case "!!null":
		return &nodeError{node: k, msg: fmt.Sprintf("mapping key %q is null, which kubectl refuses: quote it for a string", k.Value)}
	case "!!int", "!!float":
		s, ok := number(k)
		if ok && k.ShortTag() == "!!int" {
			_, err := strconv.ParseInt(s, 10, 64)
			ok = err == nil
		} else if ok {
			f, err := strconv.ParseFloat(s, 64)
			ok = err == nil
			s = strconv.FormatFloat(f, 'g', -1, 32)
		}
		if !ok {
			return &nodeError{node: k, msg: fmt.Sprintf("mapping key %q is a number kubectl cannot read as a key: quote it for a string", k.Value)}
		}
		v = s
	default:
		return nil
	}
	k.Value, k.Tag, k.Style = v, "!!str", yaml.DoubleQuotedStyle
	return nil
}

// duplicateKey reports the first key defined twice in mapping n.
func duplicateKey(n *yaml.Node) *nodeError {
	c := n.Content
	if len(c) <= 32 {
		for i := 2; i+1 < len(c); i += 2 {
			for j := 0; j < i; j += 2 {
				if c[i].Value == c[j].Value {
					return &nodeError{c[i], fmt.Sprintf("mapping key %q", c[i].Value), c[j]}
				}
			}
		}
		return nil
	}
	seen := make(map[string]*yaml.Node, len(c)/2)
	for i := 0; i+1 < len(c); i += 2 {
		if first, ok := seen[c[i].Value]; ok {
			return &nodeError{c[i], fmt.Sprintf("mapping key %q", c[i].Value), first}
		}
		seen[c[i].Value] = c[i]
	}
	return nil
}

// appendJSON appends the JSON form of n to d.buf. Duplicate keys and
// non-scalar keys are errors. At the top of an object, metadata.managedFields
// is left out: it is large and Ward never reads it.
func (d *decoder) appendJSON(n *yaml.Node, top bool) *nodeError {
	switch n.Kind {
	case yaml.MappingNode:
		c := n.Content
		for i := 0; i < len(c); i += 2 {
			if c[i].Kind != yaml.ScalarNode {
				return &nodeError{node: c[i], msg: "mapping key must be a scalar"}
			}
		}
		if err := duplicateKey(n); err != nil {
			return err
		}
		d.buf = append(d.buf, '{')
		first := true
		for i := 0; i+1 < len(c); i += 2 {
			if !first {
				d.buf = append(d.buf, ',')
			}
			first = false
			d.buf = appendJSONString(d.buf, c[i].Value)
			d.buf = append(d.buf, ':')
			v := c[i+1]
			if top && c[i].Value == "metadata" && v.Kind == yaml.MappingNode {
				if err := d.appendMetadata(v); err != nil {
					return err
				}
				continue
			}
			if err := d.appendJSON(v, false); err != nil {
				return err
			}
		}
		d.buf = append(d.buf, '}')
	case yaml.SequenceNode:
		d.buf = append(d.buf, '[')
		for i, e := range n.Content {
			if i > 0 {
				d.buf = append(d.buf, ',')
			}
			if err := d.appendJSON(e, false); err != nil {
				return err
			}
		}
		d.buf = append(d.buf, ']')
	case yaml.ScalarNode:
		d.buf = appendScalar(d.buf, n)
	default:
		return &nodeError{node: n, msg: "unexpected alias"}
	}
	return nil
}

// appendMetadata appends an object's metadata without managedFields.
func (d *decoder) appendMetadata(n *yaml.Node) *nodeError {
	if mapGet(n, "managedFields") == nil {
		return d.appendJSON(n, false)
	}
	c := *n
	c.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "managedFields" {
			c.Content = append(c.Content, n.Content[i], n.Content[i+1])
		}
	}
	return d.appendJSON(&c, false)
}

// jsonKind is the JSON type a scalar becomes: 's'tring, 'n'umber, 'b'ool
// or null ('0').
func jsonKind(n *yaml.Node) byte {
	switch n.ShortTag() {
	case "!!null":
		return '0'
	case "!!bool":
		if n.Value == "true" || n.Value == "True" || n.Value == "TRUE" || n.Value == "false" || n.Value == "False" || n.Value == "FALSE" {
			return 'b'
		}
		if _, ok := yaml11Bool(n.Value); ok {
			return 'b'
		}
	case "!!str":
		if n.Style == 0 {
			if _, ok := yaml11Bool(n.Value); ok {
				return 'b' // kubectl's YAML 1.1: yes, on, n...
			}
		}
	case "!!int", "!!float":
		if _, ok := number(n); ok {
			return 'n'
		}
	}
	return 's'
}

// yaml11Bool reports whether s is one of the plain scalars that YAML 1.1
// reads as booleans and YAML 1.2 (yaml.v3) as strings, and which. kubectl
// and helm convert YAML to JSON with sigs.k8s.io/yaml, which follows YAML
// 1.1: an env value: yes is the boolean true there, which the API server
// refuses in a string field, and hostNetwork: on is true. Ward reads
// them as kubectl does.
func yaml11Bool(s string) (value, ok bool) {
	if len(s) > 3 {
		return false, false
	}
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// boolValue is the value of a scalar whose jsonKind is 'b'.
func boolValue(n *yaml.Node) bool {
	if v, ok := yaml11Bool(n.Value); ok {
		return v
	}
	return n.Value[0] == 't' || n.Value[0] == 'T'
}

// number returns the JSON text of a numeric scalar.
func number(n *yaml.Node) (string, bool) {
	s := n.Value
	if n.ShortTag() == "!!int" && plainDecimal(s) {
		return s, true
	}
	var v any
	if n.ShortTag() == "!!float" {
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err != nil {
			if n.Decode(&v) != nil {
				return "", false
			}
		} else {
			v = f
		}
	} else if n.Decode(&v) != nil {
		return "", false
	}
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "", false
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	}
	return "", false
}

// plainDecimal reports whether s is a JSON integer.
func plainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || len(s) > 1 && s[0] == '0' || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func appendScalar(buf []byte, n *yaml.Node) []byte {
	switch jsonKind(n) {
	case '0':
		return append(buf, "null"...)
	case 'b':
		return strconv.AppendBool(buf, boolValue(n))
	case 'n':
		s, _ := number(n)
		return append(buf, s...)
	}
	return appendJSONString(buf, n.Value)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// listHook reports a List document (n, at line) whose metadata carries a
// helm.sh/hook annotation: helm sorts a chart's documents into hooks by
// the document's own annotations, so it makes the whole List a hook,
// created at that hook's events only (a test hook never by helm
// install), whatever its items' annotations say. Ward judges each item
// by its own (see helmHook), so the List is an input error rather than
// its items being in force in Ward's model alone.
func listHook(n *yaml.Node, file string, line int, out *decoded) {
	hook := mapGet(mapGet(mapGet(n, "metadata"), "annotations"), "helm.sh/hook")
	if hook == nil {
		return
	}
	out.errs = append(out.errs, &Error{File: file, Line: line, Err: fmt.Errorf(
		"%w: a List with a helm.sh/hook annotation (%q): helm makes the whole List a hook, which helm install may not create, and Ward does not read hooks of Lists; "+
			"put the annotation on each item instead", ErrType, scalar(hook))})
}

// digest is a SHA-256 of what n decodes to, written with its Go types
// ("%#v" prints maps sorted by key): the same object in another layout,
// or with other comments, has the same digest; a list and a string that
// print alike do not.
func digest(n *yaml.Node) string {
	var v any
	if err := n.Decode(&v); err != nil {
		return ""
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%#v", v))
	return hex.EncodeToString(sum[:])
}
