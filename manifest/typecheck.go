package manifest

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/wardsec/ward/internal/secretscan"
)

// A typeMismatch is the first node whose JSON form does not fit the Go
// field it decodes into.
type typeMismatch struct {
	node *yaml.Node
	path string
	msg  string
}

// typeCheck finds the node that made decoding n into obj fail, so that the
// error points at its line. It walks the node tree alongside the Go type the
// way encoding/json matches them (case-sensitive json names, inlined
// embedded structs); types with their own UnmarshalJSON get the JSON of
// their node. It runs only after decoding failed.
func typeCheck(n *yaml.Node, obj any) *typeMismatch {
	var d decoder
	return d.check(n, reflect.TypeOf(obj).Elem(), "")
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func (d *decoder) check(n *yaml.Node, t reflect.Type, path string) *typeMismatch {
	if n.Kind == yaml.ScalarNode && jsonKind(n) == '0' {
		return nil // null leaves any field alone
	}
	mismatch := func(want string) *typeMismatch {
		got := describe(n)
		if n.Kind == yaml.ScalarNode && mayHoldSecret(path) {
			// The value may be a secret written unquoted (a numeric
			// password): never echo it.
			switch jsonKind(n) {
			case 'b':
				got = "a boolean (value withheld)"
			case 'n':
				got = "a number (value withheld)"
			default:
				got = "a string (value withheld)"
			}
		}
		return &typeMismatch{node: n, path: path, msg: "expected " + want + ", got " + got}
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		d.buf = d.buf[:0]
		if err := d.appendJSON(n, false); err != nil {
			return nil
		}
		v := reflect.New(t).Interface().(json.Unmarshaler)
		if err := v.UnmarshalJSON(d.buf); err != nil {
			return &typeMismatch{node: n, path: path, msg: strings.TrimPrefix(err.Error(), "json: ")}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return d.check(n, t.Elem(), path)
	case reflect.Interface:
		return nil
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return mismatch("an object")
		}
		fields := jsonFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok || path == "metadata" && key == "managedFields" {
				continue // dropped: unknown, as by the API server, or not decoded
			}
			if m := d.check(n.Content[i+1], ft, join(path, key)); m != nil {
				return m
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return mismatch("an object")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if m := d.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); m != nil {
				return m
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if n.Kind != yaml.ScalarNode || jsonKind(n) != 's' {
				return mismatch("a base64 string")
			}
			return nil
		}
		fallthrough
	case reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return mismatch("a list")
		}
		for i, e := range n.Content {
			if m := d.check(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); m != nil {
				return m
			}
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || jsonKind(n) != 's' {
			return mismatch("a string")
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || jsonKind(n) != 'b' {
			return mismatch("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || jsonKind(n) != 'n' {
			return mismatch("an integer")
		}
		s, _ := number(n)
		if _, err := strconv.ParseInt(s, 10, t.Bits()); err != nil {
			return &typeMismatch{node: n, path: path, msg: "integer " + s + " out of range for " + t.Kind().String()}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || jsonKind(n) != 'n' {
			return mismatch("an integer")
		}
		s, _ := number(n)
		if _, err := strconv.ParseUint(s, 10, t.Bits()); err != nil {
			return &typeMismatch{node: n, path: path, msg: "integer " + s + " out of range for " + t.Kind().String()}
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || jsonKind(n) != 'n' {
			return mismatch("a number")
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names what a node holds, for messages.
// mayHoldSecret reports whether a field path is one whose values may be
// secrets: ConfigMap data, environment values, or a field whose name
// suggests a secret.
func mayHoldSecret(path string) bool {
	last := path[strings.LastIndexAny(path, ".]")+1:]
	return strings.HasPrefix(path, "data.") || strings.HasPrefix(path, "binaryData.") || strings.HasPrefix(path, "stringData.") ||
		strings.Contains(path, ".env[") || secretscan.Name(last)
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	}
	switch jsonKind(n) {
	case 'b':
		if _, ok := yaml11Bool(n.Value); ok {
			return "boolean " + n.Value + " (YAML 1.1, as kubectl reads it: quote it for a string)"
		}
		return "boolean " + n.Value
	case 'n':
		return "number " + n.Value
	}
	return strconv.Quote(n.Value)
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the JSON names of a struct's fields to their types, with
// the fields of embedded structs without a name inlined, as encoding/json
// does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := make(map[string]reflect.Type)
	for name, index := range jsonFieldIndexes(t) {
		m[name] = t.FieldByIndex(index).Type
	}
	fieldCache.Store(t, m)
	return m
}
