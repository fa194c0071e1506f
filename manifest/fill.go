package manifest

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	sigsjson "sigs.k8s.io/json"
)

// Decoding nodes straight into typed objects.
//
// The reference decode of an object writes its node tree as JSON
// (appendJSON) and decodes that with sigs.k8s.io/json, as the API server
// would: the JSON decoder owns the semantics (case-sensitive field names,
// unknown fields dropped, null leaving non-nullable fields alone, the
// types' own UnmarshalJSON). On a large cluster dump most of the loading
// time went into writing and scanning that JSON, so fill sets the typed
// object's fields from the nodes directly, with the same rules, node by
// node, as fits checks them. Wherever it could differ it gives up
// (returns false) and the object is decoded again, from scratch, the
// reference way, which also writes any error: an array type, a string
// that is not valid UTF-8, a mapping key that is not a scalar or is
// repeated, an alias, an interface value (decoded through JSON, as
// before), a type that decodes itself from a mapping. TestFillDifferential
// holds the two to the same objects on every fixture and on generated and
// mutated dumps.
//
// This is hand-written because no library decodes a yaml.v3 node tree
// with encoding/json's rules: yaml.v3's own Node.Decode follows the yaml
// struct tags and YAML typing, which differ from what the API server
// accepts (the reason Kubernetes tooling goes through JSON).

// fillDecode turns the direct decode on; the differential test turns it
// off to compare with the reference.
var fillDecode = true

// fieldInfo is a struct field as encoding/json finds it by its JSON name.
type fieldInfo struct {
	ti    *typeInfo
	index []int // reflect.Value.FieldByIndex, through embedded structs
}

// typeInfos caches typeInfoOf's answers.
var typeInfos sync.Map // reflect.Type -> *typeInfo

// typeInfoOf returns the type information of t, computed once.
func typeInfoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti, _ := typeInfos.LoadOrStore(t, newTypeInfo(t, map[reflect.Type]*typeInfo{}))
	return ti.(*typeInfo)
}

// jsonFieldIndexes maps the JSON names of a struct's fields to the path of
// field indexes that reaches each, the fields of embedded structs without
// a name inlined, as encoding/json does (the first field of a name wins).
// jsonFields is its answer with the fields' types.
func jsonFieldIndexes(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	var add func(t reflect.Type, at []int)
	add = func(t reflect.Type, at []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			index := append(at[:len(at):len(at)], i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft, index)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, ok := m[name]; !ok {
				m[name] = index
			}
		}
	}
	add(t, nil)
	return m
}

// stringOption reports whether struct type t has a field with the
// `json:",string"` option, which fill does not model.
func stringOption(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		for o := range strings.SplitSeq(opts, ",") {
			if o == "string" {
				return true
			}
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && stringOption(f.Type) {
			return true
		}
	}
	return false
}

// field returns the field of struct v at index, allocating the embedded
// struct pointers on the way as encoding/json does; false where it cannot
// (a nil pointer to an unexported embedded struct, which encoding/json
// refuses too).
func field(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, v.CanSet()
}

// fillObject decodes object n into obj, a pointer to a new typed object,
// as decoding appendJSON(n, true)'s JSON into it would; false means obj
// may be partly written and must be decoded again the reference way.
func (d *decoder) fillObject(n *yaml.Node, obj any) bool {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return false
	}
	return d.fill(n, typeInfoOf(v.Type().Elem()), v.Elem(), true)
}

// fill sets v, an addressable value of ti's type, to what decoding the
// JSON of n (appendJSON's) into it gives, or returns false. At the top of
// an object (top), metadata.managedFields is left out, as appendJSON
// leaves it out.
func (d *decoder) fill(n *yaml.Node, ti *typeInfo, v reflect.Value, top bool) bool {
	if ti.opaque {
		return false
	}
	if ti.kind == reflect.Pointer {
		if n.Kind == yaml.ScalarNode && jsonKind(n) == '0' {
			v.SetZero() // null sets a pointer to nil
			return true
		}
		if v.IsNil() {
			v.Set(reflect.New(ti.typ.Elem()))
		}
		return d.fill(n, ti.elem, v.Elem(), top)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return d.fillScalar(n, ti, v)
	case yaml.MappingNode:
		if ti.unmarshaler || !plainKeys(n) {
			return false
		}
		switch ti.kind {
		case reflect.Interface:
			return d.fillJSON(n, ti, v)
		case reflect.Map:
			c := n.Content
			if v.IsNil() {
				v.Set(reflect.MakeMapWithSize(ti.typ, len(c)/2))
			}
			kt, et := ti.typ.Key(), ti.typ.Elem()
			for i := 0; i+1 < len(c); i += 2 {
				if !utf8.ValidString(c[i].Value) {
					return false // the JSON would carry U+FFFD for each bad byte
				}
				e := reflect.New(et).Elem()
				if !d.fill(c[i+1], ti.elem, e, false) {
					return false
				}
				k := reflect.ValueOf(d.str(c[i].Value))
				if k.Type() != kt {
					k = k.Convert(kt)
				}
				v.SetMapIndex(k, e)
			}
			return true
		case reflect.Struct:
			return d.fillFields(n, ti, v, nil, top, nil)
		}
		return false
	case yaml.SequenceNode:
		if ti.unmarshaler {
			return false
		}
		switch ti.kind {
		case reflect.Interface:
			return d.fillJSON(n, ti, v)
		case reflect.Slice:
			s := reflect.MakeSlice(ti.typ, len(n.Content), len(n.Content))
			for i, e := range n.Content {
				if !d.fill(e, ti.elem, s.Index(i), false) {
					return false
				}
			}
			v.Set(s)
			return true
		}
	}
	return false // an alias, an array, a collection where a scalar goes
}

