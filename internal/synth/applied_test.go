package synth

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// docs parses every document of a generated cluster with yaml.v3.
func docs(t *testing.T, cfg Config) []map[string]any {
	t.Helper()
	c, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, f := range c.Files {
		d := yaml.NewDecoder(bytes.NewReader(f.Data))
		for {
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// subset reports whether every field of a is in b with the same value
// (lists item by item): a dumped object is what was applied plus defaults
// and status.
func subset(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return true // not applied (a Namespace's spec)
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range a {
			if !subset(v, bm[k]) {
				return false
			}
		}
		return true
	case []any:
		bl, ok := b.([]any)
		if !ok || len(bl) != len(a) {
			return false
		}
		for i := range a {
			if !subset(a[i], bl[i]) {
				return false
			}
		}
		return true
	case json.Number:
		return a.String() == jsonText(b)
	}
	return reflect.DeepEqual(a, b)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// hasFields reports whether every "f:" path of the field set s names a
// field of v, and every "k:" item an item of the list.
func hasFields(s map[string]any, v any) bool {
	for k, sub := range s {
		subm, _ := sub.(map[string]any)
		switch {
		case k == ".":
		case strings.HasPrefix(k, "f:"):
			m, ok := v.(map[string]any)
			if !ok {
				return false
			}
			x, ok := m[k[2:]]
			if !ok || !hasFields(subm, x) {
				return false
			}
		case strings.HasPrefix(k, "k:") || strings.HasPrefix(k, "v:"):
			if _, ok := v.([]any); !ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// TestRealisticDump checks the fields real dumps carry: applied objects
// hold their own apiVersion, kind, metadata and spec as JSON in
// last-applied-configuration, the dumped object extends it, every object
// has two managers whose field sets name its fields, and without them
// (Bare) the dump is the same objects.
func TestRealisticDump(t *testing.T) {
	cfg := Config{Seed: 4, Pods: 400, Policies: 150, Dump: true}
	real := docs(t, cfg)
	cfg.Bare = true
	bare := docs(t, cfg)
	if len(real) != len(bare) {
		t.Fatalf("%d objects, %d bare", len(real), len(bare))
	}
	applied := 0
	for i, obj := range real {
		md := obj["metadata"].(map[string]any)
		kind := obj["kind"].(string)
		ann, _ := md["annotations"].(map[string]any)
		last, ok := ann[lastApplied].(string)
		wantApplied := kind != "Pod" && kind != "ReplicaSet"
		if ok != wantApplied {
			t.Fatalf("object %d (%s %s): last-applied-configuration present %v, want %v", i, kind, md["name"], ok, wantApplied)
		}
		if ok {
			applied++
			if !strings.HasSuffix(last, "}\n") || strings.Count(last, "\n") != 1 {
				t.Fatalf("%s %s: last-applied-configuration %q is not one line of JSON", kind, md["name"], last)
			}
			d := json.NewDecoder(strings.NewReader(last))
			d.UseNumber()
			var a map[string]any
			if err := d.Decode(&a); err != nil {
				t.Fatalf("%s %s: %v", kind, md["name"], err)
			}
			for k := range a {
				if k != "apiVersion" && k != "kind" && k != "metadata" && k != "spec" {
					t.Errorf("%s %s: last-applied-configuration has %q", kind, md["name"], k)
				}
			}
			am := a["metadata"].(map[string]any)
			if am["name"] != md["name"] || am["namespace"] != md["namespace"] || !reflect.DeepEqual(am["labels"], md["labels"]) {
				t.Errorf("%s %s: applied metadata %v differs from the object's", kind, md["name"], am)
			}
			if a["apiVersion"] != obj["apiVersion"] || a["kind"] != kind || !subset(a["spec"], obj["spec"]) {
				t.Errorf("%s %s: the dumped object does not extend the applied one", kind, md["name"])
			}
		}
		mf, _ := md["managedFields"].([]any)
		if len(mf) != 2 {
			t.Fatalf("%s %s: %d managers, want 2", kind, md["name"], len(mf))
		}
		for _, e := range mf {
			e := e.(map[string]any)
			if e["fieldsType"] != "FieldsV1" || e["apiVersion"] != obj["apiVersion"] || e["manager"] == "" {
				t.Errorf("%s %s: managedFields entry %v", kind, md["name"], e)
			}
			if !hasFields(e["fieldsV1"].(map[string]any), obj) {
				t.Errorf("%s %s: manager %s names fields the object does not have", kind, md["name"], e["manager"])
			}
		}
		// Without the extras, the same object.
		delete(md, "managedFields")
		if ok {
			delete(ann, lastApplied)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
		if !reflect.DeepEqual(obj, bare[i]) {
			t.Fatalf("object %d (%s %s) differs from the bare dump's beyond the extras", i, kind, md["name"])
		}
	}
	if applied < len(real)/10 {
		t.Errorf("only %d of %d objects applied", applied, len(real))
	}
}
