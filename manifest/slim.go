package manifest

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"unicode"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Instance Pods.
//
// A cluster dump holds every Pod of the cluster, most of them created by
// a controller whose object (a ReplicaSet, a StatefulSet, ...) is in the
// dump too. Such a Pod only adds its IPs to the workload it is folded into
// (see fold), so decoding it whole (its spec, its status) costs most of
// the loading time and memory of a large dump for nothing. The loader
// therefore decodes a Pod with owner references, read from a file it can
// read again, "slim": every field is checked as the full decode checks it
// (fits), but the typed Pod keeps only its metadata, the spec fields
// slimSpec lists and the status fields slimStatus lists. A slim Pod that
// turns out to be a workload of its own (its owner is not in the input)
// is decoded again, whole, from its file (see rereadSlim), so the Set is
// the one a full decode gives, but for the spec and status fields the
// Objects of instance Pods leave out. What the audits read of an instance
// Pod's spec is hashed while it is decoded (see deviation.go): a Pod whose
// spec is not its workload's template is decoded again, whole, as well.

// slimSpec and slimStatus are the fields of an instance Pod's spec and
// status that a slim decode keeps: what folding (IPs), checkObject (the
// containers' ports) and the users of Set.Objects read, ward watch's
// identities over time among them (when a pod started, when its
// containers finished: watch/identity).
var (
	slimSpec      = []string{"hostNetwork", "nodeName", "containers", "initContainers"}
	slimContainer = []string{"name", "ports"}
	slimStatus    = []string{"phase", "hostIP", "hostIPs", "podIP", "podIPs", "startTime", "containerStatuses"}
)

// slimDecode turns slim decoding on; the differential test turns it off
// to compare with the full decode.
var slimDecode = true

// A slimRef says where the slim Pod of an object was read, to decode it
// again whole.
type slimRef struct {
	file *rereadable
	doc  int // index of the document in the file (after JSON streams are cut)
	unit int // index of the unit in the document, -1 for the whole document
	obj  int // index of the object in the unit's decoded objects
}

// podInfo is the type information of corev1.Pod for fits.
var podInfo = sync.OnceValue(func() *typeInfo {
	return newTypeInfo(reflect.TypeFor[corev1.Pod](), map[reflect.Type]*typeInfo{})
})

// replicaSetInfo is the type information of appsv1.ReplicaSet for fits.
var replicaSetInfo = sync.OnceValue(func() *typeInfo {
	return newTypeInfo(reflect.TypeFor[appsv1.ReplicaSet](), map[reflect.Type]*typeInfo{})
})

// typeInfo is what fits needs to know about a Go type, computed once.
type typeInfo struct {
	kind        reflect.Kind
	typ         reflect.Type
	unmarshaler bool                  // *T implements json.Unmarshaler
	opaque      bool                  // decoded in a way fits does not model
	stringOpt   bool                  // a struct with a `json:",string"` field (fill does not model it)
	elem        *typeInfo             // pointer, slice, array, map
	fields      map[string]*fieldInfo // struct, by JSON name
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

func newTypeInfo(t reflect.Type, seen map[reflect.Type]*typeInfo) *typeInfo {
	if ti, ok := seen[t]; ok {
		return ti
	}
	ti := &typeInfo{kind: t.Kind(), typ: t}
	seen[t] = ti
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(unmarshalerType):
		ti.unmarshaler = true
		return ti
	case pt.Implements(textUnmarshalerType):
		ti.opaque = true
		return ti
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Array:
		ti.elem = newTypeInfo(t.Elem(), seen)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			ti.opaque = true // base64
			break
		}
		ti.elem = newTypeInfo(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String || reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) {
			ti.opaque = true
			break
		}
		ti.elem = newTypeInfo(t.Elem(), seen)
	case reflect.Struct:
		ti.fields = map[string]*fieldInfo{}
		ti.stringOpt = stringOption(t)
		index := jsonFieldIndexes(t)
		for name, ft := range jsonFields(t) {
			ti.fields[name] = &fieldInfo{ti: newTypeInfo(ft, seen), index: index[name]}
		}
	case reflect.Complex64, reflect.Complex128, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Uintptr:
		ti.opaque = true
	}
	return ti
}