// fillFields fills struct v from mapping n: of its keys only those in
// keep (all when keep is nil), each through value when it is set. Keys
// that name no field are dropped, as the JSON decoder drops them, once
// fitsAny says the reference would have written them.
func (d *decoder) fillFields(n *yaml.Node, ti *typeInfo, v reflect.Value, keep []string, top bool,
	value func(k string, n *yaml.Node, f *fieldInfo, v reflect.Value) bool) bool {
	if n.Kind != yaml.MappingNode {
		return d.fill(n, ti, v, false) // null, or false
	}
	if ti.kind != reflect.Struct || ti.stringOpt || !plainKeys(n) {
		return false
	}
	c := n.Content
	for i := 0; i+1 < len(c); i += 2 {
		k, val := c[i].Value, c[i+1]
		if keep != nil && !contains(keep, k) {
			continue
		}
		f, ok := ti.fields[k]
		if !ok {
			if !d.fitsAny(val) {
				return false
			}
			continue
		}
		fv, ok := field(v, f.index)
		if !ok {
			return false
		}
		var ok2 bool
		switch {
		case value != nil:
			ok2 = value(k, val, f, fv)
		case top && k == "metadata" && val.Kind == yaml.MappingNode:
			ok2 = d.fillMetadata(val, f.ti, fv)
		default:
			ok2 = d.fill(val, f.ti, fv, false)
		}
		if !ok2 {
			return false
		}
	}
	return true
}

// fillMetadata is fill for an object's metadata, managedFields left out.
func (d *decoder) fillMetadata(n *yaml.Node, ti *typeInfo, v reflect.Value) bool {
	if ti.kind != reflect.Struct || ti.stringOpt || !plainKeys(n) {
		return false
	}
	c := n.Content
	for i := 0; i+1 < len(c); i += 2 {
		k := c[i].Value
		if k == "managedFields" {
			continue
		}
		f, ok := ti.fields[k]
		if !ok {
			if !d.fitsAny(c[i+1]) {
				return false
			}
			continue
		}
		fv, ok := field(v, f.index)
		if !ok || !d.fill(c[i+1], f.ti, fv, false) {
			return false
		}
	}
	return true
}

// plainKeys reports whether mapping n has scalar keys, none repeated:
// what appendJSON accepts.
func plainKeys(n *yaml.Node) bool {
	c := n.Content
	for i := 0; i < len(c); i += 2 {
		if c[i].Kind != yaml.ScalarNode {
			return false
		}
	}
	return duplicateKey(n) == nil
}

// fillScalar is fill for a scalar node.
func (d *decoder) fillScalar(n *yaml.Node, ti *typeInfo, v reflect.Value) bool {
	if ti.unmarshaler {
		// The JSON decoder hands the type its own JSON, null included. A
		// new slice: an UnmarshalJSON may keep what it is given.
		u, ok := v.Addr().Interface().(json.Unmarshaler)
		return ok && u.UnmarshalJSON(appendScalar(nil, n)) == nil
	}
	k := jsonKind(n)
	if k == '0' {
		switch ti.kind {
		case reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
		return true // null leaves any other value alone
	}
	switch ti.kind {
	case reflect.Interface:
		return d.fillJSON(n, ti, v)
	case reflect.String:
		if k != 's' || !utf8.ValidString(n.Value) {
			return false
		}
		v.SetString(d.str(n.Value))
		return true
	case reflect.Bool:
		if k != 'b' {
			return false
		}
		v.SetBool(boolValue(n))
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if k != 'n' {
			return false
		}
		s, _ := number(n)
		return setNumber(v, s)
	}
	return false
}

// fillJSON decodes n into v, an interface value, through its JSON: what
// the JSON decoder makes of numbers in an interface{} is its business.
func (d *decoder) fillJSON(n *yaml.Node, ti *typeInfo, v reflect.Value) bool {
	if ti.typ.NumMethod() != 0 {
		return false
	}
	start := len(d.buf)
	defer func() { d.buf = d.buf[:start] }()
	if d.appendJSON(n, false) != nil {
		return false
	}
	return sigsjson.UnmarshalCaseSensitivePreserveInts(d.buf[start:], v.Addr().Interface()) == nil
}

// fillSlim is appendSlim's JSON decoded into obj (a new Pod when pod,
// else a new ReplicaSet), from the nodes: the same fields kept.
func (d *decoder) fillSlim(n *yaml.Node, obj any, pod bool) bool {
	v := reflect.ValueOf(obj).Elem()
	ti := typeInfoOf(v.Type())
	return d.fillFields(n, ti, v, nil, false, func(k string, n *yaml.Node, f *fieldInfo, v reflect.Value) bool {
		switch {
		case k == "metadata" && n.Kind == yaml.MappingNode:
			return d.fillMetadata(n, f.ti, v)
		case k == "spec" && n.Kind == yaml.MappingNode && pod:
			return d.fillPodSpec(n, f.ti, v)
		case k == "spec" && n.Kind == yaml.MappingNode:
			return d.fillFields(n, f.ti, v, nil, false, func(k string, n *yaml.Node, f *fieldInfo, v reflect.Value) bool {
				if k != "template" || n.Kind != yaml.MappingNode {
					return d.fill(n, f.ti, v, false)
				}
				return d.fillFields(n, f.ti, v, nil, false, func(k string, n *yaml.Node, f *fieldInfo, v reflect.Value) bool {
					if k == "spec" && n.Kind == yaml.MappingNode {
						return d.fillPodSpec(n, f.ti, v)
					}
					return d.fill(n, f.ti, v, false)
				})
			})
		case k == "status" && n.Kind == yaml.MappingNode && pod:
			return d.fillFields(n, f.ti, v, slimStatus, false, nil)
		}
		return d.fill(n, f.ti, v, false)
	})
}

// fillPodSpec is appendPodSpec's JSON decoded into pod spec v.
func (d *decoder) fillPodSpec(n *yaml.Node, ti *typeInfo, v reflect.Value) bool {
	return d.fillFields(n, ti, v, slimSpec, false, func(k string, n *yaml.Node, f *fieldInfo, v reflect.Value) bool {
		if (k != "containers" && k != "initContainers") || n.Kind != yaml.SequenceNode ||
			f.ti.kind != reflect.Slice {
			return d.fill(n, f.ti, v, false)
		}
		s := reflect.MakeSlice(f.ti.typ, len(n.Content), len(n.Content))
		for j, e := range n.Content {
			var ok bool
			if e.Kind == yaml.MappingNode {
				ok = d.fillFields(e, f.ti.elem, s.Index(j), slimContainer, false, nil)
			} else {
				ok = d.fill(e, f.ti.elem, s.Index(j), false)
			}
			if !ok {
				return false
			}
		}
		v.Set(s)
		return true
	})
}

// Strings.
//
// A cluster dump repeats the same short strings in every object: label
// keys and values, container and port names, protocols, images,
// namespaces. The decoded objects share one copy of each (per decoding
// goroutine) instead of a copy per use, which saves a good part of a large
// dump's memory; strings are immutable, so sharing is invisible. Long
// strings and the table's overflow are copied as before: the copy never
// pins the parser's buffer.

const (
	internMax     = 64      // longer strings are copied, not shared
	internEntries = 1 << 16 // strings shared per decoder, at most
)

// str returns s (a substring of the parser's buffer) as a string of its
// own, shared with earlier equal strings when short.
func (d *decoder) str(s string) string {
	if len(s) > internMax {
		return strings.Clone(s)
	}
	if c, ok := d.strs[s]; ok {
		return c
	}
	c := strings.Clone(s)
	if d.strs == nil {
		d.strs = make(map[string]string, 1024)
	}
	if len(d.strs) < internEntries {
		d.strs[c] = c
	}
	return c
}

// LastAppliedAnnotation is the annotation in which `kubectl apply` keeps
// the object as last applied, as JSON.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// dropLastApplied empties the value of obj's LastAppliedAnnotation,
// keeping the key: it is a copy of the object, as large as the rest of
// its metadata and spec together in a cluster dump, and nothing in Ward
// reads it (what the object declares is read from the object itself).
func dropLastApplied(obj any) {
	m := meta(obj)
	if m == nil {
		return
	}
	if a := m.GetAnnotations(); a[LastAppliedAnnotation] != "" {
		a[LastAppliedAnnotation] = ""
	}
}

// setNumber sets v, of a numeric kind, to the JSON number s as the JSON
// decoder would, or returns false where it would fail (a fraction for an
// integer, a value out of range).
func setNumber(v reflect.Value, s string) bool {
	bits := v.Type().Bits()
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return false
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return false
		}
		v.SetUint(x)
	default:
		x, err := strconv.ParseFloat(s, bits)
		if err != nil {
			return false
		}
		v.SetFloat(x)
	}
	return true
}