// fits reports whether the JSON of node n (as appendJSON writes it) is
// certain to decode into a value of type ti without error: the same
// checks as encoding/json's, node by node, without building anything.
// It answers false when in doubt; the caller then decodes n the usual
// way, which reports the error. Mappings with keys that are not scalars
// or are duplicated, and aliases, do not fit (appendJSON refuses them).
// At the top of an object (top), metadata.managedFields is not decoded
// and not checked, as appendJSON leaves it out.
func (d *decoder) fits(n *yaml.Node, ti *typeInfo, top bool) bool {
	if ti.opaque {
		return false
	}
	if ti.unmarshaler {
		if n.Kind != yaml.ScalarNode {
			return false // rare (an IntOrString or Quantity as a mapping): decode normally
		}
		d.scratch = appendScalar(d.scratch[:0], n)
		v := reflect.New(ti.typ).Interface().(json.Unmarshaler)
		return v.UnmarshalJSON(d.scratch) == nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		k := jsonKind(n)
		if k == '0' {
			return true // null leaves any other field alone
		}
		switch ti.kind {
		case reflect.Pointer:
			return d.fits(n, ti.elem, false)
		case reflect.Interface:
			return ti.typ.NumMethod() == 0
		case reflect.String:
			return k == 's'
		case reflect.Bool:
			return k == 'b'
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if k != 'n' {
				return false
			}
			s, _ := number(n)
			_, err := strconv.ParseInt(s, 10, ti.typ.Bits())
			return err == nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if k != 'n' {
				return false
			}
			s, _ := number(n)
			_, err := strconv.ParseUint(s, 10, ti.typ.Bits())
			return err == nil
		case reflect.Float32, reflect.Float64:
			if k != 'n' {
				return false
			}
			s, _ := number(n)
			_, err := strconv.ParseFloat(s, ti.typ.Bits())
			return err == nil
		}
		return false
	case yaml.MappingNode:
		c := n.Content
		for i := 0; i < len(c); i += 2 {
			if c[i].Kind != yaml.ScalarNode {
				return false
			}
		}
		if duplicateKey(n) != nil {
			return false
		}
		switch ti.kind {
		case reflect.Pointer:
			return d.fits(n, ti.elem, top)
		case reflect.Interface:
			return ti.typ.NumMethod() == 0 && d.fitsAny(n)
		case reflect.Map:
			for i := 1; i < len(c); i += 2 {
				if !d.fits(c[i], ti.elem, false) {
					return false
				}
			}
			return true
		case reflect.Struct:
			for i := 0; i+1 < len(c); i += 2 {
				ft, ok := ti.fields[c[i].Value]
				if !ok {
					if !d.fitsAny(c[i+1]) {
						return false // still written to the JSON
					}
					continue // unknown fields are dropped
				}
				if top && c[i].Value == "metadata" && c[i+1].Kind == yaml.MappingNode {
					if !d.fitsMetadata(c[i+1], ft.ti) {
						return false
					}
					continue
				}
				if !d.fits(c[i+1], ft.ti, false) {
					return false
				}
			}
			return true
		}
		return false
	case yaml.SequenceNode:
		switch ti.kind {
		case reflect.Pointer:
			return d.fits(n, ti.elem, false)
		case reflect.Interface:
			return ti.typ.NumMethod() == 0 && d.fitsAny(n)
		case reflect.Slice, reflect.Array:
			for _, e := range n.Content {
				if !d.fits(e, ti.elem, false) {
					return false
				}
			}
			return true
		}
		return false
	}
	return false // an alias
}

// fitsMetadata is fits for an object's metadata mapping, managedFields
// left out.
func (d *decoder) fitsMetadata(n *yaml.Node, ti *typeInfo) bool {
	if mapGet(n, "managedFields") == nil {
		return d.fits(n, ti, false)
	}
	c := *n
	c.Content = make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "managedFields" {
			c.Content = append(c.Content, n.Content[i], n.Content[i+1])
		}
	}
	return d.fits(&c, ti, false)
}

// fitsAny reports whether appendJSON writes n without error: what an
// unknown field or an interface{} needs.
func (d *decoder) fitsAny(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		return true
	case yaml.SequenceNode:
		for _, e := range n.Content {
			if !d.fitsAny(e) {
				return false
			}
		}
		return true
	case yaml.MappingNode:
		c := n.Content
		for i := 0; i < len(c); i += 2 {
			if c[i].Kind != yaml.ScalarNode {
				return false
			}
		}
		if duplicateKey(n) != nil {
			return false
		}
		for i := 1; i < len(c); i += 2 {
			if !d.fitsAny(c[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// owned reports whether mapping n, an object, has owner references: a
// Pod or ReplicaSet that a controller made, folded into its owner when
// the input has it.
func owned(n *yaml.Node) bool {
	refs := mapGet(mapGet(n, "metadata"), "ownerReferences")
	return refs != nil && refs.Kind == yaml.SequenceNode && len(refs.Content) > 0
}

// slimInfo returns the type information of obj when objects of its type
// are decoded slim when owned: Pods and ReplicaSets.
func slimInfo(obj any) (ti *typeInfo, pod bool) {
	switch obj.(type) {
	case *corev1.Pod:
		return podInfo(), true
	case *appsv1.ReplicaSet:
		return replicaSetInfo(), false
	}
	return nil, false
}

// appendSlim appends to d.buf the JSON of object n, a Pod or a
// ReplicaSet that fits its type, with only the pod spec fields of
// slimSpec (of containers, those of slimContainer) and, for a Pod, the
// status fields of slimStatus. A ReplicaSet keeps the rest of its spec
// (replicas, selector, its template's metadata) and its status.
func (d *decoder) appendSlim(n *yaml.Node, pod bool) {
	c := n.Content
	d.buf = append(d.buf, '{')
	for i := 0; i+1 < len(c); i += 2 {
		if i > 0 {
			d.buf = append(d.buf, ',')
		}
		k, v := c[i].Value, c[i+1]
		d.buf = appendJSONString(d.buf, k)
		d.buf = append(d.buf, ':')
		switch {
		case k == "metadata" && v.Kind == yaml.MappingNode:
			_ = d.appendMetadata(v)
		case k == "spec" && v.Kind == yaml.MappingNode && pod:
			d.appendPodSpec(v)
		case k == "spec" && v.Kind == yaml.MappingNode:
			d.appendFields(v, nil, func(k string, v *yaml.Node) {
				if k != "template" || v.Kind != yaml.MappingNode {
					_ = d.appendJSON(v, false)
					return
				}
				d.appendFields(v, nil, func(k string, v *yaml.Node) {
					if k == "spec" && v.Kind == yaml.MappingNode {
						d.appendPodSpec(v)
						return
					}
					_ = d.appendJSON(v, false)
				})
			})
		case k == "status" && v.Kind == yaml.MappingNode && pod:
			d.appendFields(v, slimStatus, nil)
		default:
			_ = d.appendJSON(v, false)
		}
	}
	d.buf = append(d.buf, '}')
}

// appendPodSpec appends the JSON of pod spec n with only the fields of
// slimSpec, and of its containers those of slimContainer.
func (d *decoder) appendPodSpec(n *yaml.Node) {
	d.appendFields(n, slimSpec, func(k string, v *yaml.Node) {
		if (k != "containers" && k != "initContainers") || v.Kind != yaml.SequenceNode {
			_ = d.appendJSON(v, false)
			return
		}
		d.buf = append(d.buf, '[')
		for j, e := range v.Content {
			if j > 0 {
				d.buf = append(d.buf, ',')
			}
			if e.Kind == yaml.MappingNode {
				d.appendFields(e, slimContainer, nil)
			} else {
				_ = d.appendJSON(e, false)
			}
		}
		d.buf = append(d.buf, ']')
	})
}

// appendFields appends the JSON of mapping n with only the keys in keep
// (all when keep is nil), values written by value when it is set.
func (d *decoder) appendFields(n *yaml.Node, keep []string, value func(k string, v *yaml.Node)) {
	d.buf = append(d.buf, '{')
	first := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if keep != nil && !contains(keep, k) {
			continue
		}
		if !first {
			d.buf = append(d.buf, ',')
		}
		first = false
		d.buf = appendJSONString(d.buf, k)
		d.buf = append(d.buf, ':')
		if value != nil {
			value(k, n.Content[i+1])
		} else {
			_ = d.appendJSON(n.Content[i+1], false)
		}
	}
	d.buf = append(d.buf, '}')
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// eachDocument calls add for each document of a file's (normalized) data,
// in order, the documents of a JSON stream cut apart; origin is the
// Source.Origin of documents without a `# Source:` comment.
//
// kubectl and helm (apimachinery's YAMLOrJSONDecoder) read a stream of
// JSON values whole only when the file starts with "{": then every value
// of its first document, and, when that held more than one, nothing after
// it (they take the file for a JSON stream and fail at the next
// document). Elsewhere they read the first YAML document of each piece
// between "---" lines, so of a JSON stream only its first value: the
// documents they drop or fail on are unread.
func eachDocument(data []byte, cuts map[int]cutNote, origin string, add func(document)) {
	jsonFile := bytes.HasPrefix(bytes.TrimLeftFunc(data, unicode.IsSpace), []byte("{"))
	stopped := 0 // line of the document kubectl fails on, after a JSON stream
	for i, doc := range splitDocuments(data, cuts) {
		if doc.origin == "" {
			doc.origin = origin
		}
		if stopped > 0 && doc.unread == "" {
			doc.unread = fmt.Sprintf("kubectl and helm do not read this document: the file starts with a stream of JSON values (line %d), so they read it as JSON only and fail here", stopped)
		}
		if stream, ok := splitJSONStream(doc); ok {
			for j, d := range stream {
				switch {
				case d.unread != "":
				case stopped > 0:
					d.unread = doc.unread
				case j > 0 && !(jsonFile && i == 0):
					d.unread = "kubectl and helm do not read this JSON value: of a YAML document they read the first value only (a stream of JSON values is read whole only at the start of a file); start a document for it with a \"---\" line"
				}
				add(d)
			}
			if jsonFile && i == 0 {
				stopped = doc.line
			}
			continue
		}
		add(doc)
	}
}

// docUnits cuts document number index of its file into the units decoded
// on their own: a large List into its header and items, anything else
// whole.
func docUnits(doc document, index int) []unit {
	s, ok := splitList(doc.text)
	if !ok {
		return []unit{{text: doc.text, line: doc.line, doc: index}}
	}
	units := make([]unit, 0, 1+len(s.items))
	units = append(units, unit{text: s.header, line: doc.line, mode: listHeader, doc: index})
	mode := yamlItem
	if s.json {
		mode = jsonItem
	}
	for i, it := range s.items {
		units = append(units, unit{text: it, line: doc.line + s.itemLines[i] - 1, mode: mode, list: itemType(s.apiVersion, s.kind), doc: index, idx: i + 1})
	}
	return units
}

// rereadable is a regular file whose slim Pods can be decoded again,
// whole, from its contents: its size and hash tell whether it changed
// since it was first read.
type rereadable struct {
	name             string
	size             int
	hash             uint64
	limit            int64 // Options.MaxFileSize
	defaultNamespace string
	fieldLines       bool
}

// rereadSeed seeds the hashes of rereadable files.
var rereadSeed = maphash.MakeSeed()

// errChanged: a file changed between the two reads Ward made of it (the
// second decodes slim objects whole); it comes with ErrRead.
var errChanged = errors.New("file changed while being read")

// wholePods replaces the slim Pods objs[i], for i in idx, by their whole
// decode, read again from their files (one read per file, files in
// parallel). A file that
// can no longer be read, or changed, is an error, and its Pods stay slim.
// Namespaces set on the slim Pods are kept.
func wholePods(objs []object, idx []int) []error {
	byFile := map[*rereadable][]int{}
	var files []*rereadable
	for _, i := range idx {
		f := objs[i].slim.file
		if _, ok := byFile[f]; !ok {
			files = append(files, f)
		}
		byFile[f] = append(byFile[f], i)
	}
	// The files are read in parallel: each Pod is in one file, so each
	// objs[i] is written by one goroutine.
	fileErrs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for j := range next {
				fileErrs[j] = files[j].decodeWhole(objs, byFile[files[j]])
			}
		})
	}
	for j := range files {
		next <- j
	}
	close(next)
	wg.Wait()
	var errs []error
	for _, err := range fileErrs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// decodeWhole is wholePods for the objects of one file.
func (f *rereadable) decodeWhole(objs []object, idx []int) error {
	changed := &Error{File: f.name, Err: fmt.Errorf("%w: %w", ErrRead, errChanged)}
	data, err := ReadFile(f.name, f.limit)
	if err != nil {
		return &Error{File: f.name, Err: fmt.Errorf("%w: reading it again: %w", ErrRead, err)}
	}
	if len(data) != f.size || maphash.Bytes(rereadSeed, data) != f.hash {
		return changed
	}
	data, cuts, err := normalize(data)
	if err != nil {
		return changed // it normalized the first time
	}
	want := map[int]bool{}
	for _, i := range idx {
		want[objs[i].slim.doc] = true
	}
	docs := map[int]document{}
	n := 0
	eachDocument(data, cuts, "", func(doc document) {
		if want[n] {
			docs[n] = doc
		}
		n++
	})
	type key struct{ doc, unit int }
	units := map[int][]unit{}
	decodedUnits := map[key]*decoded{}
	d := decoder{file: f.name, defaultNamespace: f.defaultNamespace, fieldLines: f.fieldLines}
	for _, i := range idx {
		r := objs[i].slim
		doc, ok := docs[r.doc]
		if !ok {
			return changed
		}
		out, ok := decodedUnits[key{r.doc, r.unit}]
		if !ok {
			var u unit
			if r.unit < 0 {
				u = unit{text: doc.text, line: doc.line, doc: r.doc, idx: -1}
			} else {
				us, ok := units[r.doc]
				if !ok {
					us = docUnits(doc, r.doc)
					units[r.doc] = us
				}
				if r.unit >= len(us) {
					return changed
				}
				u = us[r.unit]
			}
			out = new(decoded)
			ld := &loadedDoc{document: doc}
			ld.decodeSafely(&d, u, out)
			decodedUnits[key{r.doc, r.unit}] = out
		}
		if r.obj >= len(out.objs) {
			return changed
		}
		o := out.objs[r.obj]
		slim := meta(objs[i].obj)
		m := meta(o.obj)
		if o.kind != objs[i].kind || o.src != objs[i].src || o.slim != nil || m.GetName() != slim.GetName() {
			return changed
		}
		if m.GetNamespace() == "" {
			m.SetNamespace(slim.GetNamespace())
		}
		objs[i] = o
	}
	return nil
}
